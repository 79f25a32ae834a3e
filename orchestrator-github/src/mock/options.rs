//! [`MockOptions`]: how a [`MockGitHub`](super::MockGitHub) behaves.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use orchestrator_core::config::Config;
use orchestrator_core::forge::CiSimulation;
use orchestrator_core::secret::SecretString;

/// How a [`MockGitHub`](super::MockGitHub) behaves. `MockOptions::default()` is a quiet server on
/// a free loopback port: no CI, no faults, no enforced rate limit.
///
/// ```
/// use std::time::Duration;
/// use orchestrator_github::mock::MockOptions;
///
/// let options = MockOptions::default()
///     .origins("/tmp/sandbox/origins")
///     .ci_delay(Duration::from_millis(300))
///     .fault_rate(0.2)
///     .seed(7);
/// assert_eq!(options.seed, 7);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MockOptions {
    /// Where to listen; default `127.0.0.1:0` (a free port).
    pub listen: SocketAddr,
    /// A directory of bare origins: repo `owner/name` is backed by `DIR/name.git`, and tags pushed
    /// there start the simulated CI. A repo whose origin exists here needs no other declaration.
    pub origins: Option<PathBuf>,
    /// The config whose repos exist on the mock and whose CI it simulates: tag format, and each
    /// repo's asset patterns with the version filled in (`*` and `?` made concrete as `x`).
    pub config: Option<Config>,
    /// The simulated CI itself, for full control (per-repo origins and behaviours such as
    /// [`CiBehaviour::NeverSettles`](orchestrator_core::forge::CiBehaviour)); overrides what
    /// `config`, `ci_delay` and `asset_interval` would build.
    pub ci: Option<CiSimulation>,
    /// From the moment a pushed tag is first seen to its (draft) release; default 1s.
    pub ci_delay: Duration,
    /// Upload time of each asset; assets upload one after another; default 200ms.
    pub asset_interval: Duration,
    /// The share of API requests (0.0 to 1.0) that fail: half answer `502`, half drop the
    /// connection mid-response. Default 0.
    pub fault_rate: f64,
    /// Requests allowed per [`MockOptions::rate_limit_window`]; after that, `403` with
    /// `x-ratelimit-remaining: 0` and the window's reset until the window ends. `304`s are free,
    /// as on GitHub. Default `None`: headers report 5,000 an hour but nothing is enforced.
    pub rate_limit: Option<u64>,
    /// The rate-limit window; default one hour, like github.com.
    pub rate_limit_window: Duration,
    /// The share of API requests (0.0 to 1.0, decided apart from the faults) answered only after
    /// [`MockOptions::slow_delay`]: a slow GitHub, or one slower than the client's read timeout.
    /// Default 0.
    pub slow_rate: f64,
    /// How late a slow answer comes; default 1s.
    pub slow_delay: Duration,
    /// Seeds the fault decisions: the same seed and the same requests give the same faults.
    pub seed: u64,
    /// When set, requests must carry `Authorization: Bearer <token>` (or `token <token>`);
    /// others answer `401 Bad credentials`.
    pub token: Option<SecretString>,
    /// Users with tokens and permissions (see [`super::load_users`]). When set, a request acts
    /// as its token's user (comments, reviews, pull requests are theirs; mutations need their
    /// permission), an unknown token answers `401`, and no token reads only.
    pub users: Vec<super::MockUser>,
    /// Simulated CI runs that fail (see [`CiFailure`]); default none.
    pub failures: Vec<CiFailure>,
    /// How long a new workflow run stays out of run listings (GitHub's list lags behind a
    /// dispatch; `GET .../runs/{id}` shows it at once). Default 0.
    pub run_listing_lag: Duration,
    /// Whether a workflow dispatch knows `return_run_details` (default `true`, as GitHub.com).
    /// `false` plays a server that predates the field (an older GitHub Enterprise Server): a
    /// dispatch that sends it answers GitHub's `422` for an unknown key, one without it `204`, so
    /// a client has to fall back to correlating the run.
    pub dispatch_run_details: bool,
    /// The GitHub App the mock knows ([`super::MockApp`]); default none.
    pub app: Option<super::MockApp>,
    /// Where to deliver the webhooks GitHub would send for what the API calls and the simulated
    /// CI cause (see [`MockWebhook`](super::MockWebhook)); default none.
    pub webhook: Option<super::MockWebhook>,
}

/// Which simulated CI runs fail, and how: `orchestrator mock-forge --fail REPO[:TAG][=CONCLUSION]`.
///
/// A matching tag push gets a completed `push` run of the repo's release workflow with this
/// conclusion (and a failed `build` job in `.../runs/{id}/jobs`) and never a release; a matching
/// workflow dispatch starts a run that concludes this way.
///
/// ```
/// use orchestrator_github::mock::CiFailure;
/// let f: CiFailure = "acme/web:v1.2.0=timed_out".parse().expect("valid");
/// assert_eq!((f.repo.as_str(), f.tag.as_deref(), f.conclusion.as_str()), ("acme/web", Some("v1.2.0"), "timed_out"));
/// assert!("acme/web=maybe".parse::<CiFailure>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiFailure {
    /// `owner/name`.
    pub repo: String,
    /// Only this tag (a dispatch matches when its ref or an input is the tag or its version);
    /// `None`: every run of the repo.
    pub tag: Option<String>,
    /// `failure`, `cancelled` or `timed_out`.
    pub conclusion: String,
}

