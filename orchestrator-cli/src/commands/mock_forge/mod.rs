//! `orchestrator mock-forge`: the mock GitHub server as a process, for users' integration tests
//! and rehearsals against `--forge-url`.
//!
//! The first line on stdout is `listening on http://HOST:PORT`, or with `--output json` the
//! object `{"listening_on": URL}` (flushed at once, so a parent process can read the URL);
//! everything else goes to stderr. Like every command it reads `--config` or the discovered
//! `orchestrator.toml`, and says on start when there is none. It serves until SIGTERM or Ctrl-C,
//! then stops gracefully and exits 0.

mod args;
mod options;

pub(crate) use args::MockForgeArgs;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use orchestrator_github::mock::MockGitHub;

use crate::args::{Global, OutputFormat};
use crate::wiring;

pub(crate) async fn run(global: &Global, args: MockForgeArgs) -> anyhow::Result<ExitCode> {
    let signals = orchestrator_core::workspace::signals::StopSignals::register();
    // Found as every other command finds it: without it, pushed tags become releases with no
    // assets (the simulated CI does not know what each repo builds), so say so on start.
    let config = wiring::load_optional_config(global)?;
    if config.is_none() {
        eprintln!(
            "mock-forge: no orchestrator.toml here or above (and no --config): the simulated CI \
             publishes releases without assets"
        );
    }
    let options = options::options(&args, config).await?;
    // Logins only: the tokens stay in the file.
    let logins: Vec<String> = options
        .users
        .iter()
        .map(|u| format!("{} ({:?})", u.login, u.permission).to_lowercase())
        .collect();
    let watched = options
        .origins
        .as_ref()
        .map(|d| d.display().to_string())
        .or_else(|| {
            options.ci.as_ref().map(|ci| {
                let n = ci.repos.values().filter(|r| r.origin.is_some()).count();
                format!("{n} origin(s) from the config's clones")
            })
        });
    let mock = MockGitHub::start(options)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    {
        let mut stdout = std::io::stdout().lock();
        // The first stdout line is all a script needs: with --output json, one JSON object.
        match global.output {
            OutputFormat::Human => writeln!(stdout, "listening on {}", mock.url())?,
            OutputFormat::Json => writeln!(
                stdout,
                "{}",
                serde_json::json!({ "listening_on": mock.url().to_string() })
            )?,
        }
        stdout.flush()?;
    }
    eprintln!(
        "mock-forge: watching {}; CI delay {}ms, asset interval {}ms; fault rate {} (seed {}); rate limit {}",
        watched.as_deref().unwrap_or("no origins"),
        args.ci_delay_ms,
        args.asset_interval_ms,
        args.fault_rate,
        args.seed,
        args.rate_limit.map_or_else(
            || "not enforced".to_owned(),
            |n| format!("{n} per {}ms", args.rate_limit_window_ms)
        ),
    );
    if !logins.is_empty() {
        eprintln!("mock-forge: users {}", logins.join(", "));
    }
    if let Some(id) = args.app_id {
        eprintln!("mock-forge: GitHub App {id} (JWTs checked with its public key)");
    }
    if let Some(url) = &args.webhook_url {
        // The URL only: the secret is never printed.
        eprintln!(
            "mock-forge: delivering webhooks to {url} ({})",
            if args.webhook_secret.is_some() {
                "signed"
            } else {
                "unsigned"
            }
        );
    }
    for f in &args.fail {
        eprintln!(
            "mock-forge: CI of {}{} concludes {}",
            f.repo,
            f.tag
                .as_deref()
                .map(|t| format!(" at {t}"))
                .unwrap_or_default(),
            f.conclusion
        );
    }
    eprintln!(
        "mock-forge: stats at {}/_mock/stats; stop with Ctrl-C",
        mock.url()
    );
    signals.stopped().await;
    let stats = mock.stats();
    mock.shutdown().await;
    eprintln!(
        "mock-forge: stopped after {} request(s) ({} not modified, {} faults, {} rate limited, {} slow)",
        stats.requests,
        stats.not_modified,
        stats.faults.server_errors + stats.faults.connection_resets,
        stats.faults.rate_limit_rejections,
        stats.faults.slow_responses
    );
    if args.webhook_url.is_some() {
        let w = &stats.webhooks;
        eprintln!(
            "mock-forge: {} webhook(s) delivered, {} failed, {} retried",
            w.delivered, w.failed, w.retries
        );
    }
    for (repo, r) in &stats.by_repo {
        eprintln!(
            "mock-forge:   {repo}: {} request(s), {} counted against the rate limit, {} not modified (304)",
            r.requests, r.rate_limited, r.not_modified
        );
    }
    Ok(ExitCode::SUCCESS)
}
