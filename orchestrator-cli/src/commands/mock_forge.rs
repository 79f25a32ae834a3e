//! `orchestrator mock-forge`: the mock GitHub server as a process, for users' integration tests
//! and rehearsals against `--forge-url`.
//!
//! The first line on stdout is `listening on http://HOST:PORT`, or with `--output json` the
//! object `{"listening_on": URL}` (flushed at once, so a parent process can read the URL);
//! everything else goes to stderr. Like every command it reads `--config` or the discovered
//! `orchestrator.toml`, and says on start when there is none. It serves until SIGTERM or Ctrl-C,
//! then stops gracefully and exits 0.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use orchestrator_core::Error;
use orchestrator_core::config::Config;
use orchestrator_core::forge::CiSimulation;
use orchestrator_core::secret::SecretString;
use orchestrator_git::GixVcs;
use orchestrator_github::mock::{CiFailure, MockApp, MockGitHub, MockOptions, MockWebhook};

use crate::args::{Global, OutputFormat};
use crate::wiring;

/// `orchestrator mock-forge` flags. The config comes from the global `--config FILE`.
#[derive(Debug, Args)]
pub(crate) struct MockForgeArgs {
    /// Where to listen (port 0: a free port, printed on the first line).
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub(crate) listen: SocketAddr,

    /// A directory of bare origins: repo owner/NAME is backed by DIR/NAME.git, and tags pushed there
    /// become releases. Default with --config: each repo's clone's origin, when it is a local path.
    #[arg(long, value_name = "DIR")]
    pub(crate) origins: Option<PathBuf>,

    /// From a pushed tag to its release, in milliseconds.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub(crate) ci_delay_ms: u64,

    /// Upload time of each release asset, in milliseconds (assets upload one after another).
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub(crate) asset_interval_ms: u64,

    /// Share of API requests (0 to 1) that answer 502 or drop the connection.
    #[arg(long, default_value_t = 0.0, value_name = "F", value_parser = fault_rate)]
    pub(crate) fault_rate: f64,

    /// Answer 403 with x-ratelimit-remaining: 0 after N counted requests per window (304s are
    /// free); default: not enforced.
    #[arg(long, value_name = "N")]
    pub(crate) rate_limit: Option<u64>,

    /// The rate-limit window, in milliseconds (default: one hour, as on github.com).
    #[arg(long, default_value_t = 3_600_000, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) rate_limit_window_ms: u64,

    /// Share of API answers (0 to 1) that come --slow-ms late (decided apart from the faults).
    #[arg(long, default_value_t = 0.0, value_name = "F", value_parser = fault_rate)]
    pub(crate) slow_rate: f64,

    /// How late a slow answer comes, in milliseconds.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub(crate) slow_ms: u64,

    /// Seed of the fault decisions: the same seed and requests give the same faults.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub(crate) seed: u64,

    /// Accept only requests carrying the token in this process's GITHUB_TOKEN (else GH_TOKEN);
    /// others answer 401.
    #[arg(long)]
    pub(crate) require_token: bool,

    /// A TOML file of users ([[user]] login, token, permission = none|read|triage|write|
    /// maintain|admin, optional email and bot): a request acts as its token's user (comments,
    /// reviews and pull requests are theirs, mutations need their permission), an unknown token
    /// answers 401, and no token may only read.
    #[arg(long, value_name = "FILE")]
    pub(crate) users: Option<PathBuf>,

    /// Make the simulated CI fail, to rehearse a failing release: REPO is owner/name, TAG limits
    /// it to one tag, CONCLUSION is failure (default), cancelled or timed_out. A matching tag
    /// push gets a completed `push` run of the release workflow with that conclusion (its failed
    /// job in .../actions/runs/{id}/jobs) and never a release; a matching workflow dispatch
    /// (its ref or an input is the tag or its version) starts a run that concludes so.
    /// Repeatable.
    #[arg(long = "fail", value_name = "REPO[:TAG][=CONCLUSION]", value_parser = ci_failure)]
    pub(crate) fail: Vec<CiFailure>,

    /// Play GitHub for this GitHub App: GET /app, GET /repos/{o}/{r}/installation and POST
    /// /app/installations/{id}/access_tokens accept its JWTs (RS256, checked with
    /// --app-public-key) and mint installation tokens, accepted until they expire (one hour).
    /// The orchestrator authenticates as the app with ORCHESTRATOR_APP_ID and
    /// ORCHESTRATOR_APP_PRIVATE_KEY(_FILE).
    #[arg(long, value_name = "N", requires = "app_public_key")]
    pub(crate) app_id: Option<u64>,

