//! Event-driven waits (issue 17): a 20-repo release DAG whose waits are woken by webhooks, over
//! the mock GitHub sending them to `orchestrator serve`'s own HTTP intake.
//!
//! In one process: the mock GitHub (simulated CI, webhooks on) posts to the service's router
//! (`orchestrator_serve::router`: signature check, classification, `wake_waits`) listening on
//! loopback, and the release runs through `GitHubForge` against the mock, as `serve`'s workers
//! do. The service's queue and workers are not involved: a release wait is woken by the intake
//! alone, and waits live in the process that runs the release, so this is the path a webhook
//! takes to a wait in a real replica. Polling stays as the fallback, [`STRETCH`] times slower.
//!
//! The time scale is forge_cost's: CI takes 60 base poll intervals (a 10-minute build at 10 s).
//! Measured:
//! - detection lag: from the moment the mock's CI made each release ready (its clock starts when
//!   it first sees the tag, [`MockGitHub::tag_seen_ms`], and the one asset settles `ci` later)
//!   to the end of its wait step in the journal; median of the 20 waits;
//! - makespan over the floor (the longest dependency chain times one CI duration);
//! - requests counted against the rate limit per repo, against seed 000's poller (a GET every
//!   base interval, no conditional requests) waiting through the same CI on the same mock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use orchestrator_core::config::Config;
use orchestrator_core::forge::CiSimulation;
use orchestrator_core::release::{ReleaseRequest, Releaser, set_poll_stretch};
use orchestrator_core::state::{JournalEntry, MemoryStateStore, RunStatus, StateStore};
use orchestrator_core::version::ReleaseVersion;
use orchestrator_git::GixVcs;
use orchestrator_git::sandbox::Sandbox;
use orchestrator_github::GitHubForge;
use orchestrator_github::mock::{MockGitHub, MockOptions, MockWebhook};
use orchestrator_serve::queue::InMemoryJobQueue;
use orchestrator_serve::{ServeState, WebhookSecret, router};

use crate::{Figure, Options};

/// How much slower the fallback polling is than the base interval (`serve --poll-stretch`).
const STRETCH: u32 = 60;

/// Levels of the DAG (its longest chain) and repos per level.
const LEVELS: usize = 4;
const WIDTH: usize = 5;

/// The webhook secret shared by the mock and the service (a benchmark, not a secret).
const SECRET: &str = "bench-webhook-secret";

