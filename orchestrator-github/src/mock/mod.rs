//! A mock GitHub: an HTTP server speaking the subset of GitHub's REST API that
//! [`GitHubForge`](crate::GitHubForge) uses, with GitHub's JSON shapes, ETags and `304`s, `Link`
//! pagination and rate-limit headers, a simulated CI, and deterministic faults.
//!
//! Enabled by the `mock-server` feature; also runnable as `orchestrator mock-forge`. State lives
//! in memory. Start one from your own tests in three lines:
//!
//! ```no_run
//! # async fn demo(origins: std::path::PathBuf) -> Result<(), Box<dyn std::error::Error>> {
//! use orchestrator_github::mock::{MockGitHub, MockOptions};
//! let mock = MockGitHub::start(MockOptions::default().origins(origins)).await?;
//! let forge = orchestrator_github::GitHubForge::builder().api_url(mock.url()).build()?;
//! // ... push tags to `origins/<name>.git`, release through `forge` ...
//! mock.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Simulated CI
//! For a repo `owner/name` whose bare origin is `<origins>/<name>.git`, a tag pushed there
//! (matching the configured tag format, default `v{version}`) produces, [`MockOptions::ci_delay`]
//! after the mock first sees it, a release: a draft for half an asset interval, then published,
//! its assets (the config's patterns with the version filled in) uploading one by one, each
//! `open` and growing for one [`MockOptions::asset_interval`] before it is `uploaded`. The story
//! is the same as `InMemoryForge`'s ([`CiSimulation::release_after`]).
//!
//! # Faults and limits
//! - [`MockOptions::fault_rate`]: that share of API requests answers `502` or drops the
//!   connection mid-response, decided by a hash of the seed and the request (see
//!   [`MockOptions::seed`]), so a run is reproducible.
//! - [`MockOptions::rate_limit`]: after N counted requests in a window, `403` with
//!   `x-ratelimit-remaining: 0` and `x-ratelimit-reset` until the window ends. `304`s are free.
//! - [`MockGitHub::inject`]: the next requests answer a scripted [`MockFault`].
//!
//! # Endpoints
//! [`ROUTES`] lists every route served; anything else answers `404`. Every answer is GitHub's full
//! object and is checked against GitHub's published OpenAPI description by
//! `tests/mock_openapi.rs` (status, body schema, documented headers); the official
//! `@octokit/rest` client drives a flow against the mock in `tests/octokit_flow.rs`. Besides the
//! rate-limit headers, every answer carries `x-github-request-id`,
//! `x-github-api-version-selected` (`X-GitHub-Api-Version`: `2022-11-28` or `2026-03-10`, others
//! `400`) and `x-github-media-type`; a `201` carries `Location`; error bodies carry GitHub's
//! `status` field. Notable behaviours:
//! - releases: newest first with `Link` pagination and `ETag`/`304`; drafts hidden by tag; assets
//!   upload to API-made and CI-made releases, and `GET .../releases/assets/{id}` with
//!   `Accept: application/octet-stream` (or the `browser_download_url`) answers the bytes.
//! - `POST .../actions/workflows/{workflow}/dispatches`: `404` for a workflow the repo does not
//!   have (see [`MockGitHub::add_workflow`]), `422` for a ref its origin does not have; `204`,
//!   or `200` with `workflow_run_id`, `run_url` and `html_url` when the body sets
//!   `return_run_details` (the default from API version `2026-03-10`).
//! - `POST .../pulls` from a branch the origin does not have: `422`; `GET .../pulls?head=&base=`
//!   filter; labels, comments and `PATCH` (title, body, state) work on plain issues too.
//! - every URL the mock writes into an answer resolves: archives and run logs (`302` to what
//!   `git archive` and a ZIP of the job's steps serve), a run's artifacts, check suite, cancel
//!   and re-run, git commits, trees and blobs, commits by SHA, statuses, reactions, issue events,
//!   review comments, and the collections repositories and users link to (`routes/links.rs`;
//!   followed by a crawler in `tests/mock_openapi.rs`).
//! - a GitHub App ([`MockOptions::app`], `mock-forge --app-id N --app-public-key FILE`):
//!   `GET /app`, `GET .../installation` and `POST /app/installations/{id}/access_tokens` verify
//!   its RS256 JWT and mint installation tokens, accepted until they expire.
//! - `GET /_mock/stats`: [`MockStats`] as JSON (not counted, never faulted).
//!
//! # Simulated CI failures and events
//! [`MockOptions::failures`] ([`CiFailure`], `mock-forge --fail`) makes matching tag pushes end in
//! a failed `push` run (and no release) and matching dispatches conclude as told; each run's one
//! `build` job is in `.../runs/{id}/jobs`. What GitHub would send webhooks for is recorded in one
//! place ([`MockEvent`], [`MockGitHub::events`]); with [`MockOptions::webhook`] the mock delivers
//! them as GitHub's webhooks ([`MockWebhook`]), CI-made releases at the moment each appears,
//! publishes and settles.
//!
//! # Workflows, pull requests, comments, permissions
//! These routes are served by an [`InMemoryForge`] ([`MockGitHub::forge`]): the same simulation
//! the in-memory backend runs (run titles from a `run-name` template, queued → in progress →
//! completed with time, scripted conclusions), rendered in GitHub's JSON. Its test hooks play
//! GitHub's other users and Actions: `set_user`, `set_permission`, `comment_as`,
//! `push_to_pull_request`, `configure_workflow`, `script_workflow`, `set_branch_head`,
//! `add_workflow_run`, `repository_dispatches`.
//!
//! # Identities
//! [`MockOptions::users`] (`orchestrator mock-forge --users FILE`, see [`load_users`]) gives the
//! mock users with tokens and permissions: a request acts as its token's user, mutations need
//! their permission, an unknown token answers `401`. Without users, every request acts as the
//! forge's token user (`orchestrator-bot` unless `set_user` says otherwise). A repository backed
//! by a bare origin answers pull-request heads, commits, files, contents and comparisons from
//! git, so a rehearsal pushes with plain `git` and the mock sees it.
//!
//! Every answer carries `x-ratelimit-limit`, `-remaining`, `-reset`, `-used` and `-resource`.
//! Unknown repositories answer `404`; a repository exists when the config names it, its origin
//! is in the origins directory, or [`MockGitHub::create_repo`] made it.
//!
//! [`CiSimulation::release_after`]: orchestrator_core::forge::CiSimulation::release_after

