//! A mock GitHub: an in-process HTTP server speaking the subset of GitHub's REST API that
//! [`GitHubForge`](crate::GitHubForge) uses, with GitHub's JSON shapes, ETags and `304`s, `Link`
//! pagination, rate-limit headers, and injectable faults.
//!
//! Enabled by the `mock-server` feature. State lives in memory; every request is recorded so tests
//! can assert what the adapter sent. Served endpoints:
//!
//! | method | path | notes |
//! |---|---|---|
//! | GET | `/repos/{o}/{r}/releases?per_page=&page=` | newest first, `Link` with `next`/`last` |
//! | GET | `/repos/{o}/{r}/releases/tags/{tag}` | `ETag`; `If-None-Match` → `304`; drafts hidden, as on GitHub |
//! | POST | `/repos/{o}/{r}/releases` | `201`; `422 already_exists` for a taken tag |
//! | POST | `/repos/{o}/{r}/releases/{id}/assets?name=` | `201`, state `uploaded`; `422` for a taken name |
//! | GET | `/_mock/stats` | [`RequestStats`] as JSON |
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use orchestrator_github::mock::{MockFault, MockGitHub};
//! let server = MockGitHub::start().await?;
//! server.create_repo("acme", "app");
//! server.inject(MockFault::ServerError(502), 2);
//! let forge = orchestrator_github::GitHubForge::builder().api_url(server.url()).build();
//! # Ok(()) }
//! ```

mod routes;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use orchestrator_core::forge::RequestStats;

use crate::wire::GhRelease;

/// A fault the next requests answer with, instead of being served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MockFault {
    /// An error status with GitHub's JSON body (e.g. `502`, `503`).
    ServerError(u16),
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
    /// The answered status.
    pub status: u16,
}

#[derive(Debug, Clone)]
struct MockAsset {
    id: u64,
    name: String,
    size: u64,
}

#[derive(Debug, Clone)]
struct MockRelease {
    id: u64,
    tag: String,
    target: Option<String>,
    name: Option<String>,
    body: Option<String>,
    draft: bool,
    prerelease: bool,
    assets: Vec<MockAsset>,
}

#[derive(Debug, Default)]
struct State {
    base_url: String,
    /// `owner/name` → releases, oldest first.
    repos: BTreeMap<String, Vec<MockRelease>>,
    next_id: u64,
    faults: VecDeque<MockFault>,
    token: Option<String>,
    requests: Vec<MockRequest>,
    stats: RequestStats,
    rate_remaining: u64,
}

impl State {
    fn release_json(&self, repo: &str, r: &MockRelease) -> GhRelease {
        let web = format!("{}/{repo}/releases", self.base_url);
        GhRelease {
            id: r.id,
            tag_name: r.tag.clone(),
            name: r.name.clone(),
            body: r.body.clone(),
            draft: r.draft,
            prerelease: r.prerelease,
            html_url: format!("{web}/tag/{}", r.tag),
            assets: r
                .assets
                .iter()
                .map(|a| crate::wire::GhAsset {
                    id: a.id,
                    name: a.name.clone(),
                    size: a.size,
                    state: "uploaded".into(),
                    browser_download_url: format!("{web}/download/{}/{}", r.tag, a.name),
                })
                .collect(),
        }
    }
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The running server; stops when dropped.
#[derive(Debug)]
pub struct MockGitHub {
    url: String,
    state: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockGitHub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The rate limit the server starts with and reports, like an authenticated github.com user.
const RATE_LIMIT: u64 = 5000;

impl MockGitHub {
    /// Starts a server on a free loopback port.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts a server on `addr`.
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let state: Shared = Arc::new(Mutex::new(State {
            base_url: url.clone(),
            next_id: 1,
            rate_remaining: RATE_LIMIT,
            ..State::default()
        }));
        let app = routes::router(state.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!("mock GitHub server stopped: {e}");
            }
        });
        Ok(Self { url, state, task })
    }

    /// The API root to give [`GitHubForgeBuilder::api_url`](crate::GitHubForgeBuilder::api_url).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Creates an empty repository (requests to unknown repositories answer `404`).
    pub fn create_repo(&self, owner: &str, name: &str) {
        lock(&self.state)
            .repos
            .entry(format!("{owner}/{name}"))
            .or_default();
    }

    /// The next `times` requests answer `fault` (after any faults already queued).
    pub fn inject(&self, fault: MockFault, times: usize) {
        let mut state = lock(&self.state);
        state.faults.extend(std::iter::repeat_n(fault, times));
    }

    /// Requires `Authorization: Bearer <token>` (or `token <token>`); others answer `401`.
    pub fn require_token(&self, token: &str) {
        lock(&self.state).token = Some(token.to_owned());
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<MockRequest> {
        lock(&self.state).requests.clone()
    }

    /// Request counts: `rate_limited` counts everything but `304`s, as GitHub bills it.
    pub fn stats(&self) -> RequestStats {
        lock(&self.state).stats
    }
}
