//! Embeds a versioned publish and the status monitor: what a release bot built on the library
//! does, without the CLI.
//!
//! Two npm packages in real git repos with bare origins (`@acme/core`; `@acme/app`, which depends
//! on it) are published with a minor bump: the planner computes the versions and waves, the
//! `Publisher` rewrites `package.json` (the dependent's requirement too), commits, tags, pushes,
//! waits for the release the in-memory forge's simulated CI builds, writes release notes, and
//! records the set in `versions.toml`. Then the monitor compares the forge with that manifest and
//! keeps its table in a tracking issue, leaving the issue's own text alone. No network, no token.
//!
//! ```text
//! cargo run -p orchestrator-examples --example publish_and_monitor
//! ```

use std::sync::Arc;
use std::time::Duration;

use orchestrator_core::config::Config;
use orchestrator_core::forge::{CiSimulation, Forge, InMemoryForge, RepoId};
use orchestrator_core::publish::{self, BumpRequest, PackageOutcome, PublishRequest, Publisher};
use orchestrator_core::state::{MemoryStateStore, now_ms};
use orchestrator_git::GixVcs;
use orchestrator_git::sandbox::{Sandbox, git};

const CONFIG: &str = r#"
[forge]
owner = "acme"

[release]
poll_interval = "20ms"
timeout = "30s"

[[repo]]
name = "core"
manifest = "package.json"
assets = ["core-{version}.tgz"]

[[repo]]
name = "app"
depends_on = ["core"]
manifest = "package.json"
assets = ["app-{version}.tgz"]
"#;

fn package_json(name: &str, deps: &[&str]) -> String {
    let deps: Vec<String> = deps
        .iter()
        .map(|d| format!("    \"@acme/{d}\": \"^1.0.0\""))
        .collect();
    format!(
        "{{\n  \"name\": \"@acme/{name}\",\n  \"version\": \"1.0.0\",\n  \"dependencies\": {{\n{}\n  }}\n}}\n",
        deps.join(",\n")
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let root = dir.path();

    // 1. Two clones with bare origins, each at a tagged 1.0.0.
    let sandbox = Sandbox::new(root)?;
    for (name, deps) in [("core", &[][..]), ("app", &["core"][..])] {
        sandbox.create_repo(name, &[("package.json", &package_json(name, deps))])?;
        git(&root.join(name), &["tag", "-a", "v1.0.0", "-m", "v1.0.0"])?;
    }
    std::fs::write(root.join("orchestrator.toml"), CONFIG)?;
    let config = Arc::new(Config::load(&root.join("orchestrator.toml"))?);

    // 2. A forge whose CI builds each pushed tag from the bare origins.
    let ci = CiSimulation::for_config(
        &config,
        Duration::from_millis(50),
        Duration::from_millis(20),
        |repo| Some(sandbox.repo(&repo.name).origin),
    );
    let forge = InMemoryForge::with_ci(ci);

    // 3. Plan: versions, reasons and waves, from the clones alone (read-only).
    let vcs = GixVcs::new();
    let observed = publish::observe(&config, &vcs, true).await?;
    let plan = publish::plan_publish(&config, &PublishRequest::new(BumpRequest::Minor), &observed)?;
    for p in &plan.packages {
        println!(
            "plan: {} {} -> {} ({})",
            p.name, p.current, p.next, p.reason
        );
    }

    // 4. Publish for real, journaled (a `SqliteStateStore` would make it resumable across
    //    processes).
    let publisher = Publisher::new(
        config.clone(),
        Arc::new(forge.clone()),
        Arc::new(GixVcs::new()),
        Arc::new(MemoryStateStore::default()),
    );
    let report = publisher.execute(&plan).await?;
    for p in &report.packages {
        println!("published: {} {} {}", p.name, p.tag, p.outcome.as_str());
    }
    anyhow::ensure!(
        report.with_outcome(PackageOutcome::Released).len() == 2,
        "both packages are released: {report:?}"
    );
    let app = std::fs::read_to_string(root.join("app/package.json"))?;
    anyhow::ensure!(app.contains("\"@acme/core\": \"^1.1.0\""), "{app}");

    // 5. The monitor: the forge against versions.toml, kept in a tracking issue's body.
    let expected =
        publish::read_coordination(&std::fs::read_to_string(&config.publish.coordination)?)?;
    let rows = publish::status_rows(&config, Arc::new(forge.clone()), &expected, now_ms()).await?;
    let tracker = RepoId::new("acme", "releases");
    let issue = forge
        .create_issue(
            &tracker,
            "Ecosystem status",
            "Kept up to date by the release bot.\n",
        )
        .await?;
    let table = publish::status_markdown(&rows);
    if let Some(body) = publish::issue_body_with_status(&issue.body, &table, "now") {
        forge
            .update_issue_body(&tracker, issue.number, &body)
            .await?;
    }
    let body = forge.issue(&tracker, issue.number).await?.body;
    println!("\n{body}");
    anyhow::ensure!(rows.iter().all(|r| r.drift.is_none()), "no drift: {rows:?}");
    anyhow::ensure!(body.starts_with("Kept up to date by the release bot."));
    Ok(())
}