mod app;
mod ci;
mod events;
mod faults;
mod objects;
mod options;
mod origin;
mod routes;
mod stats;
mod table;
mod users;
mod webhooks;
mod zip;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use orchestrator_core::forge::{
    InMemoryForge, Permission, Release, ReleaseAsset, ReleaseUpdate, RepoId,
};
use tokio::sync::oneshot;

pub use app::MockApp;
pub use events::MockEvent;
pub use options::{CiFailure, MockOptions};
pub use stats::{FaultStats, MockStats, RouteStats};
pub use table::{MockRoute, ROUTES, route_for};
pub use users::{MockUser, load_users, parse_users};
pub use webhooks::{MockWebhook, WebhookStats};

use ci::Ci;
use faults::{FaultPlan, RateWindow};

/// A fault the next requests answer with, instead of being served.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MockFault {
    /// An error status with GitHub's JSON body (e.g. `502`, `503`).
    ServerError(u16),
    /// The connection is dropped mid-response.
    ConnectionReset,
    /// The primary rate limit: `403` with `x-ratelimit-remaining: 0` and a reset this far ahead.
    RateLimited {
        /// How far ahead `x-ratelimit-reset` lies.
        reset_in: Duration,
    },
    /// A secondary rate limit: `403` with `Retry-After` and GitHub's "secondary rate limit" text.
    SecondaryRateLimit {
        /// The `Retry-After` value.
        retry_after: Duration,
    },
    /// `429 Too Many Requests` with `Retry-After`.
    TooManyRequests {
        /// The `Retry-After` value.
        retry_after: Duration,
    },
    /// `401 Bad credentials`.
    Unauthorized,
}

