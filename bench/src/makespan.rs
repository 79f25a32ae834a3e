//! Makespan against the floor, and detection lag, on the seeds' own repo sets.
//!
//! The floor of a release is the longest dependency chain times one CI duration. Each workload
//! runs twice in the same process: as `orchestrator release` does (independent repos at once) and
//! one repo at a time (what seeds 000 and 002 do). Real git repos with bare origins, released
//! through `GitHubForge` over HTTP against the mock GitHub server, whose simulated CI takes exactly
//! `ci` from the tag's arrival to settled assets.
//!
//! Detection lag is measured on the in-memory forge instead: its CI clock starts at the wait's
//! first poll, a known instant, while the mock's watcher may see a tag while `git push` is still
//! returning, which would hide a few milliseconds of lag.

use std::sync::Arc;
use std::time::{Duration, Instant};

use orchestrator_core::config::Config;
use orchestrator_core::forge::{CiBehaviour, CiSimulation, Forge, InMemoryForge};
use orchestrator_core::release::{ReleaseRequest, Releaser};
use orchestrator_core::seeds::{SEED_000, SEED_002};
use orchestrator_core::state::{JournalEntry, MemoryStateStore, RunStatus, StateStore};
use orchestrator_core::version::ReleaseVersion;
use orchestrator_git::GixVcs;
use orchestrator_git::sandbox::Sandbox;
use orchestrator_github::GitHubForge;
use orchestrator_github::mock::{MockGitHub, MockOptions};

use crate::{Figure, Options};

struct Outcome {
    makespan: f64,
    lags: Vec<f64>,
}

async fn release(
    set: &[(&str, &[&str])],
    ci: Duration,
    poll: Duration,
    concurrency: usize,
    jitter: bool,
) -> anyhow::Result<Outcome> {
    let dir = tempfile::tempdir()?;
    let sandbox = Sandbox::new(dir.path())?;
    let mut text = format!(
        "[forge]\nowner = \"bench\"\n[release]\npoll_interval = \"{}ms\"\ntimeout = \"10m\"\nconcurrency = {concurrency}\n",
        poll.as_millis()
    );
    for (name, deps) in set {
        sandbox.create_repo(name, &[("README.md", name)])?;
        let deps: Vec<String> = deps.iter().map(|d| format!("{d:?}")).collect();
        text.push_str(&format!("[[repo]]\nname = \"{name}\"\ndepends_on = [{}]\nassets = [\"{name}-v{{version}}.tgz\"]\n", deps.join(", ")));
    }
    let file = dir.path().join("orchestrator.toml");
    std::fs::write(&file, text)?;
    let config = Arc::new(Config::load(&file)?);
    // One asset: the simulated CI shows a draft after `delay`, starts the upload one interval later
    // and settles it one interval after that, so `ci` = delay + 2 intervals.
    let interval = ci / 10;
    let mut sim = CiSimulation::for_config(&config, ci - interval * 2, interval, |repo| {
        Some(sandbox.repo(&repo.name).origin)
    });
    // With jitter, repo i's CI takes `extra(i)` longer, spread over one poll interval, so the
    // moments assets settle fall at every phase of the polling, as real CI's do.
    let extra = |i: usize| poll.mul_f64((i as f64 * 0.618_034).fract());
    if jitter {
        for (i, repo) in config.repos.iter().enumerate() {
            if let Some(ci_repo) = sim.repos.get_mut(&repo.github) {
                ci_repo.behaviour = CiBehaviour::Slow(extra(i));
            }
        }
    }
    let ci_of: std::collections::HashMap<String, Duration> = config
        .repos
        .iter()
        .enumerate()
        .map(|(i, r)| {
            (
                format!("wait:{}", r.name),
                if jitter { ci + extra(i) } else { ci },
            )
        })
        .collect();
    let config_order: Vec<String> = config.graph.waves(None).into_iter().flatten().collect();
    let (forge, mock): (Arc<dyn Forge>, _) = if jitter {
        (Arc::new(InMemoryForge::with_ci(sim)), None)
    } else {
        let mock = MockGitHub::start(MockOptions::default().ci(sim)).await?;
        let forge = GitHubForge::builder().api_url(mock.url()).build()?;
        (Arc::new(forge), Some(mock))
    };
    let store = Arc::new(MemoryStateStore::default());
    let releaser = Releaser::new(config, forge, Arc::new(GixVcs::new()), store.clone());
    let request = ReleaseRequest::new(ReleaseVersion::parse("1.0.0")?);
    let started = Instant::now();
    if concurrency == 1 {
        // The seeds' loop: tag, push and wait for one repo, then the next, in dependency order.
        // (One run with concurrency 1 would still push the next tag while waiting, and the mock's
        // CI would start on it early.)
        for name in config_order.iter() {
            let report = releaser
                .run(&ReleaseRequest {
                    only: vec![name.clone()],
                    ..request.clone()
                })
                .await?;
            anyhow::ensure!(
                report.status == RunStatus::Succeeded,
                "release of {name} failed: {report:?}"
            );
        }
        let makespan = started.elapsed().as_secs_f64();
        if let Some(mock) = mock {
            mock.shutdown().await;
        }
        return Ok(Outcome {
            makespan,
            lags: Vec::new(),
        });
    }
    let report = releaser.run(&request).await?;
    let makespan = started.elapsed().as_secs_f64();
    if let Some(mock) = mock {
        mock.shutdown().await;
    }
    anyhow::ensure!(
        report.status == RunStatus::Succeeded,
        "release failed: {report:?}"
    );
    // Detection lag: a wait step ends `lag` after CI settled, which is `ci` after the wait began
    // (the simulated CI starts its clock when it first sees the tag, at the wait's first poll).
    let journal = store.journal(report.run_id).await?;
    let mut lags = Vec::new();
    for record in &journal {
        if let JournalEntry::StepSucceeded { step, .. } = &record.entry
            && step.starts_with("wait:")
            && let Some(start) = journal
                .iter()
                .find(|r| r.entry == JournalEntry::StepStarted { step: step.clone() })
        {
            let settle = ci_of.get(step).copied().unwrap_or(ci);
            lags.push((record.at_ms - start.at_ms) as f64 / 1000.0 - settle.as_secs_f64());
            if std::env::var_os("BENCH_DEBUG").is_some() {
                eprintln!("{step}: {:?}", record.entry);
            }
        }
    }
    Ok(Outcome { makespan, lags })
}