/// The service's intake on a free loopback port; aborted on drop.
struct Service {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Service {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn service() -> anyhow::Result<Service> {
    let state = ServeState::new(
        Arc::new(InMemoryJobQueue::new()),
        WebhookSecret::new(SECRET)?,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/webhook", listener.local_addr()?);
    let app = router(Arc::new(state));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Service { url, task })
}

pub(crate) async fn run(options: Options) -> anyhow::Result<Vec<Figure>> {
    let poll = if options.quick {
        Duration::from_millis(10)
    } else {
        Duration::from_millis(200)
    };
    let ci = poll * 60;
    let dir = tempfile::tempdir()?;
    let sandbox = Sandbox::new(dir.path())?;
    // No confirming poll: the webhook-woken poll that sees every asset uploaded settles the wait
    // (`stable_polls = 0`; each later change to the release would be announced by a webhook).
    let mut text = format!(
        "[forge]\nowner = \"bench\"\n[release]\npoll_interval = \"{}ms\"\ntimeout = \"10m\"\nconcurrency = {}\nstable_polls = 0\n",
        poll.as_millis(),
        LEVELS * WIDTH
    );
    // Level l's repo i depends on level l-1's repos i and i+1: every chain is LEVELS long.
    let name = |level: usize, i: usize| format!("l{level}-r{i}");
    for level in 0..LEVELS {
        for i in 0..WIDTH {
            let repo = name(level, i);
            sandbox.create_repo(&repo, &[("README.md", &repo)])?;
            let deps = if level == 0 {
                String::new()
            } else {
                format!(
                    "{:?}, {:?}",
                    name(level - 1, i),
                    name(level - 1, (i + 1) % WIDTH)
                )
            };
            text.push_str(&format!(
                "[[repo]]\nname = \"{repo}\"\ndepends_on = [{deps}]\nassets = [\"{repo}-v{{version}}.tgz\"]\n"
            ));
        }
    }
    // The seed's repo: released the seed's way after ours, on the same mock.
    sandbox.create_repo("seed", &[("README.md", "seed")])?;
    let mut seed_text = text.clone();
    seed_text.push_str("[[repo]]\nname = \"seed\"\nassets = [\"seed-v{version}.tgz\"]\n");
    let file = dir.path().join("orchestrator.toml");
    std::fs::write(&file, &seed_text)?;
    let with_seed = Config::load(&file)?;
    std::fs::write(&file, &text)?;
    let config = Arc::new(Config::load(&file)?);
    // One asset: a draft after `delay`, its upload starts one interval later and settles one
    // interval after that, so CI takes `delay + 2 intervals` = `ci`.
    let interval = poll;
    let sim = CiSimulation::for_config(&with_seed, ci - interval * 2, interval, |repo| {
        Some(sandbox.repo(&repo.name).origin)
    });
    let service = service().await?;
    let mock = MockGitHub::start(
        MockOptions::default()
            .ci(sim)
            .webhook(MockWebhook::new(&service.url).secret(SECRET)),
    )
    .await?;
    let forge = GitHubForge::builder().api_url(mock.url()).build()?;
    let store = Arc::new(MemoryStateStore::default());
    let releaser = Releaser::new(
        Arc::clone(&config),
        Arc::new(forge),
        Arc::new(GixVcs::new()),
        store.clone(),
    );
    set_poll_stretch(STRETCH);
    let started = Instant::now();
    let report = releaser
        .run(&ReleaseRequest::new(ReleaseVersion::parse("1.0.0")?))
        .await;
    let makespan = started.elapsed().as_secs_f64();
    set_poll_stretch(1);
    let report = report?;
    anyhow::ensure!(
        report.status == RunStatus::Succeeded,
        "release failed: {report:?}"
    );

    // Detection lag: each wait's end against its release's ready moment on the mock's clock.
    let journal = store.journal(report.run_id).await?;
    let mut lags = Vec::new();
    for record in &journal {
        if let JournalEntry::StepSucceeded { step, .. } = &record.entry
            && let Some(repo) = step.strip_prefix("wait:")
        {
            let seen = mock
                .tag_seen_ms("bench", repo, "v1.0.0")
                .ok_or_else(|| anyhow::anyhow!("the mock never saw {repo}'s tag"))?;
            let ready_ms = seen as f64 + ci.as_secs_f64() * 1000.0;
            lags.push(record.at_ms as f64 - ready_ms);
            if std::env::var_os("BENCH_DEBUG").is_some() {
                let started = journal
                    .iter()
                    .find(|r| r.entry == JournalEntry::StepStarted { step: step.clone() })
                    .map_or(0, |r| r.at_ms);
                eprintln!(
                    "{step}: started {:+} ms after the tag was seen, ended {:+.0} ms after ready",
                    started - seen,
                    record.at_ms as f64 - ready_ms
                );
            }
        }
    }
    anyhow::ensure!(
        lags.len() == LEVELS * WIDTH,
        "{} waits in the journal",
        lags.len()
    );
    let waits = lags.len();
    let worst_lag = lags.iter().copied().fold(f64::MIN, f64::max);
    let median_lag = crate::median(&mut lags);

    // Seed 000's poller, same CI, same mock: tag and push by hand, then GET every interval.
    let seed_clone = sandbox.repo("seed").clone;
    orchestrator_git::sandbox::git(&seed_clone, &["tag", "-a", "v1.0.0", "-m", "v1.0.0"])?;
    orchestrator_git::sandbox::git(&seed_clone, &["push", "-q", "origin", "refs/tags/v1.0.0"])?;
    let url = mock.url().to_owned();
    tokio::task::spawn_blocking(move || {
        crate::forge_cost::seed_poller(&url, "bench/seed", "v1.0.0", poll, 1)
    })
    .await??;
    let stats = mock.stats();
    mock.shutdown().await;
    drop(service);

    let ours: Vec<u64> = (0..LEVELS)
        .flat_map(|l| (0..WIDTH).map(move |i| (l, i)))
        .map(|(l, i)| {
            stats
                .by_repo
                .get(&format!("bench/{}", name(l, i)))
                .map_or(0, |r| r.rate_limited)
        })
        .collect();
    let ours_per_repo = ours.iter().sum::<u64>() as f64 / ours.len() as f64;
    let seed = stats
        .by_repo
        .get("bench/seed")
        .map_or(0, |r| r.rate_limited) as f64;
    let ratio = seed / ours_per_repo.max(1.0);
    let floor = LEVELS as f64 * ci.as_secs_f64();
    let poll_ms = poll.as_secs_f64() * 1000.0;
    let lag_target = poll_ms * 0.05;
    Ok(vec![
        Figure::new(
            "serve",
            format!(
                "{} repos, chain {LEVELS}, CI {:.1}s, base poll {poll_ms:.0} ms, fallback x{STRETCH}",
                LEVELS * WIDTH,
                ci.as_secs_f64()
            ),
            makespan,
            "s",
        ),
        Figure::new(
            "serve",
            format!("detection lag, median of {waits} webhook-woken waits"),
            median_lag,
            "ms",
        )
        .target(
            format!("< {lag_target:.1} ms (5% of poll)"),
            median_lag < lag_target,
        ),
        Figure::new("serve", "detection lag, worst wait", worst_lag, "ms"),
        Figure::new(
            "serve",
            "makespan / floor (chain x CI)",
            makespan / floor,
            "x",
        )
        .target("<= 1.01", makespan / floor <= 1.01),
        Figure::new(
            "serve",
            "counted requests per repo (webhook-woken)",
            ours_per_repo,
            "req",
        ),
        Figure::new(
            "serve",
            "counted requests per repo (seed 000's poller)",
            seed,
            "req",
        ),
        Figure::new("serve", "counted requests, seed / ours", ratio, "x")
            .target(">= 30x", ratio >= 30.0),
        Figure::new(
            "serve",
            "webhooks delivered (failed)",
            stats.webhooks.delivered as f64,
            "",
        )
        .target("0 failed", stats.webhooks.failed == 0),
    ])
}