/// One request the server received, and how it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockRequest {
    /// `GET`, `POST`...
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    /// The `If-None-Match` header, if sent.
    pub if_none_match: Option<String>,
    /// The `Authorization` header, if sent.
    pub authorization: Option<String>,
    /// The answered status; `0` when the connection was dropped.
    pub status: u16,
}

/// Who a request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Actor {
    /// The in-memory forge's token user (no users file: the mock's single identity).
    Token,
    /// A user of the users file, by their token.
    User(String),
    /// No token sent while users are configured: reads only.
    Anonymous,
}

/// How many requests [`MockGitHub::requests`] keeps (the most recent ones).
const REQUEST_LOG: usize = 10_000;

#[derive(Debug)]
struct State {
    base_url: String,
    /// Known repositories (`owner/name`) → releases made through the API, oldest first.
    repos: BTreeMap<String, Vec<Release>>,
    next_id: u64,
    ci: Ci,
    faults: VecDeque<MockFault>,
    chaos: FaultPlan,
    /// Which answers come late, and how late.
    slow: (FaultPlan, Duration),
    limit: RateWindow,
    token: Option<String>,
    requests: VecDeque<MockRequest>,
    stats: MockStats,
    /// Serves the workflow, branch, pull-request, label, comment and permission routes.
    forge: InMemoryForge,
    /// Edits of CI-made releases (`PATCH`), by release id.
    ci_updates: BTreeMap<u64, ReleaseUpdate>,
    /// The users file's users (empty: every request acts as the forge's token user).
    users: Vec<users::MockUser>,
    /// Who the request being served acts as.
    actor: Actor,
    /// Repositories whose forge already holds the users' permissions.
    permissions_shared: BTreeSet<String>,
    /// Workflow files known to exist, by repository (besides the config's and the origin's).
    workflows: BTreeMap<String, BTreeSet<String>>,
    /// When each release was created and by whom, by release id.
    release_meta: BTreeMap<u64, (i64, String)>,
    /// Uploaded assets' bytes, by asset id (CI-made assets are generated from their name).
    asset_bytes: BTreeMap<u64, Vec<u8>>,
    /// Assets uploaded through the API to CI-made releases, by release id.
    ci_assets: BTreeMap<u64, Vec<ReleaseAsset>>,
    /// Labels of plain issues (pull requests keep theirs in the forge), by (repo, number).
    issue_labels: BTreeMap<(String, u64), Vec<String>>,
    /// Title and state edits of plain issues, by (repo, number).
    issue_edits: BTreeMap<(String, u64), (Option<String>, Option<String>)>,
    /// Which simulated CI runs fail, and how.
    failures: Vec<CiFailure>,
    /// Tags whose failed `push` run has been recorded, by repository.
    failed_pushes: BTreeSet<(String, String)>,
    /// Numbers `x-github-request-id` is made from.
    request_seq: u64,
    /// What happened, for a webhook sender (see [`MockEvent`]).
    events: events::EventLog,
    /// The config the mock was started with (its repos' release workflows exist).
    config: Option<orchestrator_core::config::Config>,
    /// The request being served: its `X-GitHub-Api-Version` (GitHub's default when absent).
    api_version: String,
    /// The request being served: its `Accept` header.
    accept: String,
    /// See [`MockOptions::run_listing_lag`].
    run_listing_lag: Duration,
    /// Runs cancelled or re-run through the API, by (repository, run id).
    run_edits: BTreeMap<(String, u64), routes::RunEdit>,
    /// See [`MockOptions::dispatch_run_details`].
    dispatch_run_details: bool,
    /// The GitHub App the mock knows (see [`MockOptions::app`]).
    app: Option<MockApp>,
    /// Installation tokens minted for it.
    app_tokens: app::AppTokens,
    /// The installation the request being served acts for (its token was an installation's).
    installation: Option<u64>,
}

