//! One HTTP exchange with GitHub, done right: conditional GETs, retries, rate-limit bookkeeping,
//! request counts, and the mapping of HTTP statuses into [`orchestrator_core::Error`].
//!
//! It sits on octocrab's raw request API (`Octocrab::execute`), not its typed getters: those treat
//! `304 Not Modified` as an error and hide the response headers this module needs.
//!
//! # Every exchange is bounded
//!
//! A forge that misbehaves (a proxy that stalls, a server that drips one byte every two seconds,
//! one that streams an endless body) must not hold a run or eat the machine's memory:
//!
//! - **connect timeout** (default 10s) and **read (idle) timeout** (default 30s) on the socket;
//! - **a whole-exchange timeout** (default 60s) from sending the request to the last byte of the
//!   body: an idle timeout alone never fires on a server that drips bytes;
//! - **a body cap** (default [`DEFAULT_MAX_RESPONSE_BYTES`], 16 MiB): a `Content-Length` above it is
//!   refused before reading, and a body that grows past it while streaming is dropped at the cap.
//!   GitHub's largest answers we read (a page of 100 releases with their assets) are well under
//!   1 MiB. An oversized body is a [`Error::Transient`] naming the limit, and is not retried here;
//! - **rate limits that ask for an absurd wait** (a `Retry-After` or `x-ratelimit-reset` more than
//!   [`MAX_RATE_LIMIT_WAIT`] away; GitHub's window is one hour) are a clear
//!   [`Error::PermissionDenied`] instead of a sleep of years.
//!
//! Callers' deadlines (a release wait, the credentials check) bound the retries on top of this.
//! Retries are logged as warnings that say the request is being retried, so a run that succeeds
//! after a 502 shows why it was slow, and no `ERROR` line.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{ACCEPT, CONTENT_TYPE, ETAG, IF_NONE_MATCH, RETRY_AFTER};
use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt;
use octocrab::service::middleware::retry::RetryConfig;
use octocrab::{OctoBody, Octocrab};
use orchestrator_core::Error;
use orchestrator_core::forge::{RequestStats, redact_userinfo};
use orchestrator_core::secret::SecretString;
use tokio::sync::OnceCell;

use crate::wire::GhError;

/// The default cap on one response body (16 MiB); see the module docs.
pub(crate) const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// The longest rate-limit wait that is believed: GitHub's primary window is one hour, plus slack
/// for clock skew. A longer `Retry-After` or reset is a broken or hostile server.
pub(crate) const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(65 * 60);

/// How the transport retries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    /// Retries after a 5xx or a connection error (so `max_retries + 1` attempts in all).
    pub(crate) max_retries: u32,
    /// The first backoff; each later one doubles, plus up to 50% jitter.
    pub(crate) base_delay: Duration,
    /// Rate limits that ask for a shorter wait than this are waited out here; longer ones are
    /// returned as [`Error::RateLimited`] so the caller's wait loop sleeps (and can be cancelled).
    pub(crate) max_inline_wait: Duration,
}

/// A request to send.
pub(crate) struct Request<'a> {
    pub(crate) method: Method,
    /// Absolute URL.
    pub(crate) url: String,
    /// Body and its content type.
    pub(crate) body: Option<(Vec<u8>, &'static str)>,
    /// For error messages: what the request is about ("release v1 of o/r").
    pub(crate) what: &'a str,
}

/// A response with its body read.
#[derive(Debug)]
pub(crate) struct Reply {
    /// The status; a `304` answered from the cache is reported as `200` (the stats count it).
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Reply {
    /// The error for a non-success status that the caller did not handle itself.
    pub(crate) fn into_error(self, what: &str) -> Error {
        status_error(self.status, &self.headers, &self.body, what)
    }

    /// The body as JSON, or a `Transient` error naming what could not be read.
    pub(crate) fn json<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T, Error> {
        serde_json::from_str(&self.body).map_err(|e| Error::Transient {
            message: format!("unexpected response for {what}: {e}"),
        })
    }
}

/// The last ETag and body seen for one URL.
#[derive(Debug, Clone)]
struct Cached {
    etag: String,
    body: String,
}

impl Cached {
    /// What the entry holds in memory, counted for the cache's byte bound (URL included).
    fn bytes(&self, url: &str) -> usize {
        url.len() + self.etag.len() + self.body.len()
    }
}

/// Default bound on the conditional-request cache: URLs remembered.
pub(crate) const DEFAULT_ETAG_CACHE_ENTRIES: usize = 1024;
/// Default bound on the conditional-request cache: bytes of URLs, ETags and bodies.
pub(crate) const DEFAULT_ETAG_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// The conditional-request cache: the last ETag and body per URL, least recently used first out
/// once it holds more than `max_entries` URLs or `max_bytes` bytes. Unbounded, a long-running
/// service (`orchestrator serve`) that polls ever new URLs (each release's tag) would grow it
/// for ever; evicting only costs one full `200` answer later instead of a free `304`.
#[derive(Debug)]
pub(crate) struct EtagCache {
    entries: HashMap<String, (Cached, u64)>,
    /// Use order: tick of last use -> URL (the first is the least recently used).
    order: std::collections::BTreeMap<u64, String>,
    tick: u64,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

impl EtagCache {
    /// An empty cache with these bounds (0 entries or bytes: nothing is cached).
    pub(crate) fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            entries: HashMap::new(),
            order: std::collections::BTreeMap::new(),
            tick: 0,
            bytes: 0,
            max_entries,
            max_bytes,
        }
    }

