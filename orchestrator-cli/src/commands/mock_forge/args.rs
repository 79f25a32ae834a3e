//! `orchestrator mock-forge`'s flags and their value parsers.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use orchestrator_github::mock::CiFailure;

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