impl State {
    /// Decides who a request with `authorization` acts as; `false` for a token no user has
    /// (answered `401`; the `--require-token` token acts as the forge's token user).
    fn identify(&mut self, authorization: Option<&str>) -> bool {
        self.actor = Actor::Token;
        self.installation = None;
        let sent = authorization.and_then(|a| {
            a.strip_prefix("Bearer ")
                .or_else(|| a.strip_prefix("token "))
                .map(str::trim)
        });
        // An installation token of the app acts as the forge's token user until it expires.
        if let Some(verdict) = sent.and_then(|t| self.app_tokens.check(t, crate::app::now_secs())) {
            return match verdict {
                Ok(installation) => {
                    self.installation = Some(installation);
                    true
                }
                Err(()) => false,
            };
        }
        if self.users.is_empty() {
            return true;
        }
        self.actor = match sent {
            None => Actor::Anonymous,
            Some(token) => match self.users.iter().find(|u| u.token.expose() == token) {
                Some(user) => Actor::User(user.login.clone()),
                None if self.token.as_deref() == Some(token) => Actor::Token,
                None => return false,
            },
        };
        true
    }

    /// `login`'s permission: the users file's, unless a test hook set one on the forge.
    fn permission_of(&self, login: &str) -> Permission {
        self.users
            .iter()
            .find(|u| u.login.eq_ignore_ascii_case(login))
            .map_or(Permission::None, |u| u.permission)
    }

    /// Gives the forge the users' permissions on `repo` (once, so hooks may change them later):
    /// its rules (who may edit a comment) read them there.
    fn share_permissions(&mut self, repo: &RepoId) {
        if self.users.is_empty() || !self.permissions_shared.insert(repo.to_string()) {
            return;
        }
        for user in &self.users {
            self.forge
                .set_permission(repo, &user.login, user.permission);
        }
    }

    fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Whether `owner/name` exists (adopting it from the origins directory on first sight).
    fn knows(&mut self, repo: &RepoId) -> bool {
        let key = repo.to_string();
        if self.repos.contains_key(&key) {
            return true;
        }
        if self.ci.adopt(repo) {
            self.repos.insert(key, Vec::new());
            return true;
        }
        false
    }

    /// Every release of a known repo: API-made ones and those CI produced so far, newest first.
    fn releases(&mut self, repo: &RepoId) -> Vec<Release> {
        self.ci.observe(Some(repo));
        let mut all = self
            .repos
            .get(&repo.to_string())
            .cloned()
            .unwrap_or_default();
        for tag in self.ci.pushed_tags(repo) {
            if all.iter().any(|r| r.tag == tag) {
                continue;
            }
            if let Some(release) = self.ci_release(repo, &tag) {
                all.push(release);
            }
        }
        all.sort_by_key(|r| std::cmp::Reverse(r.id));
        all
    }

    /// The release of `tag`: one made through the API wins over CI's.
    fn release(&mut self, repo: &RepoId, tag: &str) -> Option<Release> {
        self.ci.observe(Some(repo));
        if let Some(r) = self
            .repos
            .get(&repo.to_string())
            .and_then(|rs| rs.iter().find(|r| r.tag == tag))
        {
            return Some(r.clone());
        }
        self.ci_release(repo, tag)
    }

    fn ci_release(&mut self, repo: &RepoId, tag: &str) -> Option<Release> {
        // A failed CI run publishes nothing.
        let name = repo.to_string();
        if self.failures.iter().any(|f| f.matches(&name, Some(tag))) {
            return None;
        }
        let mut next = self.next_id;
        let release = self.ci.release(repo, tag, || {
            next += 1;
            next
        });
        self.next_id = next;
        let mut release = release?;
        if let Some(update) = self.ci_updates.get(&release.id) {
            release.apply_update(update);
        }
        if let Some(extra) = self.ci_assets.get(&release.id) {
            release.assets.extend(extra.iter().cloned());
        }
        Some(release)
    }
}