    /// The entry of `url`, now the most recently used.
    fn get(&mut self, url: &str) -> Option<Cached> {
        self.tick += 1;
        let tick = self.tick;
        let (cached, used) = self.entries.get_mut(url)?;
        self.order.remove(used);
        *used = tick;
        self.order.insert(tick, url.to_owned());
        Some(cached.clone())
    }

    /// Stores `cached` for `url` (the most recently used), then evicts the least recently used
    /// entries until both bounds hold. An entry larger than the byte bound is not kept.
    fn insert(&mut self, url: String, cached: Cached) {
        self.remove(&url);
        let size = cached.bytes(&url);
        if size > self.max_bytes || self.max_entries == 0 {
            return;
        }
        self.tick += 1;
        self.bytes += size;
        self.order.insert(self.tick, url.clone());
        self.entries.insert(url, (cached, self.tick));
        while self.entries.len() > self.max_entries || self.bytes > self.max_bytes {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some((gone, _)) = self.entries.remove(&oldest) {
                self.bytes -= gone.bytes(&oldest);
            }
        }
    }

    /// Forgets `url`.
    fn remove(&mut self, url: &str) {
        if let Some((gone, used)) = self.entries.remove(url) {
            self.order.remove(&used);
            self.bytes -= gone.bytes(url);
        }
    }

    /// URLs held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }

    /// Bytes held (URLs, ETags and bodies).
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.bytes
    }
}

/// What the octocrab client is built from.
#[derive(Debug, Clone)]
pub(crate) struct ClientConfig {
    pub(crate) api_url: String,
    pub(crate) upload_url: String,
    pub(crate) token: Option<SecretString>,
    /// Authenticate as this GitHub App's installation instead of with `token`.
    pub(crate) app: Option<std::sync::Arc<crate::app::GitHubApp>>,
    pub(crate) connect_timeout: Duration,
    pub(crate) read_timeout: Duration,
    /// Bounds one exchange, request to last body byte (a dripping server defeats `read_timeout`).
    pub(crate) request_timeout: Duration,
    /// The largest response body read; see [`DEFAULT_MAX_RESPONSE_BYTES`].
    pub(crate) max_response_bytes: usize,
    /// Bounds of the conditional-request cache: URLs, and bytes ([`EtagCache`]).
    pub(crate) etag_cache_entries: usize,
    /// See `etag_cache_entries`.
    pub(crate) etag_cache_bytes: usize,
}

impl ClientConfig {
    /// The octocrab client. Octocrab spawns its request-buffer worker on the current Tokio
    /// runtime when built, so this runs inside one (on first use, or at build time if possible).
    pub(crate) fn build(&self) -> Result<Octocrab, Error> {
        let mut builder = Octocrab::builder()
            .base_uri(self.api_url.as_str())
            .map_err(|e| Error::invalid_input(format!("invalid forge API URL: {e}")))?
            .upload_uri(self.upload_url.as_str())
            .map_err(|e| Error::invalid_input(format!("invalid forge upload URL: {e}")))?
            // Our own retries instead: counted, logged, with backoff, and never silently sleeping
            // on a 429 (octocrab's default retries 5xx and 429 three times, invisibly).
            .add_retry_config(RetryConfig::None)
            .set_connect_timeout(Some(self.connect_timeout))
            .set_read_timeout(Some(self.read_timeout));
        if let Some(token) = &self.token {
            // Octocrab adds it only to requests bound for the API or upload host.
            builder = builder.personal_token(token.expose().to_owned());
        }
        builder.build().map_err(|e| Error::InvalidInput {
            message: format!("cannot set up the GitHub client: {e}"),
        })
    }
}

/// The forge's rate limit as one answer reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSeen {
    /// `x-ratelimit-remaining`: requests left in the window.
    pub remaining: u64,
    /// `x-ratelimit-reset`: when the window resets (Unix seconds).
    pub reset: u64,
    /// When the answer came (Unix milliseconds).
    pub seen_ms: u64,
}

