//! Tests a release config against the mock GitHub server, as a user would from their own
//! integration tests: no github.com, no token, the real GitHub adapter over HTTP.
//!
//! Two clones with bare origins are built in a temporary directory. The mock server starts on a
//! loopback port, watching those origins: when the releaser pushes `v2.1.0`, the mock's simulated
//! CI publishes a release with the config's assets a moment later. `GitHubForge` polls it with
//! conditional requests, so once the assets stop changing the polls are answered `304 Not
//! Modified`; the mock's stats (also at `GET /_mock/stats`) show it. Starting the mock is three
//! lines (marked below). Takes about three seconds.
//!
//! ```text
//! cargo run -p orchestrator-examples --example mock_github
//! ```

use std::sync::Arc;

use orchestrator_core::config::Config;
use orchestrator_core::release::{ReleaseRequest, Releaser};
use orchestrator_core::state::{MemoryStateStore, RunStatus};
use orchestrator_core::version::ReleaseVersion;
use orchestrator_git::GixVcs;
use orchestrator_git::sandbox::Sandbox;
use orchestrator_github::GitHubForge;
use orchestrator_github::mock::{MockGitHub, MockOptions};

/// The release config under test, as it would sit in `orchestrator.toml`.
const CONFIG: &str = r#"
[forge]
owner = "acme"

[release]
poll_interval = "100ms"
timeout = "30s"
stable_polls = 3

[[repo]]
name = "engine"
assets = ["engine-v{version}-x86_64-linux.tar.gz", "engine-*.sha256"]

[[repo]]
name = "cli"
depends_on = ["engine"]
assets = ["cli-v{version}.tar.gz"]
"#;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let sandbox = Sandbox::new(dir.path())?;
    for name in ["engine", "cli"] {
        sandbox.create_repo(name, &[("README.md", name)])?;
    }
    let config_file = dir.path().join("orchestrator.toml");
    std::fs::write(&config_file, CONFIG)?;
    let config = Config::load(&config_file)?;

    // The three lines: start the mock on its origins, point the GitHub adapter at it.
    let options = MockOptions::default().origins(sandbox.root().join("origins"));
    let mock = MockGitHub::start(options.config(config.clone())).await?;
    let forge = GitHubForge::builder().api_url(mock.url()).build()?;

    println!("mock GitHub at {}", mock.url());
    let releaser = Releaser::new(
        Arc::new(config),
        Arc::new(forge),
        Arc::new(GixVcs::new()),
        Arc::new(MemoryStateStore::default()),
    );
    let report = releaser
        .run(&ReleaseRequest::new(ReleaseVersion::parse("2.1.0")?))
        .await?;
    for repo in &report.repos {
        println!(
            "{:<7} {}  {:?}",
            repo.name,
            repo.outcome,
            repo.assets.keys().collect::<Vec<_>>()
        );
    }
    let stats = mock.stats();
    println!(
        "mock: {} request(s), {} answered 304 Not Modified ({:.0}% of release polls)",
        stats.requests,
        stats.not_modified,
        100.0 * stats.not_modified_share()
    );
    mock.shutdown().await;
    anyhow::ensure!(
        report.status == RunStatus::Succeeded,
        "release {}",
        report.status
    );
    Ok(())
}
