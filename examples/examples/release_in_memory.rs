//! Embeds a whole release: real git repos, the in-memory forge, one `Releaser::run` call.
//!
//! Three clones with bare origins are built in a temporary directory (`proto`; `server` after
//! `proto`; `installer` after both). An `InMemoryForge` with simulated CI watches each bare
//! origin, so when the releaser pushes `v1.4.0` a release appears there a moment later and its
//! assets upload one by one. The releaser tags, pushes and waits for the assets of each repo in
//! dependency order: a `ReleaseRequest` goes in, a `ReleaseReport` comes out. No network, no
//! token; it takes about a second.
//!
//! ```text
//! cargo run -p orchestrator-examples --example release_in_memory
//! ```

use std::sync::Arc;
use std::time::Duration;

use orchestrator_core::config::Config;
use orchestrator_core::forge::{CiSimulation, InMemoryForge};
use orchestrator_core::release::{ReleaseRequest, Releaser, RepoOutcome};
use orchestrator_core::state::MemoryStateStore;
use orchestrator_core::version::ReleaseVersion;
use orchestrator_git::GixVcs;
use orchestrator_git::sandbox::Sandbox;

/// The config, as a user would write `orchestrator.toml` (paths default to `<dir>/<name>`).
const CONFIG: &str = r#"
[forge]
owner = "acme"

[release]
tag = "v{version}"
poll_interval = "50ms"
timeout = "30s"

[[repo]]
name = "proto"
assets = ["proto-v{version}.tar.gz"]

[[repo]]
name = "server"
depends_on = ["proto"]
assets = ["server-v{version}-x86_64-linux.tar.gz", "server-v{version}-x86_64-linux.sha256"]

[[repo]]
name = "installer"
depends_on = ["proto", "server"]
assets = ["installer-v{version}.iso"]
"#;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let root = dir.path();

    // 1. The config, parsed as if read from `<root>/orchestrator.toml`.
    let config = Config::parse(CONFIG, &root.join("orchestrator.toml"))?;

    // 2. Real git where the config expects each clone: a clone on `main` and its bare origin.
    let sandbox = Sandbox::new(root)?;
    for repo in &config.repos {
        let readme = format!("# {}\n", repo.name);
        let created = sandbox.create_repo(&repo.name, &[("README.md", readme.as_str())])?;
        anyhow::ensure!(
            created.clone == repo.path,
            "sandbox and config disagree on paths"
        );
        eprintln!("created {}: clone + bare origin", repo.name);
    }

    // 3. A forge whose simulated CI publishes the assets of every tag pushed to a watched origin.
    let forge = simulated_forge(&config, &sandbox);

    // 4. Request in, report out.
    let releaser = Releaser::new(
        Arc::new(config),
        Arc::new(forge),
        Arc::new(GixVcs::new()),
        Arc::new(MemoryStateStore::default()),
    );
    let request = ReleaseRequest::new(ReleaseVersion::parse("1.4.0")?);
    eprintln!("releasing {} ...", request.version);
    let report = releaser.run(&request).await?;

    println!(
        "release {} (run {}): {} in {:.2}s, {} forge requests",
        report.tag,
        report.run_id,
        report.status.as_str(),
        report.elapsed_secs,
        report.forge_requests.requests,
    );
    for repo in &report.repos {
        println!(
            "  {:<10} {:<9} commit {} waited {:.2}s over {} polls",
            repo.name,
            repo.outcome,
            &repo.commit[..repo.commit.len().min(7)],
            repo.waited_secs,
            repo.polls,
        );
        for (asset, size) in &repo.assets {
            println!("      {asset} ({size} bytes)");
        }
        if let Some(error) = &repo.error {
            println!("      error: {error}");
        }
    }
    anyhow::ensure!(
        report
            .repos
            .iter()
            .all(|r| r.outcome == RepoOutcome::Released),
        "not every repo was released"
    );
    Ok(())
}

/// An in-memory forge with CI for every configured repo, watching the repo's bare origin.
fn simulated_forge(config: &Config, sandbox: &Sandbox) -> InMemoryForge {
    let ci = CiSimulation::for_config(
        config,
        Duration::from_millis(100),
        Duration::from_millis(50),
        |repo| Some(sandbox.repo(&repo.name).origin),
    );
    InMemoryForge::with_ci(ci)
}