impl std::str::FromStr for CiFailure {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (target, conclusion) = s.split_once('=').unwrap_or((s, "failure"));
        if !["failure", "cancelled", "timed_out"].contains(&conclusion) {
            return Err(format!(
                "conclusion {conclusion:?} is not one of failure, cancelled, timed_out"
            ));
        }
        let (repo, tag) = match target.split_once(':') {
            Some((repo, tag)) if !tag.is_empty() => (repo, Some(tag.to_owned())),
            Some(_) => return Err(format!("{target:?}: the tag after ':' is empty")),
            None => (target, None),
        };
        match repo.split_once('/') {
            Some((owner, name)) if !owner.is_empty() && !name.is_empty() && !name.contains('/') => {
            }
            _ => return Err(format!("{repo:?} is not OWNER/NAME")),
        }
        Ok(Self {
            repo: repo.to_owned(),
            tag,
            conclusion: conclusion.to_owned(),
        })
    }
}

impl CiFailure {
    /// Whether this failure is about `repo` and (when it names a tag) `tag`.
    pub(crate) fn matches(&self, repo: &str, tag: Option<&str>) -> bool {
        self.repo.eq_ignore_ascii_case(repo)
            && self
                .tag
                .as_deref()
                .is_none_or(|t| tag.is_some_and(|x| tag_matches(t, x)))
    }
}

/// Whether `value` is `tag` or the version in it (`v1.2.0` and `1.2.0`).
fn tag_matches(tag: &str, value: &str) -> bool {
    let version = tag.trim_start_matches(|c: char| !c.is_ascii_digit());
    value == tag || (!version.is_empty() && value == version)
}

impl Default for MockOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            origins: None,
            config: None,
            ci: None,
            ci_delay: Duration::from_secs(1),
            asset_interval: Duration::from_millis(200),
            fault_rate: 0.0,
            rate_limit: None,
            rate_limit_window: Duration::from_secs(3600),
            slow_rate: 0.0,
            slow_delay: Duration::from_secs(1),
            seed: 0,
            token: None,
            users: Vec::new(),
            failures: Vec::new(),
            run_listing_lag: Duration::ZERO,
            dispatch_run_details: true,
            app: None,
            webhook: None,
        }
    }
}

impl MockOptions {
    /// Sets [`MockOptions::listen`].
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Sets [`MockOptions::origins`].
    pub fn origins(mut self, dir: impl Into<PathBuf>) -> Self {
        self.origins = Some(dir.into());
        self
    }

    /// Sets [`MockOptions::config`].
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// Sets [`MockOptions::ci`].
    pub fn ci(mut self, ci: CiSimulation) -> Self {
        self.ci = Some(ci);
        self
    }

    /// Sets [`MockOptions::ci_delay`].
    pub fn ci_delay(mut self, delay: Duration) -> Self {
        self.ci_delay = delay;
        self
    }

    /// Sets [`MockOptions::asset_interval`].
    pub fn asset_interval(mut self, interval: Duration) -> Self {
        self.asset_interval = interval;
        self
    }

    /// Sets [`MockOptions::fault_rate`] (clamped to 0.0..=1.0).
    pub fn fault_rate(mut self, rate: f64) -> Self {
        self.fault_rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        self
    }

    /// Sets [`MockOptions::rate_limit`] and [`MockOptions::rate_limit_window`].
    pub fn rate_limit(mut self, requests: u64, window: Duration) -> Self {
        self.rate_limit = Some(requests);
        self.rate_limit_window = window.max(Duration::from_millis(1));
        self
    }

    /// Sets [`MockOptions::slow_rate`] (clamped to 0.0..=1.0) and [`MockOptions::slow_delay`].
    pub fn slow(mut self, rate: f64, delay: Duration) -> Self {
        self.slow_rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        self.slow_delay = delay;
        self
    }

    /// Sets [`MockOptions::seed`].
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets [`MockOptions::token`].
    pub fn token(mut self, token: &str) -> Self {
        self.token = Some(SecretString::new(token));
        self
    }

    /// Adds a [`CiFailure`] to [`MockOptions::failures`].
    pub fn fail(mut self, failure: CiFailure) -> Self {
        self.failures.push(failure);
        self
    }

    /// Sets [`MockOptions::app`].
    pub fn app(mut self, app: super::MockApp) -> Self {
        self.app = Some(app);
        self
    }

    /// Sets [`MockOptions::dispatch_run_details`].
    pub fn dispatch_run_details(mut self, known: bool) -> Self {
        self.dispatch_run_details = known;
        self
    }

    /// Sets [`MockOptions::run_listing_lag`].
    pub fn run_listing_lag(mut self, lag: Duration) -> Self {
        self.run_listing_lag = lag;
        self
    }

    /// Sets [`MockOptions::webhook`].
    pub fn webhook(mut self, hook: super::MockWebhook) -> Self {
        self.webhook = Some(hook);
        self
    }

    /// Sets [`MockOptions::users`].
    pub fn users(mut self, users: Vec<super::MockUser>) -> Self {
        self.users = users;
        self
    }

    /// The CI simulation these options describe: [`MockOptions::ci`], else one built from the
    /// config (each repo watching `origins/<name>.git`), else one with the default tag format and
    /// no repos (repos found in `origins` are added as they are first asked for).
    pub(crate) fn simulation(&self) -> CiSimulation {
        if let Some(ci) = &self.ci {
            return ci.clone();
        }
        if let Some(config) = &self.config {
            let origins = self.origins.clone();
            return CiSimulation::for_config(config, self.ci_delay, self.asset_interval, |repo| {
                origins
                    .as_ref()
                    .map(|dir| dir.join(format!("{}.git", repo.github.name)))
            });
        }
        CiSimulation {
            delay: self.ci_delay,
            asset_interval: self.asset_interval,
            ..CiSimulation::default()
        }
    }
}