/// The process's view of the forge's rate-limit budget, shared by every [`crate::GitHubForge`]
/// in it (a service builds one per job): the last `x-ratelimit-*` headers any of them saw, and a
/// deferral of *polls* that a caller sets when the budget runs low ([`RateBudget::defer_polls_until`]).
///
/// A poll here is a repeated `GET` (one with a cached ETag): re-reading what was read before can
/// wait for the window to reset; first reads and writes, the urgent part of a run, never wait.
#[derive(Debug, Default)]
pub struct RateBudget {
    seen: Mutex<Option<RateLimitSeen>>,
    defer_until: std::sync::atomic::AtomicU64,
    changed: tokio::sync::Notify,
}

static RATE_BUDGET: std::sync::LazyLock<RateBudget> = std::sync::LazyLock::new(RateBudget::default);

/// The process's [`RateBudget`].
pub fn rate_budget() -> &'static RateBudget {
    &RATE_BUDGET
}

impl RateBudget {
    /// The last rate limit an answer reported, if any.
    pub fn latest(&self) -> Option<RateLimitSeen> {
        *lock(&self.seen)
    }

    /// Polls wait until `epoch_secs` (Unix seconds; `0` or a past time: no deferral). A deferral
    /// longer than the rate-limit window is capped to it.
    pub fn defer_polls_until(&self, epoch_secs: u64) {
        let cap = now_epoch() + MAX_RATE_LIMIT_WAIT.as_secs();
        let until = epoch_secs.min(cap);
        let before = self
            .defer_until
            .swap(until, std::sync::atomic::Ordering::SeqCst);
        if before != until {
            self.changed.notify_waiters();
        }
    }

    /// Until when polls are deferred (Unix seconds; `0`: not deferred).
    pub fn polls_deferred_until(&self) -> u64 {
        self.defer_until.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn observe(&self, remaining: u64, reset: u64) {
        let seen_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        *lock(&self.seen) = Some(RateLimitSeen {
            remaining,
            reset,
            seen_ms,
        });
    }

    /// Returns once polls may go out: at once when not deferred, else at the deferral's end or
    /// when it is lifted.
    async fn poll_allowed(&self) {
        loop {
            let changed = self.changed.notified();
            let until = self.polls_deferred_until();
            let now = now_epoch();
            if until <= now {
                return;
            }
            tracing::info!(
                until,
                "poll deferred: the shared rate-limit budget is below its floor"
            );
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(until - now)) => {}
                () = changed => {}
            }
        }
    }
}

/// The error for GitHub refusing the app's JWT (or a server error while minting a token).
fn app_refused(app: &crate::app::GitHubApp, status: StatusCode, body: &str) -> Failure {
    let message = crate::wire::GhError::parse(body).message;
    if status.is_server_error() {
        return Failure::Retry(Error::Transient {
            message: format!("GitHub answered {status} minting a GitHub App token: {message}"),
        });
    }
    Failure::Final(Error::Unauthenticated {
        message: format!(
            "GitHub refused GitHub App {}'s credentials ({status}: {message}); check \
             ORCHESTRATOR_APP_ID and the private key",
            app.app_id()
        ),
    })
}

/// The HTTP side of [`crate::GitHubForge`].
pub(crate) struct Transport {
    config: ClientConfig,
    octocrab: OnceCell<Octocrab>,
    policy: RetryPolicy,
    cache: Mutex<EtagCache>,
    stats: Mutex<RequestStats>,
    rate_limit: Mutex<Option<(u64, u64)>>,
    /// Installation tokens of [`ClientConfig::app`].
    app_tokens: crate::app::TokenCache,
}

impl Transport {
    /// A transport; builds the client now when called inside a Tokio runtime, else on first use.
    pub(crate) fn new(config: ClientConfig, policy: RetryPolicy) -> Result<Self, Error> {
        let octocrab = OnceCell::new();
        if tokio::runtime::Handle::try_current().is_ok() {
            octocrab.set(config.build()?).expect("a new cell is empty");
        }
        let cache = EtagCache::new(config.etag_cache_entries, config.etag_cache_bytes);
        Ok(Self {
            config,
            octocrab,
            policy,
            cache: Mutex::new(cache),
            stats: Mutex::default(),
            rate_limit: Mutex::default(),
            app_tokens: crate::app::TokenCache::default(),
        })
    }

    async fn client(&self) -> Result<&Octocrab, Error> {
        self.octocrab
            .get_or_try_init(|| async { self.config.build() })
            .await
    }

    pub(crate) fn stats(&self) -> RequestStats {
        *lock(&self.stats)
    }

    pub(crate) fn rate_limit(&self) -> Option<(u64, u64)> {
        *lock(&self.rate_limit)
    }

    /// Forgets the cached body of `url` (after a 404, so a stale release is never served).
    fn forget(&self, url: &str) {
        lock(&self.cache).remove(url);
    }