/// Applies the fields `update` sets.
type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
    // A panic while holding the lock leaves plain data behind; keep serving it.
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running mock server: the handle [`MockGitHub::start`] returns. Stops on
/// [`MockGitHub::shutdown`] (graceful) or when dropped (at once).
#[derive(Debug)]
pub struct MockGitHub {
    url: String,
    state: Shared,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
    watcher: tokio::task::JoinHandle<()>,
    /// The webhook sender, when [`MockOptions::webhook`] is set.
    sender: Option<tokio::task::JoinHandle<()>>,
    forge: InMemoryForge,
}

impl Drop for MockGitHub {
    fn drop(&mut self) {
        self.server.abort();
        self.watcher.abort();
        if let Some(sender) = &self.sender {
            sender.abort();
        }
    }
}

/// How often the watcher looks at the origins for new tags (requests also look).
const WATCH_INTERVAL: Duration = Duration::from_millis(50);

impl MockGitHub {
    /// Starts a server as `options` say; it serves until [`MockGitHub::shutdown`] or drop.
    /// Fails only when the address cannot be bound.
    pub async fn start(options: MockOptions) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(options.listen).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let mut ci = Ci::new(options.simulation(), options.origins.clone());
        let repos = ci
            .repos()
            .into_iter()
            .map(|r| (r.to_string(), Vec::new()))
            .collect();
        ci.observe(None);
        let forge = InMemoryForge::new();
        let state: Shared = Arc::new(Mutex::new(State {
            base_url: url.clone(),
            repos,
            next_id: 0,
            ci,
            faults: VecDeque::new(),
            chaos: FaultPlan::new(options.fault_rate, options.seed),
            // Its own stream of decisions, so adding latency does not move the faults.
            slow: (
                FaultPlan::new(options.slow_rate, options.seed ^ 0x5105_1e55),
                options.slow_delay,
            ),
            limit: RateWindow::new(options.rate_limit, options.rate_limit_window),
            token: options.token.as_ref().map(|t| t.expose().to_owned()),
            requests: VecDeque::new(),
            stats: MockStats::default(),
            forge: forge.clone(),
            ci_updates: BTreeMap::new(),
            users: options.users.clone(),
            actor: Actor::Token,
            permissions_shared: BTreeSet::new(),
            workflows: BTreeMap::new(),
            release_meta: BTreeMap::new(),
            asset_bytes: BTreeMap::new(),
            ci_assets: BTreeMap::new(),
            issue_labels: BTreeMap::new(),
            issue_edits: BTreeMap::new(),
            failures: options.failures.clone(),
            failed_pushes: BTreeSet::new(),
            request_seq: 0,
            events: events::EventLog::default(),
            config: options.config.clone(),
            api_version: routes::DEFAULT_API_VERSION.to_owned(),
            accept: String::new(),
            run_listing_lag: options.run_listing_lag,
            run_edits: BTreeMap::new(),
            dispatch_run_details: options.dispatch_run_details,
            app: options.app.clone(),
            app_tokens: app::AppTokens::default(),
            installation: None,
        }));
        let app = routes::router(state.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!("mock GitHub server stopped: {e}");
            }
        });
        // Timestamps pushes as they happen, not only when a request looks.
        let watched = state.clone();
        let watcher = tokio::spawn(async move {
            let mut tick = tokio::time::interval(WATCH_INTERVAL);
            loop {
                tick.tick().await;
                lock(&watched).ci.observe(None);
            }
        });
        let sender = options
            .webhook
            .clone()
            .map(|hook| webhooks::start(state.clone(), hook));
        Ok(Self {
            url,
            state,
            stop: Some(stop),
            server,
            watcher,
            sender,
            forge,
        })
    }

    /// The [`InMemoryForge`] behind the workflow, branch, pull-request, label, comment and
    /// permission routes. Its test hooks script what GitHub's other users and Actions do, e.g.
    /// `mock.forge().set_permission(&repo, "alice", Permission::Write)`; its request log shows
    /// what the adapter asked for. Repositories still have to exist on the mock (see
    /// [`MockGitHub::create_repo`]).
    pub fn forge(&self) -> &InMemoryForge {
        &self.forge
    }

    /// The API root to give [`GitHubForgeBuilder::api_url`](crate::GitHubForgeBuilder::api_url),
    /// e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops accepting connections, lets requests in flight finish (up to 5s), and returns.
    pub async fn shutdown(mut self) {
        self.watcher.abort();
        if let Some(sender) = &self.sender {
            sender.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let server = &mut self.server;
        if tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .is_err()
        {
            self.server.abort();
        }
    }

    /// Creates an empty repository (requests to unknown repositories answer `404`).
    pub fn create_repo(&self, owner: &str, name: &str) {
        let mut state = lock(&self.state);
        let repo = RepoId::new(owner, name);
        state.ci.add_repo(&repo);
        state.repos.entry(repo.to_string()).or_default();
    }

    /// Tells CI that `tag` was pushed to `owner/name` now (for repos without a watched origin).
    pub fn notify_tag_pushed(&self, owner: &str, name: &str, tag: &str) {
        let mut state = lock(&self.state);
        let repo = RepoId::new(owner, name);
        state.ci.add_repo(&repo);
        state.repos.entry(repo.to_string()).or_default();
        state.ci.notify_pushed(&repo, tag);
    }

    /// When the simulated CI first saw `tag` of `owner/name` pushed (ms since the Unix epoch):
    /// its clock starts there, so a release made of one asset is ready `delay + 2 intervals`
    /// later. Benchmarks measure detection lag from it.
    pub fn tag_seen_ms(&self, owner: &str, name: &str, tag: &str) -> Option<i64> {
        lock(&self.state).ci.seen_ms(&RepoId::new(owner, name), tag)
    }

    /// The next `times` API requests answer `fault` (after any faults already queued).
    pub fn inject(&self, fault: MockFault, times: usize) {
        lock(&self.state)
            .faults
            .extend(std::iter::repeat_n(fault, times));
    }

    /// Adds a user (see [`MockOptions::users`]); a user with the same login is replaced.
    pub fn add_user(&self, user: MockUser) {
        let mut state = lock(&self.state);
        state
            .users
            .retain(|u| !u.login.eq_ignore_ascii_case(&user.login));
        state.users.push(user);
        // Their permission reaches every repository's forge afresh.
        state.permissions_shared.clear();
    }

    /// Requires `Authorization: Bearer <token>` (or `token <token>`); others answer `401`.
    pub fn require_token(&self, token: &str) {
        lock(&self.state).token = Some(token.to_owned());
    }

    /// The most recent API requests (up to 10,000), oldest first.
    pub fn requests(&self) -> Vec<MockRequest> {
        lock(&self.state).requests.iter().cloned().collect()
    }

    /// Request counts, as `GET /_mock/stats` serves them.
    pub fn stats(&self) -> MockStats {
        lock(&self.state).stats.clone()
    }

    /// Declares that `owner/name` has the workflow file `workflow` (e.g. `release.yml`), so
    /// dispatching it is accepted. Workflows also exist when the config names them as a repo's
    /// release workflow, when the repo's origin has `.github/workflows/<file>`, or when runs of
    /// them exist; dispatching any other workflow answers `404`, as on GitHub, also in a
    /// repository that has no workflow at all.
    pub fn add_workflow(&self, owner: &str, name: &str, workflow: &str) {
        let mut state = lock(&self.state);
        let file = orchestrator_core::forge::workflow_file(workflow).to_owned();
        state
            .workflows
            .entry(RepoId::new(owner, name).to_string())
            .or_default()
            .insert(file);
    }

    /// Expires every installation token the mock minted for the app (see [`MockOptions::app`]):
    /// they answer `401` from now on, as GitHub's do an hour after they were made.
    pub fn expire_app_tokens(&self) {
        lock(&self.state)
            .app_tokens
            .expire_all(crate::app::now_secs());
    }

    /// Makes the simulated CI fail as `failure` says (see [`CiFailure`]), from now on.
    pub fn fail_ci(&self, failure: CiFailure) {
        lock(&self.state).failures.push(failure);
    }

    /// Everything that happened that GitHub would send a webhook for, oldest first (see
    /// [`MockEvent`]).
    pub fn events(&self) -> Vec<MockEvent> {
        lock(&self.state).events.all()
    }
}
