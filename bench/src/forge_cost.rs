//! Forge cost: requests per released repo while waiting through a long CI run, against the mock
//! GitHub server, for `orchestrator release` (GitHubForge: conditional requests) and for a
//! fixed-interval unconditional poller like seed 000's, in the same run.
//!
//! A "10-minute wait" at a 10 s poll interval is 60 polls; the simulation keeps that ratio
//! (CI = 60 base intervals) at a much smaller scale.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use orchestrator_core::config::Config;
use orchestrator_core::release::{ReleaseRequest, Releaser};
use orchestrator_core::state::MemoryStateStore;
use orchestrator_core::version::ReleaseVersion;
use orchestrator_git::GixVcs;
use orchestrator_git::sandbox::Sandbox;
use orchestrator_github::GitHubForge;
use orchestrator_github::mock::{MockGitHub, MockOptions};

use crate::{Figure, Options};

/// Seed 000's poller: GET the release by tag every `interval`, no `If-None-Match`, until the
/// asset name→size map is unchanged between two polls.
pub(crate) fn seed_poller(
    base: &str,
    repo: &str,
    tag: &str,
    interval: Duration,
    assets: usize,
) -> anyhow::Result<u64> {
    let host = base.trim_start_matches("http://");
    let mut previous: Option<Vec<(String, u64)>> = None;
    let mut polls = 0;
    loop {
        polls += 1;
        let mut stream = TcpStream::connect(host)?;
        write!(
            stream,
            "GET /repos/{repo}/releases/tags/{tag} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: seed\r\nConnection: close\r\n\r\n"
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let status = response.split_whitespace().nth(1).unwrap_or("0").to_owned();
        if status == "200" {
            let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
            let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            let mut current: Vec<(String, u64)> = json["assets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["size"].as_u64().unwrap_or(0) > 0)
                .map(|a| {
                    (
                        a["name"].as_str().unwrap_or("").to_owned(),
                        a["size"].as_u64().unwrap_or(0),
                    )
                })
                .collect();
            current.sort();
            if current.len() >= assets && previous.as_ref() == Some(&current) {
                return Ok(polls);
            }
            previous = Some(current);
        }
        std::thread::sleep(interval);
    }
}

pub(crate) async fn run(options: Options) -> anyhow::Result<Vec<Figure>> {
    let poll = if options.quick {
        Duration::from_millis(10)
    } else {
        Duration::from_millis(25)
    };
    let ci = poll * 60;
    let dir = tempfile::tempdir()?;
    let sandbox = Sandbox::new(dir.path())?;
    let mut text = format!(
        "[forge]\nowner = \"bench\"\n[release]\npoll_interval = \"{}ms\"\ntimeout = \"5m\"\n",
        poll.as_millis()
    );
    for name in ["ours", "seed"] {
        sandbox.create_repo(name, &[("README.md", name)])?;
        text.push_str(&format!("[[repo]]\nname = \"{name}\"\nassets = [\"{name}-v{{version}}.tgz\", \"{name}-v{{version}}.sha256\"]\n"));
    }
    let file = dir.path().join("orchestrator.toml");
    std::fs::write(&file, &text)?;
    let config = Config::load(&file)?;
    // Two assets, each uploading for one base interval (a 10 s upload at the end of a 10-minute
    // build): CI = delay + 3 intervals (draft, two uploads).
    let interval = poll;
    let mock = MockGitHub::start(
        MockOptions::default()
            .origins(sandbox.root().join("origins"))
            .config(config.clone())
            .ci_delay(ci - interval * 3)
            .asset_interval(interval),
    )
    .await?;
    let forge = GitHubForge::builder().api_url(mock.url()).build()?;
    let mut only_ours = ReleaseRequest::new(ReleaseVersion::parse("1.0.0")?);
    only_ours.only = vec!["ours".into()];
    let releaser = Releaser::new(
        Arc::new(config.clone()),
        Arc::new(forge),
        Arc::new(GixVcs::new()),
        Arc::new(MemoryStateStore::default()),
    );
    let started = Instant::now();
    let report = releaser.run(&only_ours).await?;
    anyhow::ensure!(
        report
            .repos
            .iter()
            .all(|r| r.outcome.as_str() == "released"),
        "release failed"
    );
    let ours_secs = started.elapsed().as_secs_f64();
    // The seed's way, same CI, same server: tag and push by hand, then poll.
    let seed_clone = sandbox.repo("seed").clone;
    orchestrator_git::sandbox::git(&seed_clone, &["tag", "-a", "v1.0.0", "-m", "v1.0.0"])?;
    orchestrator_git::sandbox::git(&seed_clone, &["push", "-q", "origin", "refs/tags/v1.0.0"])?;
    let url = mock.url().to_owned();
    let seed_polls =
        tokio::task::spawn_blocking(move || seed_poller(&url, "bench/seed", "v1.0.0", poll, 2))
            .await??;
    let stats = mock.stats();
    mock.shutdown().await;
    let ours = stats.by_repo.get("bench/ours").cloned().unwrap_or_default();
    let seed = stats.by_repo.get("bench/seed").cloned().unwrap_or_default();
    let ratio = seed.rate_limited as f64 / ours.rate_limited.max(1) as f64;
    Ok(vec![
        Figure::new(
            "cost",
            format!("release: requests in a 60-interval wait ({ours_secs:.1}s)"),
            ours.requests as f64,
            "req",
        ),
        Figure::new(
            "cost",
            "release: counted against the rate limit",
            ours.rate_limited as f64,
            "req",
        ),
        Figure::new(
            "cost",
            "release: answered 304 (free)",
            ours.not_modified as f64,
            "req",
        ),
        Figure::new(
            "cost",
            format!("seed poller: requests ({seed_polls} polls)"),
            seed.requests as f64,
            "req",
        ),
        Figure::new(
            "cost",
            "seed poller: counted against the rate limit",
            seed.rate_limited as f64,
            "req",
        ),
        Figure::new("cost", "rate-limited requests, seed / release", ratio, "x")
            .target(">= 10x", ratio >= 10.0),
    ])
}