    /// Sends `req`, retrying 5xx, connection errors and short rate limits. Returns the reply for
    /// every other status (including 4xx) so the caller can give 404 or 422 its own meaning;
    /// returns an error for rate limits it did not wait out and for exhausted retries.
    pub(crate) async fn send(&self, req: &Request<'_>) -> Result<Reply, Error> {
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            let (error, pause) = match self.attempt(req).await {
                Ok(reply)
                    if reply.status == StatusCode::UNAUTHORIZED
                        && self.config.app.is_some()
                        && !refreshed =>
                {
                    // The installation token expired early (a skewed clock) or was revoked:
                    // one new token, one more try.
                    tracing::info!("GitHub refused the installation token; getting a new one");
                    self.app_tokens.clear();
                    refreshed = true;
                    continue;
                }
                Ok(reply) => {
                    let status = reply.status;
                    if status.is_server_error() {
                        let e = status_error(status, &reply.headers, &reply.body, req.what);
                        (e, self.backoff(attempt))
                    } else if let Some(e) = rate_limit_error(status, &reply.headers, &reply.body) {
                        match e {
                            Error::RateLimited {
                                retry_after: Some(after),
                                ..
                            } if after <= self.policy.max_inline_wait => (e, after),
                            e => return Err(e),
                        }
                    } else {
                        if status == StatusCode::NOT_FOUND {
                            self.forget(&req.url);
                        }
                        return Ok(reply);
                    }
                }
                Err(Failure::Final(e)) => return Err(e),
                Err(Failure::Retry(e)) => (e, self.backoff(attempt)),
            };
            if attempt >= self.policy.max_retries {
                return Err(error);
            }
            attempt += 1;
            lock(&self.stats).retries += 1;
            // A warning, not an error: the run may well succeed; it says what is retried and why.
            tracing::warn!(
                "{} {}: {error}; retrying in {:.1}s (retry {attempt} of {})",
                req.method,
                redact_userinfo(&req.url),
                pause.as_secs_f64(),
                self.policy.max_retries
            );
            tokio::time::sleep(pause).await;
        }
    }

    /// One request: adds the conditional header, counts it, records the rate limit, reads the
    /// body, and answers a `304` from the cache.
    async fn attempt(&self, req: &Request<'_>) -> Result<Reply, Failure> {
        let conditional = req.method == Method::GET;
        let cached = if conditional {
            lock(&self.cache).get(&req.url)
        } else {
            None
        };
        if cached.is_some() {
            // A repeated read: when the shared budget is low it waits for the reset.
            rate_budget().poll_allowed().await;
        }
        let mut builder = http::Request::builder()
            .method(req.method.clone())
            .uri(req.url.as_str())
            .header(ACCEPT, "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28");
        if let Some(cached) = &cached {
            builder = builder.header(IF_NONE_MATCH, cached.etag.as_str());
        }
        if let Some(app) = &self.config.app {
            let octocrab = self.client().await.map_err(Failure::Final)?;
            let token = self.installation_token(octocrab, app, &req.url).await?;
            builder = builder.header(
                http::header::AUTHORIZATION,
                format!("Bearer {}", token.expose()),
            );
        }
        let body = match &req.body {
            Some((bytes, content_type)) => {
                builder = builder.header(CONTENT_TYPE, *content_type);
                OctoBody::from(bytes.clone())
            }
            None => OctoBody::empty(),
        };
        let request = builder.body(body).map_err(|e| {
            Failure::Final(Error::InvalidInput {
                message: format!("invalid request URL {}: {e}", redact_userinfo(&req.url)),
            })
        })?;

        let octocrab = self.client().await.map_err(Failure::Final)?;
        lock(&self.stats).requests += 1;
        let limit = self.config.request_timeout;
        let (status, headers, body) =
            tokio::time::timeout(limit, self.exchange(octocrab, request, req))
                .await
                .map_err(|_| {
                    Failure::Retry(Error::Transient {
                        message: format!(
                            "{} {}: no complete answer within {}s (a stalled or dripping server)",
                            req.method,
                            redact_userinfo(&req.url),
                            limit.as_secs_f64()
                        ),
                    })
                })??;
        if status == StatusCode::NOT_MODIFIED {
            return match cached {
                Some(cached) => Ok(Reply {
                    status: StatusCode::OK,
                    headers,
                    body: cached.body,
                }),
                None => Err(Failure::Retry(Error::Transient {
                    message: format!(
                        "304 Not Modified for {} without a cached body",
                        redact_userinfo(&req.url)
                    ),
                })),
            };
        }
        if conditional
            && status == StatusCode::OK
            && let Some(etag) = headers.get(ETAG).and_then(|v| v.to_str().ok())
        {
            let cached = Cached {
                etag: etag.to_owned(),
                body: body.clone(),
            };
            lock(&self.cache).insert(req.url.clone(), cached);
        }
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// The installation token for a request to `url`: the cached one while it is good for more
    /// than [`crate::app::REFRESH_MARGIN_SECS`], else a new one bought with a JWT. The
    /// installation is the configured one, else the one of the repository's owner (looked up
    /// once per owner with `GET /repos/{owner}/{repo}/installation`).
    async fn installation_token(
        &self,
        octocrab: &Octocrab,
        app: &crate::app::GitHubApp,
        url: &str,
    ) -> Result<SecretString, Failure> {
        let now = crate::app::now_secs();
        let api = self.config.api_url.as_str();
        let repo = url
            .strip_prefix(api)
            .and_then(|p| p.strip_prefix("/repos/"))
            .and_then(|p| {
                let mut parts = p.split(['/', '?']);
                Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
            });
        let installation = match (app.installation_id(), &repo) {
            (Some(id), _) => id,
            (None, Some((owner, name))) => match self.app_tokens.installation_of(owner) {
                Some(id) => id,
                None => {
                    let jwt = app.jwt(now).map_err(Failure::Final)?;
                    let lookup = format!("{api}/repos/{owner}/{name}/installation");
                    let (status, body) = self.raw(octocrab, Method::GET, &lookup, &jwt).await?;
                    let id = match status {
                        StatusCode::OK => serde_json::from_str::<serde_json::Value>(&body)
                            .ok()
                            .and_then(|v| v["id"].as_u64()),
                        StatusCode::NOT_FOUND => {
                            return Err(Failure::Final(Error::Unauthenticated {
                                message: format!(
                                    "the GitHub App {} is not installed on {owner}/{name} \
                                     (install it, or set ORCHESTRATOR_APP_INSTALLATION_ID)",
                                    app.app_id()
                                ),
                            }));
                        }
                        _ => return Err(app_refused(app, status, &body)),
                    };
                    let id = id.ok_or_else(|| {
                        Failure::Final(Error::Transient {
                            message: format!("GET {lookup}: an installation without an id"),
                        })
                    })?;
                    self.app_tokens.remember_installation(owner, id);
                    id
                }
            },
            (None, None) => {
                return Err(Failure::Final(Error::invalid_input(format!(
                    "a request outside a repository ({}) as GitHub App {} needs \
                     ORCHESTRATOR_APP_INSTALLATION_ID",
                    redact_userinfo(url),
                    app.app_id()
                ))));
            }
        };
        if let Some(token) = self.app_tokens.fresh(installation, now) {
            return Ok(token);
        }
        let jwt = app.jwt(now).map_err(Failure::Final)?;
        let mint = format!("{api}/app/installations/{installation}/access_tokens");
        let (status, body) = self.raw(octocrab, Method::POST, &mint, &jwt).await?;
        if status != StatusCode::CREATED {
            return Err(app_refused(app, status, &body));
        }
        let value: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let token = value["token"]
            .as_str()
            .map(|t| SecretString::new(t.to_owned()));
        let expires_at = value["expires_at"]
            .as_str()
            .and_then(crate::wire::parse_time_ms)
            .map(|ms| ms / 1000);
        let (Some(token), Some(expires_at)) = (token, expires_at) else {
            return Err(Failure::Final(Error::Transient {
                message: format!("POST {mint}: an answer without a token and its expiry"),
            }));
        };
        tracing::debug!(
            "GitHub App {}: a new token for installation {installation}, good until {}",
            app.app_id(),
            crate::wire::format_time(expires_at * 1000)
        );
        self.app_tokens
            .store(installation, token.clone(), expires_at);
        Ok(token)
    }

    /// One request authenticated with `bearer` (the app's JWT), outside the cache and retries;
    /// its status and body.
    async fn raw(
        &self,
        octocrab: &Octocrab,
        method: Method,
        url: &str,
        bearer: &SecretString,
    ) -> Result<(StatusCode, String), Failure> {
        let shown = format!("{method} {}", redact_userinfo(url));
        let request = http::Request::builder()
            .method(method)
            .uri(url)
            .header(ACCEPT, "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .header(
                http::header::AUTHORIZATION,
                format!("Bearer {}", bearer.expose()),
            )
            .body(OctoBody::empty())
            .map_err(|e| Failure::Final(Error::invalid_input(format!("{shown}: {e}"))))?;
        lock(&self.stats).requests += 1;
        let transient = |e: String| Failure::Retry(Error::Transient { message: e });
        let exchange = async {
            let response = octocrab
                .execute(request)
                .await
                .map_err(|e| transient(format!("{shown}: {}", error_chain(&e))))?;
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| transient(format!("{shown}: {}", error_chain(&e))))?
                .to_bytes();
            Ok::<_, Failure>((status, String::from_utf8_lossy(&bytes).into_owned()))
        };
        tokio::time::timeout(self.config.request_timeout, exchange)
            .await
            .map_err(|_| transient(format!("{shown}: no answer in time")))?
    }

    /// Sends `request` and reads the whole answer: counts it, records the rate limit, and reads
    /// the body up to the cap. The caller bounds the time this takes.
    async fn exchange(
        &self,
        octocrab: &Octocrab,
        request: http::Request<OctoBody>,
        req: &Request<'_>,
    ) -> Result<(StatusCode, HeaderMap, String), Failure> {
        let shown = || format!("{} {}", req.method, redact_userinfo(&req.url));
        let response = octocrab.execute(request).await.map_err(|e| {
            Failure::Retry(Error::Transient {
                message: format!("{}: {}", shown(), redact_userinfo(&error_chain(&e))),
            })
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        {
            let mut stats = lock(&self.stats);
            if status == StatusCode::NOT_MODIFIED {
                stats.not_modified += 1;
            } else {
                stats.rate_limited += 1;
            }
        }
        if let (Some(remaining), Some(reset)) = (
            header_u64(&headers, "x-ratelimit-remaining"),
            header_u64(&headers, "x-ratelimit-reset"),
        ) {
            *lock(&self.rate_limit) = Some((remaining, reset));
            rate_budget().observe(remaining, reset);
        }
        let max = self.config.max_response_bytes;
        let too_large = || {
            // Not retried: the same request would bring the same flood.
            Failure::Final(Error::Transient {
                message: format!(
                    "{}: the response body is larger than the {} limit; not read",
                    shown(),
                    human_bytes(max)
                ),
            })
        };
        if header_u64(&headers, http::header::CONTENT_LENGTH.as_str())
            .is_some_and(|len| len > max as u64)
        {
            return Err(too_large());
        }
        let mut body = response.into_body();
        let mut bytes: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                Failure::Retry(Error::Transient {
                    message: format!(
                        "reading the response of {}: {}",
                        shown(),
                        redact_userinfo(&error_chain(&e))
                    ),
                })
            })?;
            if let Ok(data) = frame.into_data() {
                if bytes.len().saturating_add(data.len()) > max {
                    return Err(too_large());
                }
                bytes.extend_from_slice(&data);
            }
        }
        let body = String::from_utf8(bytes).map_err(|e| {
            Failure::Retry(Error::Transient {
                message: format!("the response of {} is not UTF-8: {e}", shown()),
            })
        })?;
        Ok((status, headers, body))
    }

    /// Exponential backoff from the base delay with up to 50% jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .policy
            .base_delay
            .saturating_mul(1u32 << attempt.min(16));
        exp.mul_f64(1.0 + jitter() * 0.5)
    }
}

