//! Embeds a versioned publish and the status monitor: what a release bot built on the library
//! does, without the CLI.
//!
//! Two npm packages in real git repos with bare origins (`@acme/core`; `@acme/app`, which depends
//! on it) are published with a minor bump through a `Workspace` (the lock, the journal, the
//! credential check, as the CLI has them): `PublishWorkflow::preview` is the dry run, and
//! `Workspace::run` rewrites `package.json` (the dependent's requirement too), commits, tags,
//! pushes, waits for the release the in-memory forge's simulated CI builds, writes release notes,
//! and records the set in `versions.toml`. Then the monitor compares the forge with that manifest
//! and keeps its table in a tracking issue, leaving the issue's own text alone. No network, no
//! token.
//!
//! ```text
//! cargo run -p orchestrator-examples --example publish_and_monitor
//! ```

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use orchestrator_core::config::Config;
use orchestrator_core::forge::{CiSimulation, InMemoryForge, IssueForge, RepoId};
use orchestrator_core::publish::{
    self, BumpRequest, PackageOutcome, PublishRequest, PublishWorkflow,
};
use orchestrator_core::state::now_ms;
use orchestrator_core::workspace::{Outcome, Workspace};
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

    // 3. The session: the workspace lock, the journal (SQLite in the state directory), the
    //    credential check and cancellation, as the CLI has them.
    let workspace = Workspace::builder((*config).clone())
        .state_dir(root.join(".orchestrator"))?
        .vcs(Arc::new(GixVcs::new()))
        .forge(Arc::new(forge.clone()))
        .build();
    let mut request = PublishRequest::new(BumpRequest::Minor);
    request.resume = true; // a crashed earlier attempt would be continued, not refused
    let workflow = PublishWorkflow {
        request: Some(request),
    };

    // 4. The dry run: versions, reasons and waves after the same preflight a run makes.
    let preview = workflow.preview(&workspace).await?;
    for p in &preview.run.plan.packages {
        println!(
            "plan: {} {} -> {} ({})",
            p.name, p.current, p.next, p.reason
        );
    }

    // 5. Publish for real: locked, checked, journaled.
    let finished = workspace.run(&workflow).await?;
    let report = finished.report.context("something to publish")?;
    for p in &report.packages {
        println!("published: {} {} {}", p.name, p.tag, p.outcome.as_str());
    }
    anyhow::ensure!(
        finished.outcome == Outcome::Succeeded
            && report.with_outcome(PackageOutcome::Released).len() == 2,
        "both packages are released: {report:?}"
    );
    let app = std::fs::read_to_string(root.join("app/package.json"))?;
    anyhow::ensure!(app.contains("\"@acme/core\": \"^1.1.0\""), "{app}");

    // 6. The monitor: the forge against versions.toml, kept in a tracking issue's body (a read-only
    //    report with one idempotent edit: no lock, so it keeps reporting during a release).
    let status = publish::status_report(&config, Arc::new(forge.clone()), now_ms()).await?;
    let tracker = RepoId::new("acme", "releases");
    let issue = forge
        .create_issue(
            &tracker,
            "Ecosystem status",
            "Kept up to date by the release bot.\n",
        )
        .await?;
    publish::update_status_issue(&forge, &tracker, issue.number, &status).await?;
    let body = forge.issue(&tracker, issue.number).await?.body;
    println!("\n{body}");
    anyhow::ensure!(status.drifted().is_empty(), "no drift: {:?}", status.rows);
    anyhow::ensure!(body.starts_with("Kept up to date by the release bot."));
    Ok(())
}