pub(crate) async fn run(options: Options) -> anyhow::Result<Vec<Figure>> {
    let ci = if options.quick {
        Duration::from_millis(300)
    } else {
        Duration::from_secs(2)
    };
    let poll = ci / 50;
    let mut figures = Vec::new();
    let mut all_lags = Vec::new();
    for (label, set, chain, target_speedup) in [
        ("seed-000", SEED_000, 2.0, 2.0),
        ("seed-002", SEED_002, 10.0, 1.6),
    ] {
        let ours = release(set, ci, poll, set.len(), false).await?;
        let one_by_one = release(set, ci, poll, 1, false).await?;
        let floor = chain * ci.as_secs_f64();
        let ratio = ours.makespan / floor;
        let speedup = one_by_one.makespan / ours.makespan;
        figures.push(Figure::new(
            "makespan",
            format!(
                "{label}: {} repos, chain {chain}, CI {:.1}s",
                set.len(),
                ci.as_secs_f64()
            ),
            ours.makespan,
            "s",
        ));
        figures.push(Figure::new(
            "makespan",
            format!("{label}: floor (chain x CI)"),
            floor,
            "s",
        ));
        figures.push(
            Figure::new("makespan", format!("{label}: makespan / floor"), ratio, "x")
                .target("<= 1.05", ratio <= 1.05),
        );
        figures.push(Figure::new(
            "makespan",
            format!("{label}: one repo at a time (the seed)"),
            one_by_one.makespan,
            "s",
        ));
        figures.push(
            Figure::new(
                "makespan",
                format!("{label}: speed-up over one at a time"),
                speedup,
                "x",
            )
            .target(
                format!("~{target_speedup}x"),
                speedup >= target_speedup * 0.95,
            ),
        );
    }
    // Detection lag on 20 independent repos whose CI durations are spread over one poll
    // interval (in the makespan runs above, every CI starts at a poll, which locks the phase).
    let names: Vec<String> = (0..20).map(|i| format!("lag-{i:02}")).collect();
    let independent: Vec<(&str, &[&str])> = names.iter().map(|n| (n.as_str(), &[][..])).collect();
    all_lags.extend(release(&independent, ci, poll, 20, true).await?.lags);
    let n = all_lags.len();
    let median_lag = crate::median(&mut all_lags) * 1000.0;
    let poll_ms = poll.as_secs_f64() * 1000.0;
    figures.push(
        Figure::new(
            "lag",
            format!("detection lag, median of {n} waits (base poll {poll_ms:.0} ms)"),
            median_lag,
            "ms",
        )
        .target(format!("< {poll_ms:.0} ms"), median_lag < poll_ms),
    );
    Ok(figures)
}