/// Why one attempt failed, and whether another attempt may help.
enum Failure {
    /// A connection error, a timeout, a garbled answer: try again (within the retry budget).
    Retry(Error),
    /// Another attempt would fail the same way (a bad URL, an oversized body).
    Final(Error),
}

/// `16 MiB`, `512 KiB`, `100 bytes`: a limit as people write it.
fn human_bytes(n: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

/// A pseudo-random fraction in `[0, 1)`: enough to spread retries of concurrent callers.
fn jitter() -> f64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (u64::from(nanos).wrapping_mul(2_654_435_761) % 1000) as f64 / 1000.0
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain counters or a cache: still usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The whole `source()` chain of an error on one line (octocrab's top-level message alone is
/// often just "Service error").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !out.contains(&next) {
            out.push_str(": ");
            out.push_str(&next);
        }
        source = s.source();
    }
    out
}

/// `Some(RateLimited)` when the response is a primary or secondary rate limit: any 429; a 403
/// with `x-ratelimit-remaining: 0`, a `Retry-After`, or GitHub's "secondary rate limit" message.
pub(crate) fn rate_limit_error(
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
) -> Option<Error> {
    let exhausted = header_u64(headers, "x-ratelimit-remaining") == Some(0);
    let retry_after_header = header_u64(headers, RETRY_AFTER.as_str());
    let message = GhError::parse(body).message;
    let secondary = message.to_ascii_lowercase().contains("rate limit");
    let limited = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN
            && (exhausted || retry_after_header.is_some() || secondary));
    if !limited {
        return None;
    }
    let retry_after = retry_after_header.map(Duration::from_secs).or_else(|| {
        let reset = header_u64(headers, "x-ratelimit-reset")?;
        // The reset is a whole second; never answer zero, or we would hit the limit again.
        Some(Duration::from_secs(
            reset.saturating_sub(now_epoch()).max(1),
        ))
    });
    let message = if message.is_empty() {
        format!("GitHub answered {status}")
    } else {
        format!("GitHub answered {status}: {message}")
    };
    if let Some(after) = retry_after.filter(|after| *after > MAX_RATE_LIMIT_WAIT) {
        // Believing it would park the run for (possibly) years; no caller could do better.
        return Some(Error::PermissionDenied {
            message: format!(
                "{message}, a rate limit asking to wait {} (more than the {} minutes a GitHub \
                 rate-limit window lasts); not waiting",
                human_wait(after),
                MAX_RATE_LIMIT_WAIT.as_secs() / 60
            ),
        });
    }
    Some(Error::RateLimited {
        retry_after,
        message,
    })
}

