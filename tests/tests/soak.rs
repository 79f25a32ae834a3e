//! Fault soak: 20 repos released through the real GitHub adapter against the mock server at a
//! 30% fault rate (502s and dropped connections) plus rate-limit bursts; and a slow GitHub, some
//! of whose answers come after the adapter's read timeout. Each release completes, the retries
//! show in the report, and no tag is made or pushed twice.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{CountingVcs, World, request};
use orchestrator_core::release::{Releaser, RepoOutcome};
use orchestrator_core::state::{MemoryStateStore, RunStatus};
use orchestrator_github::GitHubForge;
use orchestrator_github::mock::{MockGitHub, MockOptions};

/// `count` repo names: `prefix00`, `prefix01`...
fn names(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}{i:02}")).collect()
}

/// Each repo's dependencies: chains of four (every fourth repo starts a chain).
fn chains_of_four(names: &[String]) -> Vec<Vec<&str>> {
    (0..names.len())
        .map(|i| {
            if i % 4 == 0 {
                vec![]
            } else {
                vec![names[i - 1].as_str()]
            }
        })
        .collect()
}

/// (name, dependencies) pairs as `World` takes them.
fn specs<'a>(names: &'a [String], deps: &'a [Vec<&'a str>]) -> Vec<(&'a str, &'a [&'a str])> {
    names
        .iter()
        .zip(deps)
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_repos_complete_under_faults_and_rate_limits_without_duplicates() {
    // Five chains of four: 20 repos, 4 waves.
    let names = names("r", 20);
    let deps = chains_of_four(&names);
    let specs = specs(&names, &deps);
    let world = World::with_release_section(
        &specs,
        "poll_interval = \"20ms\"\ntimeout = \"60s\"\nstable_polls = 1\nconcurrency = 8\n",
    );
    let options = MockOptions::default()
        .origins(world.sandbox.root().join("origins"))
        .config((*world.config).clone())
        .ci_delay(Duration::from_millis(60))
        .asset_interval(Duration::from_millis(20))
        .fault_rate(0.3)
        .rate_limit(40, Duration::from_millis(500))
        .seed(7);
    let mock = MockGitHub::start(options).await.expect("mock starts");
    let forge = GitHubForge::builder()
        .api_url(mock.url())
        .retry_base_delay(Duration::from_millis(5))
        .build()
        .expect("forge");
    let vcs = Arc::new(CountingVcs::default());
    let releaser = Releaser::new(
        world.config.clone(),
        Arc::new(forge),
        vcs.clone(),
        Arc::new(MemoryStateStore::default()),
    );
    let report = releaser.run(&request("1.0.0")).await.expect("release runs");
    let stats = mock.stats();
    mock.shutdown().await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:#?}");
    assert!(
        report
            .repos
            .iter()
            .all(|r| r.outcome == RepoOutcome::Released)
    );
    for name in &names {
        assert_eq!(world.origin_tags(name).len(), 1, "{name}: exactly one tag");
    }
    assert_eq!(vcs.tag_count(), 20, "each tag created once");
    assert_eq!(vcs.push_count(), 20, "each tag pushed once");
    let retried = report.forge_requests.retries
        + report
            .repos
            .iter()
            .map(|r| u64::from(r.retries))
            .sum::<u64>();
    let injected = stats.faults.server_errors + stats.faults.connection_resets;
    assert!(
        injected > 0 && retried > 0,
        "faults were injected ({:?}) and retried ({retried})",
        stats.faults
    );
    println!(
        "soak: 20 repos released; {} requests, {injected} faults injected, {retried} retried, {} rate-limit rejections",
        stats.requests, stats.faults.rate_limit_rejections
    );
}

/// A slow GitHub: a fifth of the answers come 250ms late, past the adapter's 80ms read timeout,
/// so those requests time out and are retried (the server meanwhile served them: a late GET is
/// harmless, and the release flow makes no forge writes). Twelve repos in three chains.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_forge_past_the_read_timeout_still_completes_without_duplicates() {
    let names = names("s", 12);
    let deps = chains_of_four(&names);
    let specs = specs(&names, &deps);
    let world = World::with_release_section(
        &specs,
        "poll_interval = \"20ms\"\ntimeout = \"60s\"\nstable_polls = 1\nconcurrency = 6\n",
    );
    let options = MockOptions::default()
        .origins(world.sandbox.root().join("origins"))
        .config((*world.config).clone())
        .ci_delay(Duration::from_millis(60))
        .asset_interval(Duration::from_millis(20))
        .slow(0.2, Duration::from_millis(250))
        .seed(11);
    let mock = MockGitHub::start(options).await.expect("mock starts");
    let forge = GitHubForge::builder()
        .api_url(mock.url())
        .read_timeout(Duration::from_millis(80))
        .retry_base_delay(Duration::from_millis(5))
        .max_retries(8)
        .build()
        .expect("forge");
    let vcs = Arc::new(CountingVcs::default());
    let releaser = Releaser::new(
        world.config.clone(),
        Arc::new(forge),
        vcs.clone(),
        Arc::new(MemoryStateStore::default()),
    );
    let report = releaser.run(&request("1.0.0")).await.expect("release runs");
    let stats = mock.stats();
    mock.shutdown().await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:#?}");
    for name in &names {
        assert_eq!(world.origin_tags(name).len(), 1, "{name}: exactly one tag");
    }
    assert_eq!(vcs.tag_count(), 12, "each tag created once");
    assert_eq!(vcs.push_count(), 12, "each tag pushed once");
    let slow = stats.faults.slow_responses;
    let retried = report.forge_requests.retries;
    assert!(slow > 0, "some answers were slow: {:?}", stats.faults);
    assert!(
        retried >= slow,
        "every answer past the read timeout was retried ({retried} retries, {slow} slow)"
    );
    println!(
        "slow soak: 12 repos released; {} requests, {slow} answered 250ms late (past an 80ms read timeout), {retried} retried",
        stats.requests
    );
}