    /// The app's public key, PEM (`openssl rsa -in app.pem -pubout`).
    #[arg(long, value_name = "FILE", requires = "app_id")]
    pub(crate) app_public_key: Option<PathBuf>,

    /// Deliver the webhooks GitHub would send (release, workflow_run, push, pull_request,
    /// issue_comment, pull_request_review) for what the API calls and the simulated CI cause,
    /// each at the moment it happens, to this http:// URL (e.g. `orchestrator serve`'s
    /// http://127.0.0.1:8080/webhook). Retried a few times; counted in /_mock/stats.
    #[arg(long, value_name = "URL", value_parser = webhook_url)]
    pub(crate) webhook_url: Option<String>,

    /// The webhook secret that signs each delivery (X-Hub-Signature-256): the value of the
    /// environment variable of this name when one is set (keeps the secret out of `ps`), else
    /// this text itself. Without it deliveries are unsigned, as on GitHub.
    #[arg(long, value_name = "ENV_OR_VALUE", requires = "webhook_url")]
    pub(crate) webhook_secret: Option<String>,
}

fn webhook_url(s: &str) -> Result<String, String> {
    match s.strip_prefix("http://") {
        Some(rest) if !rest.is_empty() => Ok(s.to_owned()),
        _ => Err(format!(
            "{s:?} is not an http:// URL (the mock delivers over plain HTTP)"
        )),
    }
}

fn ci_failure(s: &str) -> Result<CiFailure, String> {
    s.parse()
}

fn fault_rate(s: &str) -> Result<f64, String> {
    let rate: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!("{rate} is not between 0 and 1"))
    }
}

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
    let options = options(&args, config).await?;
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

/// The server options the flags and the config describe.
async fn options(args: &MockForgeArgs, config: Option<Config>) -> anyhow::Result<MockOptions> {
    let ci_delay = Duration::from_millis(args.ci_delay_ms);
    let asset_interval = Duration::from_millis(args.asset_interval_ms);
    let mut options = MockOptions::default()
        .listen(args.listen)
        .ci_delay(ci_delay)
        .asset_interval(asset_interval)
        .fault_rate(args.fault_rate)
        .slow(args.slow_rate, Duration::from_millis(args.slow_ms))
        .seed(args.seed);
    if let Some(limit) = args.rate_limit {
        options = options.rate_limit(limit, Duration::from_millis(args.rate_limit_window_ms));
    }
    if args.require_token {
        let token = SecretString::forge_token_from_env().ok_or_else(|| {
            Error::invalid_input("--require-token needs GITHUB_TOKEN or GH_TOKEN to be set")
        })?;
        options = options.token(token.expose());
    }
    for failure in &args.fail {
        options = options.fail(failure.clone());
    }
    if let Some(url) = &args.webhook_url {
        let mut hook = MockWebhook::new(url);
        if let Some(secret) = &args.webhook_secret {
            let value = std::env::var(secret).unwrap_or_else(|_| secret.clone());
            if value.is_empty() {
                return Err(Error::invalid_input(format!(
                    "--webhook-secret: the environment variable {secret} is empty"
                ))
                .into());
            }
            hook = hook.secret(&value);
        }
        options = options.webhook(hook);
    }
    if let Some(file) = &args.users {
        let users = orchestrator_github::mock::load_users(file)?;
        options = options.users(users);
    }
    if let (Some(id), Some(file)) = (args.app_id, &args.app_public_key) {
        let pem = std::fs::read_to_string(file).map_err(|e| {
            Error::invalid_input(format!("--app-public-key {}: {e}", file.display()))
        })?;
        let app = MockApp::new(id, &pem).map_err(|e| {
            Error::invalid_input(format!("--app-public-key {}: {e}", file.display()))
        })?;
        options = options.app(app);
    }
    if let Some(dir) = &args.origins {
        if !dir.is_dir() {
            return Err(Error::invalid_input(format!(
                "--origins {}: not a directory",
                dir.display()
            ))
            .into());
        }
        options = options.origins(std::path::absolute(dir)?);
    } else if let Some(config) = &config {
        let origins = orchestrator_core::workspace::local_origins(config, &GixVcs::new()).await;
        options = options.ci(CiSimulation::for_config(
            config,
            ci_delay,
            asset_interval,
            |repo| origins.get(&repo.name).cloned(),
        ));
    }
    if let Some(config) = config {
        options = options.config(config);
    }
    Ok(options)
}