/// `3h 20m`, `41 days`, `5 years`: a wait as people say it.
fn human_wait(d: Duration) -> String {
    let secs = d.as_secs();
    const DAY: u64 = 86_400;
    if secs >= 365 * DAY {
        format!("{} years", secs / (365 * DAY))
    } else if secs >= 2 * DAY {
        format!("{} days", secs / DAY)
    } else {
        format!("{}h {}m", secs / 3600, secs % 3600 / 60)
    }
}

/// The error for a non-success `status`, by meaning.
pub(crate) fn status_error(
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    what: &str,
) -> Error {
    if let Some(e) = rate_limit_error(status, headers, body) {
        return e;
    }
    let gh = GhError::parse(body);
    let detail = if gh.message.is_empty() {
        status.to_string()
    } else {
        format!("{status}: {}", gh.message)
    };
    match status.as_u16() {
        401 => Error::Unauthenticated {
            message: format!(
                "GitHub rejected the credentials ({detail}); set GITHUB_TOKEN or GH_TOKEN to a valid token"
            ),
        },
        403 => Error::PermissionDenied {
            message: format!("{what}: {detail}"),
        },
        404 => Error::NotFound {
            what: what.to_owned(),
        },
        409 | 422 => Error::Conflict {
            message: format!("{what}: {detail}"),
        },
        _ if status.is_server_error() => Error::Transient {
            message: format!("{what}: GitHub answered {detail}"),
        },
        _ => Error::Transient {
            message: format!("{what}: unexpected answer {detail}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::{Cached, EtagCache, RateBudget, now_epoch};

    /// Issue 17: a poll waits while the budget is deferred, and goes as soon as the deferral is
    /// lifted (a replica learned the window reset); without a deferral it does not wait.
    #[tokio::test]
    async fn polls_wait_while_deferred_and_go_when_lifted() {
        let budget = std::sync::Arc::new(RateBudget::default());
        tokio::time::timeout(std::time::Duration::from_secs(10), budget.poll_allowed())
            .await
            .expect("not deferred: at once");
        budget.defer_polls_until(now_epoch() + 3000);
        let waiting = {
            let budget = std::sync::Arc::clone(&budget);
            tokio::spawn(async move { budget.poll_allowed().await })
        };
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        assert!(!waiting.is_finished(), "deferred");
        budget.defer_polls_until(0);
        tokio::time::timeout(std::time::Duration::from_secs(10), waiting)
            .await
            .expect("lifted: the poll goes (bounded)")
            .expect("no panic");
        budget.defer_polls_until(now_epoch() + 10 * 3600);
        assert!(
            budget.polls_deferred_until() <= now_epoch() + super::MAX_RATE_LIMIT_WAIT.as_secs(),
            "capped to one window"
        );
    }

    fn page(n: usize, body: usize) -> (String, Cached) {
        (
            format!("https://api.github.com/r/{n:04}"),
            Cached {
                etag: format!("\"e{n}\""),
                body: "x".repeat(body),
            },
        )
    }

    /// Issue 17: the cache of a long-running service stays within its entry bound however many
    /// URLs it polls; the least recently *used* goes first (a read refreshes an entry).
    #[test]
    fn the_etag_cache_keeps_at_most_its_entries_evicting_the_least_recently_used() {
        let mut cache = EtagCache::new(3, usize::MAX);
        for n in 0..3 {
            let (url, cached) = page(n, 10);
            cache.insert(url, cached);
        }
        assert!(cache.get(&page(0, 0).0).is_some(), "0 is now the newest");
        let (url, cached) = page(3, 10);
        cache.insert(url, cached);
        assert_eq!(cache.len(), 3);
        assert!(
            cache.get(&page(1, 0).0).is_none(),
            "1 was the least recently used"
        );
        for n in [0, 2, 3] {
            assert!(cache.get(&page(n, 0).0).is_some(), "{n} kept");
        }
        for n in 4..2000 {
            let (url, cached) = page(n, 10);
            cache.insert(url, cached);
        }
        assert_eq!(cache.len(), 3);
        let expected = 3 * (page(1999, 10).0.len() + "\"e1999\"".len() + 10);
        assert_eq!(cache.bytes(), expected);
    }

    /// The byte bound holds too: big bodies push out old entries, a body over the whole bound is
    /// not kept at all, and replacing or forgetting an entry gives its bytes back.
    #[test]
    fn the_etag_cache_keeps_within_its_byte_bound() {
        let size = |n: usize, body: usize| {
            let (url, cached) = page(n, body);
            cached.bytes(&url)
        };
        let bound = size(0, 1000) * 2 + 10;
        let mut cache = EtagCache::new(100, bound);
        for n in 0..3 {
            let (url, cached) = page(n, 1000);
            cache.insert(url, cached);
            assert!(cache.bytes() <= bound);
        }
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&page(0, 0).0).is_none(), "the oldest made room");
        let (url, huge) = page(9, bound);
        cache.insert(url.clone(), huge);
        assert!(cache.get(&url).is_none(), "larger than the bound: not kept");
        assert_eq!(cache.len(), 2, "and nothing evicted for it");
        let (url, small) = page(1, 1);
        cache.insert(url.clone(), small);
        assert_eq!(cache.bytes(), size(1, 1) + size(2, 1000));
        cache.remove(&url);
        assert_eq!(cache.bytes(), size(2, 1000));
        let mut off = EtagCache::new(0, usize::MAX);
        let (url, cached) = page(0, 1);
        off.insert(url.clone(), cached);
        assert!(off.get(&url).is_none(), "0 entries: no cache");
    }

    use super::*;

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("valid header"));
        }
        h
    }

    #[test]
    fn statuses_map_to_error_meanings() {
        let none = HeaderMap::new();
        let e = |code: u16, h: &HeaderMap, body: &str| {
            status_error(
                StatusCode::from_u16(code).expect("valid"),
                h,
                body,
                "release x",
            )
        };
        assert!(matches!(e(401, &none, ""), Error::Unauthenticated { .. }));
        assert!(matches!(
            e(
                403,
                &none,
                r#"{"message":"Resource not accessible by integration"}"#
            ),
            Error::PermissionDenied { .. }
        ));
        assert!(matches!(e(404, &none, ""), Error::NotFound { .. }));
        assert!(matches!(e(409, &none, ""), Error::Conflict { .. }));
        assert!(matches!(e(422, &none, ""), Error::Conflict { .. }));
        assert!(matches!(e(502, &none, ""), Error::Transient { .. }));
        assert!(matches!(e(503, &none, ""), Error::Transient { .. }));
    }

    #[test]
    fn rate_limits_carry_the_wait() {
        let reset = now_epoch() + 30;
        let primary = headers(&[
            ("x-ratelimit-remaining", "0".into()),
            ("x-ratelimit-reset", reset.to_string()),
        ]);
        let Some(Error::RateLimited {
            retry_after: Some(after),
            ..
        }) = rate_limit_error(StatusCode::FORBIDDEN, &primary, "")
        else {
            panic!("403 with remaining 0 is a rate limit")
        };
        assert!(after >= Duration::from_secs(29) && after <= Duration::from_secs(30));

        let retry_after = headers(&[("retry-after", "7".into())]);
        for status in [StatusCode::FORBIDDEN, StatusCode::TOO_MANY_REQUESTS] {
            assert!(matches!(
                rate_limit_error(status, &retry_after, ""),
                Some(Error::RateLimited { retry_after: Some(d), .. }) if d == Duration::from_secs(7)
            ));
        }
        let secondary = r#"{"message":"You have exceeded a secondary rate limit."}"#;
        assert!(matches!(
            rate_limit_error(StatusCode::FORBIDDEN, &HeaderMap::new(), secondary),
            Some(Error::RateLimited {
                retry_after: None,
                ..
            })
        ));
        assert!(rate_limit_error(StatusCode::FORBIDDEN, &HeaderMap::new(), "").is_none());
        // A wait beyond GitHub's one-hour window is a broken or hostile server: an error that
        // nobody sleeps on, never a `RateLimited` of years.
        let absurd = headers(&[("retry-after", "999999999".into())]);
        let Some(e @ Error::PermissionDenied { .. }) =
            rate_limit_error(StatusCode::TOO_MANY_REQUESTS, &absurd, "")
        else {
            panic!("an absurd Retry-After is refused")
        };
        assert!(e.to_string().contains("31 years"), "{e}");
        let far_reset = headers(&[
            ("x-ratelimit-remaining", "0".into()),
            ("x-ratelimit-reset", (now_epoch() + 2 * 3600).to_string()),
        ]);
        assert!(matches!(
            rate_limit_error(StatusCode::FORBIDDEN, &far_reset, ""),
            Some(Error::PermissionDenied { .. })
        ));
        let hour = headers(&[("retry-after", "3600".into())]);
        assert!(matches!(
            rate_limit_error(StatusCode::TOO_MANY_REQUESTS, &hour, ""),
            Some(Error::RateLimited { .. })
        ));

        let past = headers(&[
            ("x-ratelimit-remaining", "0".into()),
            ("x-ratelimit-reset", "1".into()),
        ]);
        assert!(matches!(
            rate_limit_error(StatusCode::FORBIDDEN, &past, ""),
            Some(Error::RateLimited { retry_after: Some(d), .. }) if d == Duration::from_secs(1)
        ));
    }
}
