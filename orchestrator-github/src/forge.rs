//! [`GitHubForge`]: every forge capability (the full [`Forge`]) over GitHub's REST API, and its
//! builder. One impl block per capability trait.
//!
//! [`Forge`]: orchestrator_core::forge::Forge

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use http::{Method, StatusCode, Uri};
use orchestrator_core::forge::redact_userinfo;
use orchestrator_core::forge::{
    AccessForge, Comment, Comparison, ContentForge, ForgeBackend, Issue, IssueForge,
    NewPullRequest, NewRelease, Permission, PullCommit, PullRequest, PullRequestForge, Release,
    ReleaseAsset, ReleaseForge, ReleaseUpdate, ReleaseWriteForge, RepoId, RequestStats, Review,
    ReviewState, WorkflowDispatch, WorkflowForge, WorkflowRun, WorkflowRunQuery,
};
use orchestrator_core::secret::SecretString;
use orchestrator_core::{Error, Result};

use crate::transport::{ClientConfig, Reply, Request, RetryPolicy, Transport};
use crate::wire::{
    GhAsset, GhComment, GhCommentBody, GhComparison, GhContent, GhError, GhIssue, GhLabels,
    GhNewIssue, GhNewPullRequest, GhNewRef, GhNewRelease, GhNewReview, GhPermission, GhPullCommit,
    GhPullFile, GhPullRequest, GhRelease, GhReleaseUpdate, GhRepositoryDispatch, GhReview, GhUser,
    GhWorkflowDispatch, GhWorkflowDispatchRun, GhWorkflowRun, GhWorkflowRuns, format_time,
};

/// GitHub's public API.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// Page size of list requests by default (GitHub's maximum).
const PER_PAGE: u32 = 100;

/// A bound on followed `Link: rel="next"` pages, so a misbehaving server cannot loop us forever.
const MAX_PAGES: usize = 1000;

/// The full [`Forge`](orchestrator_core::forge::Forge) backed by GitHub (github.com, GitHub
/// Enterprise Server, or the mock server).
///
/// Cheap to clone (the state is shared): the ETag cache, request counts and the last seen rate
/// limit are common to all clones. `Debug` shows the URLs and whether a token is set, never the
/// token.
#[derive(Clone)]
pub struct GitHubForge {
    inner: Arc<Inner>,
}

/// `(repo, tag)` → the repo's newest-release page at the last look, and the tag's release if that
/// page showed it.
type WatchedTags = std::collections::HashMap<(String, String), (String, Option<Release>)>;

struct Inner {
    api_url: String,
    upload_url: String,
    authenticated: bool,
    page_size: u32,
    transport: Transport,
    /// Tags watched through their repo's newest-release page (see `release_by_tag`).
    watched: std::sync::Mutex<WatchedTags>,
    /// Run ids GitHub returned for our dispatches, by (repo, workflow file): listings include
    /// them even before GitHub's run list shows them (see `list_workflow_runs`).
    dispatched: std::sync::Mutex<std::collections::HashMap<(String, String), Vec<u64>>>,
}

/// How many dispatched run ids are remembered per workflow (the newest).
const DISPATCHED_KEPT: usize = 64;

impl fmt::Debug for GitHubForge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubForge")
            .field("api_url", &self.inner.api_url)
            .field("upload_url", &self.inner.upload_url)
            .field("authenticated", &self.inner.authenticated)
            .field("stats", &self.request_stats())
            .finish()
    }
}

/// Builds a [`GitHubForge`]; see [`GitHubForge::builder`].
#[derive(Debug, Clone)]
pub struct GitHubForgeBuilder {
    api_url: String,
    upload_url: Option<String>,
    token: Option<SecretString>,
    app: Option<Arc<crate::app::GitHubApp>>,
    page_size: u32,
    max_retries: u32,
    retry_base_delay: Duration,
    max_inline_rate_limit_wait: Duration,
    connect_timeout: Duration,
    read_timeout: Duration,
    request_timeout: Duration,
    max_response_bytes: usize,
    etag_cache: (usize, usize),
}

impl Default for GitHubForgeBuilder {
    fn default() -> Self {
        Self {
            api_url: DEFAULT_API_URL.to_owned(),
            upload_url: None,
            token: None,
            app: None,
            page_size: PER_PAGE,
            max_retries: 3,
            retry_base_delay: Duration::from_millis(200),
            max_inline_rate_limit_wait: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
            max_response_bytes: crate::transport::DEFAULT_MAX_RESPONSE_BYTES,
            etag_cache: (
                crate::transport::DEFAULT_ETAG_CACHE_ENTRIES,
                crate::transport::DEFAULT_ETAG_CACHE_BYTES,
            ),
        }
    }
}

impl GitHubForgeBuilder {
    /// The REST API root: `https://api.github.com` (the default), `https://ghe.example.com/api/v3`
    /// for GitHub Enterprise Server, or the mock server's URL.
    pub fn api_url(mut self, url: &str) -> Self {
        url.trim_end_matches('/').clone_into(&mut self.api_url);
        self
    }

    /// Where assets are uploaded. Default: `https://uploads.github.com` for `api.github.com`,
    /// `https://host/api/uploads` for an Enterprise Server API URL `https://host/api/v3`, else the
    /// API URL itself (the mock server).
    pub fn upload_url(mut self, url: &str) -> Self {
        self.upload_url = Some(url.trim_end_matches('/').to_owned());
        self
    }

    /// The token; `None` makes anonymous requests (60 per hour on github.com).
    pub fn token(mut self, token: Option<SecretString>) -> Self {
        self.token = token;
        self
    }

    /// Authenticate as a GitHub App's installation (see [`crate::GitHubApp`]): every request
    /// carries an installation token, minted with the app's JWT and replaced before it expires
    /// (or at once when GitHub refuses it). Wins over [`token`](Self::token).
    pub fn app(mut self, app: crate::GitHubApp) -> Self {
        self.app = Some(Arc::new(app));
        self
    }

    /// `per_page` of list requests, 1 to 100 (default 100, GitHub's maximum: fewest requests).
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = size.clamp(1, PER_PAGE);
        self
    }

    /// Retries after a 5xx answer or a connection error (default 3).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The first retry's backoff (default 200ms); each later one doubles, with jitter.
    pub fn retry_base_delay(mut self, delay: Duration) -> Self {
        self.retry_base_delay = delay;
        self
    }

    /// Rate limits that ask for at most this wait are waited out inside the adapter and retried
    /// (default 2s); longer ones are returned as [`Error::RateLimited`] for the caller to sleep.
    pub fn max_inline_rate_limit_wait(mut self, wait: Duration) -> Self {
        self.max_inline_rate_limit_wait = wait;
        self
    }

    /// Connection timeout (default 10s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Read (idle) timeout: the longest silence while reading a response (default 30s); a
    /// timeout is a transient error.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// The whole-exchange timeout of one attempt, from sending the request to the last byte of
    /// the body (default 60s). Unlike the idle [`read_timeout`](Self::read_timeout), a server that
    /// drips a byte now and then cannot stretch it. A timeout is a transient error (retried).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The largest response body read, in bytes (default 16 MiB). A larger `Content-Length`, or
    /// a body that grows past it, is an error naming the limit; memory stays bounded.
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Bounds of the conditional-request (ETag) cache: at most `entries` URLs and `bytes` bytes
    /// of URLs, ETags and bodies (defaults 1024 and 16 MiB); the least recently used go first.
    /// `0` turns the cache off (every poll is a full, rate-limited request).
    pub fn etag_cache_limits(mut self, entries: usize, bytes: usize) -> Self {
        self.etag_cache = (entries, bytes);
        self
    }

    /// Builds the forge. Never touches the network; fails only on an invalid URL (or when the
    /// system's TLS roots cannot be loaded). Callable outside a Tokio runtime: the HTTP client is
    /// then created on the first request.
    pub fn build(mut self) -> Result<GitHubForge> {
        // `user:password@` in a URL is never sent (the token travels in a header) and would show
        // in every message that names a URL: it is dropped here, once, for every request.
        self.api_url = without_userinfo(&self.api_url, "forge API URL");
        let api_uri = parse_base(&self.api_url, "forge API URL")?;
        let upload_url = match self.upload_url {
            Some(url) => without_userinfo(&url, "forge upload URL"),
            None => default_upload_url(&self.api_url, &api_uri),
        };
        parse_base(&upload_url, "forge upload URL")?;

        let policy = RetryPolicy {
            max_retries: self.max_retries,
            base_delay: self.retry_base_delay,
            max_inline_wait: self.max_inline_rate_limit_wait,
        };
        let authenticated = self.token.is_some() || self.app.is_some();
        let config = ClientConfig {
            api_url: self.api_url.clone(),
            upload_url: upload_url.clone(),
            // The app's installation tokens replace a plain token.
            token: self.token.filter(|_| self.app.is_none()),
            app: self.app,
            connect_timeout: self.connect_timeout,
            read_timeout: self.read_timeout,
            request_timeout: self.request_timeout,
            max_response_bytes: self.max_response_bytes,
            etag_cache_entries: self.etag_cache.0,
            etag_cache_bytes: self.etag_cache.1,
        };
        Ok(GitHubForge {
            inner: Arc::new(Inner {
                api_url: self.api_url,
                upload_url,
                authenticated,
                page_size: self.page_size,
                transport: Transport::new(config, policy)?,
                watched: std::sync::Mutex::default(),
                dispatched: std::sync::Mutex::default(),
            }),
        })
    }
}

/// `url` without its `user:password@`, with a warning when there was one (it was not used).
fn without_userinfo(url: &str, what: &str) -> String {
    let stripped = redact_userinfo(url).into_owned();
    if stripped != url {
        tracing::warn!(
            "the {what} {stripped} carried a user:password part; it is not used (the token comes \
             from GITHUB_TOKEN or GH_TOKEN) and was dropped"
        );
    }
    stripped
}

fn parse_base(url: &str, what: &str) -> Result<Uri> {
    let shown = redact_userinfo(url);
    let uri: Uri = url
        .parse()
        .map_err(|e| Error::invalid_input(format!("invalid {what} {shown:?}: {e}")))?;
    match (uri.scheme_str(), uri.authority()) {
        (Some("http" | "https"), Some(_)) if uri.query().is_none() => Ok(uri),
        _ => Err(Error::invalid_input(format!(
            "invalid {what} {shown:?}: expected http(s)://host[:port][/path]"
        ))),
    }
}

/// Where uploads go when not configured: `api.github.com` uploads to `uploads.github.com`;
/// GitHub Enterprise Server's `https://host/api/v3` uploads to `https://host/api/uploads`; every
/// other URL (a proxy, the mock server) takes uploads at the API URL itself.
fn default_upload_url(api_url: &str, api_uri: &Uri) -> String {
    if api_uri.host() == Some("api.github.com") {
        "https://uploads.github.com".to_owned()
    } else if let Some(root) = api_url.strip_suffix("/api/v3") {
        format!("{root}/api/uploads")
    } else {
        api_url.to_owned()
    }
}

impl GitHubForge {
    /// A builder with the defaults: `https://api.github.com`, anonymous, 3 retries from 200ms.
    pub fn builder() -> GitHubForgeBuilder {
        GitHubForgeBuilder::default()
    }

    /// A forge at `api_url` (default `https://api.github.com`) with the token from
    /// `GITHUB_TOKEN` or `GH_TOKEN`, anonymous when neither is set.
    pub fn from_env(api_url: Option<&str>) -> Result<GitHubForge> {
        Self::builder()
            .api_url(api_url.unwrap_or(DEFAULT_API_URL))
            .token(SecretString::forge_token_from_env())
            .build()
    }

    /// The REST API root requests go to.
    pub fn api_url(&self) -> &str {
        &self.inner.api_url
    }

    /// The root asset uploads go to.
    pub fn upload_url(&self) -> &str {
        &self.inner.upload_url
    }

    /// The latest rate limit GitHub reported: `(remaining, reset as Unix seconds)`; `None` before
    /// the first response that carried the headers.
    pub fn rate_limit(&self) -> Option<(u64, u64)> {
        self.inner.transport.rate_limit()
    }

    fn lock_watched(&self) -> std::sync::MutexGuard<'_, WatchedTags> {
        // Plain data: a panic elsewhere cannot leave it inconsistent.
        self.inner
            .watched
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_dispatched(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<(String, String), Vec<u64>>> {
        // Plain data: a panic elsewhere cannot leave it inconsistent.
        self.inner
            .dispatched
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn repo_url(&self, repo: &RepoId) -> String {
        format!(
            "{}/repos/{}/{}",
            self.inner.api_url,
            encode(&repo.owner),
            encode(&repo.name)
        )
    }

    async fn send(&self, req: Request<'_>) -> Result<Reply> {
        self.inner.transport.send(&req).await
    }

    async fn get(&self, url: String, what: &str) -> Result<Reply> {
        self.send(Request {
            method: Method::GET,
            url,
            body: None,
            what,
        })
        .await
    }

    /// Sends `body` as JSON.
    async fn send_json(
        &self,
        method: Method,
        url: String,
        body: &impl serde::Serialize,
        what: &str,
    ) -> Result<Reply> {
        let body =
            serde_json::to_vec(body).map_err(|e| Error::invalid_input(format!("{what}: {e}")))?;
        self.send(Request {
            method,
            url,
            body: Some((body, "application/json")),
            what,
        })
        .await
    }

    /// Every page from `first_url` on, following `Link: rel="next"`; `page` reads one page's
    /// items. `404` is `NotFound { what }`.
    async fn all_pages<T>(
        &self,
        first_url: String,
        what: &str,
        page: impl Fn(&Reply) -> Result<Vec<T>>,
    ) -> Result<Vec<T>> {
        let mut url = Some(first_url);
        let mut items = Vec::new();
        let mut pages = 0;
        // A `next` link back to a page already read is a loop: stop at once, not after MAX_PAGES.
        let mut seen = std::collections::HashSet::new();
        while let Some(page_url) = url.take() {
            if !seen.insert(page_url.clone()) {
                return Err(Error::Transient {
                    message: format!(
                        "{what}: the forge's pagination loops (page {} links back to {}); giving up",
                        pages,
                        redact_userinfo(&page_url)
                    ),
                });
            }
            pages += 1;
            if pages > MAX_PAGES {
                return Err(Error::Transient {
                    message: format!("{what}: more than {MAX_PAGES} pages; giving up"),
                });
            }
            let reply = self.get(page_url, what).await?;
            match reply.status {
                StatusCode::OK => {}
                StatusCode::NOT_FOUND => {
                    return Err(Error::NotFound {
                        what: what.to_owned(),
                    });
                }
                _ => return Err(reply.into_error(what)),
            }
            items.extend(page(&reply)?);
            url = reply
                .headers
                .get_all(http::header::LINK)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(next_link);
        }
        Ok(items)
    }
}

/// The error for a `422` on a request whose input GitHub rejected (an unknown input, a workflow
/// without a `workflow_dispatch` trigger, a bad ref).
fn rejected(reply: &Reply, what: &str) -> Error {
    Error::invalid_input(format!(
        "GitHub rejected {what}: {}",
        GhError::parse(&reply.body).describe()
    ))
}

impl ForgeBackend for GitHubForge {
    fn backend(&self) -> &'static str {
        "github"
    }

    fn request_stats(&self) -> RequestStats {
        self.inner.transport.stats()
    }
}

#[async_trait]
impl ReleaseForge for GitHubForge {
    async fn release_by_tag(&self, repo: &RepoId, tag: &str) -> Result<Option<Release>> {
        let what = format!("release {tag} of {repo}");
        let key = (repo.to_string(), tag.to_owned());
        let newest_url = format!("{}/releases?per_page=1", self.repo_url(repo));
        let watched = self.lock_watched().get(&key).cloned();
        if let Some((known_body, known_release)) = watched {
            // A missing tag answers 404, which GitHub counts against the rate limit on every
            // poll; the repository's newest release answers a free 304 until something changes.
            // So a tag is watched through that page while it has no release, and while its
            // release is the newest one (the page carries its assets too).
            let reply = self.get(newest_url.clone(), &what).await?;
            if reply.status != StatusCode::OK {
                return Err(reply.into_error(&what));
            }
            if reply.body == known_body {
                return Ok(known_release);
            }
            let newest: Vec<GhRelease> = reply.json(&what)?;
            match newest.into_iter().next().filter(|r| r.tag_name == tag) {
                Some(ours) => {
                    let ours: Release = ours.into();
                    self.lock_watched()
                        .insert(key, (reply.body, Some(ours.clone())));
                    return Ok(Some(ours));
                }
                None if known_release.is_none() => {
                    // Something else changed: the tag may have a release now; ask for it.
                    self.lock_watched().insert(key.clone(), (reply.body, None));
                }
                None => {
                    // Our release is no longer the newest: follow it by tag from now on.
                    self.lock_watched().remove(&key);
                }
            }
        }
        let url = format!("{}/releases/tags/{}", self.repo_url(repo), encode(tag));
        let reply = self.get(url, &what).await?;
        match reply.status {
            StatusCode::OK => {
                self.lock_watched().remove(&key);
                Ok(Some(reply.json::<GhRelease>(&what)?.into()))
            }
            StatusCode::NOT_FOUND => {
                if !self.lock_watched().contains_key(&key) {
                    // First miss: remember what the newest release looks like now, so the next
                    // polls can be answered by a free 304.
                    let newest = self.get(newest_url, &what).await?;
                    if newest.status == StatusCode::OK {
                        // The release may have been published between the two requests: then
                        // the page already shows it, and no later change of the page would.
                        let page: Vec<GhRelease> = newest.json(&what)?;
                        let ours = page
                            .into_iter()
                            .next()
                            .filter(|r| r.tag_name == tag)
                            .map(Release::from);
                        self.lock_watched().insert(key, (newest.body, ours.clone()));
                        return Ok(ours);
                    }
                }
                Ok(None)
            }
            _ => Err(reply.into_error(&what)),
        }
    }

    async fn list_releases(&self, repo: &RepoId) -> Result<Vec<Release>> {
        let what = format!("releases of {repo}");
        let url = format!(
            "{}/releases?per_page={}",
            self.repo_url(repo),
            self.inner.page_size
        );
        self.all_pages(url, &what, |reply| {
            let page: Vec<GhRelease> = reply.json(&what)?;
            Ok(page.into_iter().map(Release::from).collect())
        })
        .await
    }

    async fn latest_release(&self, repo: &RepoId) -> Result<Option<Release>> {
        let what = format!("latest release of {repo}");
        let reply = self
            .get(format!("{}/releases/latest", self.repo_url(repo)), &what)
            .await?;
        match reply.status {
            StatusCode::OK => Ok(Some(reply.json::<GhRelease>(&what)?.into())),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(reply.into_error(&what)),
        }
    }
}

#[async_trait]
impl ReleaseWriteForge for GitHubForge {
    async fn create_release(&self, repo: &RepoId, release: &NewRelease) -> Result<Release> {
        let what = format!("release {} of {repo}", release.tag);
        let body = serde_json::to_vec(&GhNewRelease::from(release))
            .map_err(|e| Error::invalid_input(format!("{what}: {e}")))?;
        let reply = self
            .send(Request {
                method: Method::POST,
                url: format!("{}/releases", self.repo_url(repo)),
                body: Some((body, "application/json")),
                what: &what,
            })
            .await?;
        match reply.status {
            StatusCode::CREATED | StatusCode::OK => Ok(reply.json::<GhRelease>(&what)?.into()),
            StatusCode::UNPROCESSABLE_ENTITY if GhError::parse(&reply.body).already_exists() => {
                Err(Error::AlreadyExists { what })
            }
            StatusCode::NOT_FOUND => Err(Error::NotFound {
                what: format!("repository {repo}"),
            }),
            _ => Err(reply.into_error(&what)),
        }
    }

    async fn upload_asset(
        &self,
        repo: &RepoId,
        release_id: u64,
        name: &str,
        content: &[u8],
    ) -> Result<ReleaseAsset> {
        let what = format!("asset {name} of release {release_id} of {repo}");
        let url = format!(
            "{}/repos/{}/{}/releases/{release_id}/assets?name={}",
            self.inner.upload_url,
            encode(&repo.owner),
            encode(&repo.name),
            encode(name)
        );
        let reply = self
            .send(Request {
                method: Method::POST,
                url,
                body: Some((content.to_vec(), "application/octet-stream")),
                what: &what,
            })
            .await?;
        match reply.status {
            StatusCode::CREATED | StatusCode::OK => Ok(reply.json::<GhAsset>(&what)?.into()),
            // GitHub answers 422 for a duplicate name (its body says `already_exists`).
            StatusCode::UNPROCESSABLE_ENTITY => Err(Error::AlreadyExists { what }),
            StatusCode::NOT_FOUND => Err(Error::NotFound {
                what: format!("release {release_id} of {repo}"),
            }),
            _ => Err(reply.into_error(&what)),
        }
    }

    async fn update_release(
        &self,
        repo: &RepoId,
        release_id: u64,
        update: &ReleaseUpdate,
    ) -> Result<Release> {
        let what = format!("release {release_id} of {repo}");
        let url = format!("{}/releases/{release_id}", self.repo_url(repo));
        let reply = self
            .send_json(Method::PATCH, url, &GhReleaseUpdate::from(update), &what)
            .await?;
        match reply.status {
            StatusCode::OK => Ok(reply.json::<GhRelease>(&what)?.into()),
            StatusCode::NOT_FOUND => Err(Error::NotFound { what }),
            _ => Err(reply.into_error(&what)),
        }
    }
}

#[async_trait]
impl WorkflowForge for GitHubForge {
    async fn dispatch_workflow(&self, repo: &RepoId, dispatch: &WorkflowDispatch) -> Result<()> {
        let what = format!(
            "dispatch of workflow {} at {} in {repo}",
            dispatch.workflow, dispatch.git_ref
        );
        let url = format!(
            "{}/actions/workflows/{}/dispatches",
            self.repo_url(repo),
            encode(&dispatch.workflow)
        );
        // Ask for the run's id: GitHub answers `200` with it where it supports the field.
        let mut body = GhWorkflowDispatch {
            git_ref: dispatch.git_ref.clone(),
            inputs: dispatch.inputs.clone(),
            return_run_details: Some(true),
        };
        let mut reply = self
            .send_json(Method::POST, url.clone(), &body, &what)
            .await?;
        if reply.status == StatusCode::UNPROCESSABLE_ENTITY
            && reply.body.contains("return_run_details")
        {
            // A GitHub (Enterprise Server) without the field: dispatch without it; the caller
            // correlates the run.
            body.return_run_details = None;
            reply = self.send_json(Method::POST, url, &body, &what).await?;
        }
        match reply.status {
            StatusCode::OK => {
                if let Ok(run) = serde_json::from_str::<GhWorkflowDispatchRun>(&reply.body) {
                    let key = (
                        repo.to_string(),
                        orchestrator_core::forge::workflow_file(&dispatch.workflow).to_owned(),
                    );
                    let mut dispatched = self.lock_dispatched();
                    let ids = dispatched.entry(key).or_default();
                    ids.push(run.workflow_run_id);
                    if ids.len() > DISPATCHED_KEPT {
                        ids.remove(0);
                    }
                }
                Ok(())
            }
            StatusCode::NO_CONTENT => Ok(()),
            StatusCode::NOT_FOUND => Err(Error::NotFound {
                what: format!("workflow {} of {repo}", dispatch.workflow),
            }),
            StatusCode::UNPROCESSABLE_ENTITY => Err(rejected(&reply, &what)),
            _ => Err(reply.into_error(&what)),
        }
    }

    async fn list_workflow_runs(
        &self,
        repo: &RepoId,
        query: &WorkflowRunQuery,
    ) -> Result<Vec<WorkflowRun>> {
        let what = match &query.workflow {
            Some(workflow) => format!("runs of workflow {workflow} of {repo}"),
            None => format!("workflow runs of {repo}"),
        };
        let mut url = match &query.workflow {
            Some(workflow) => format!(
                "{}/actions/workflows/{}/runs",
                self.repo_url(repo),
                encode(workflow)
            ),
            None => format!("{}/actions/runs", self.repo_url(repo)),
        };
        url.push_str(&format!("?per_page={}", self.inner.page_size));
        if let Some(event) = &query.event {
            url.push_str(&format!("&event={}", encode(event)));
        }
        if let Some(sha) = &query.head_sha {
            url.push_str(&format!("&head_sha={}", encode(sha)));
        }
        if let Some(after) = query.created_after_ms {
            url.push_str(&format!(
                "&created={}",
                encode(&format!(">={}", format_time(after)))
            ));
        }
        let mut runs = self
            .all_pages(url, &what, |reply| {
                let page: GhWorkflowRuns = reply.json(&what)?;
                Ok(page
                    .workflow_runs
                    .into_iter()
                    .map(WorkflowRun::from)
                    .collect())
            })
            .await?;
        // Runs GitHub said our dispatches started: by id, when the listing does not show them
        // yet (GitHub's run list lags behind a dispatch), so correlation finds them at once.
        if let Some(workflow) = &query.workflow
            && query
                .event
                .as_deref()
                .is_none_or(|e| e == "workflow_dispatch")
        {
            let key = (
                repo.to_string(),
                orchestrator_core::forge::workflow_file(workflow).to_owned(),
            );
            let ids = self
                .lock_dispatched()
                .get(&key)
                .cloned()
                .unwrap_or_default();
            for id in ids {
                if runs.iter().any(|r| r.id == id) {
                    continue;
                }
                match self.workflow_run(repo, id).await {
                    Ok(run) => runs.push(run),
                    // Deleted since, or not visible to this token: the listing decides.
                    Err(Error::NotFound { .. } | Error::PermissionDenied { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        // GitHub filters already; these guard against a server that ignores a parameter. Times
        // are compared at GitHub's precision (whole seconds).
        let after_second = query.created_after_ms.map(|ms| ms - ms.rem_euclid(1000));
        runs.retain(|run| {
            query.event.as_ref().is_none_or(|e| &run.event == e)
                && query.head_sha.as_ref().is_none_or(|s| &run.head_sha == s)
                && after_second.is_none_or(|t| run.created_at_ms >= t)
        });
        let mut seen = std::collections::HashSet::new();
        // A run created while paging can shift a page and appear twice.
        runs.retain(|run| seen.insert(run.id));
        runs.sort_by_key(|run| std::cmp::Reverse((run.created_at_ms, run.id)));
        Ok(runs)
    }

    async fn workflow_run(&self, repo: &RepoId, run_id: u64) -> Result<WorkflowRun> {
        let what = format!("workflow run {run_id} of {repo}");
        let url = format!("{}/actions/runs/{run_id}", self.repo_url(repo));
        let reply = self.get(url, &what).await?;
        match reply.status {
            StatusCode::OK => Ok(reply.json::<GhWorkflowRun>(&what)?.into()),
            StatusCode::NOT_FOUND => Err(Error::NotFound { what }),
            _ => Err(reply.into_error(&what)),
        }
    }

    async fn repository_dispatch(
        &self,
        repo: &RepoId,
        event_type: &str,
        client_payload: &serde_json::Value,
    ) -> Result<()> {
        let what = format!("repository dispatch {event_type} to {repo}");
        let body = GhRepositoryDispatch {
            event_type: event_type.to_owned(),
            client_payload: client_payload.clone(),
        };
        let url = format!("{}/dispatches", self.repo_url(repo));
        let reply = self.send_json(Method::POST, url, &body, &what).await?;
        match reply.status {
            StatusCode::NO_CONTENT | StatusCode::OK => Ok(()),
            StatusCode::NOT_FOUND => Err(Error::NotFound {
                what: format!("repository {repo}"),
            }),
            StatusCode::UNPROCESSABLE_ENTITY => Err(rejected(&reply, &what)),
            _ => Err(reply.into_error(&what)),
        }
    }
}

#[async_trait]
impl PullRequestForge for GitHubForge {
    async fn create_branch(&self, repo: &RepoId, name: &str, sha: &str) -> Result<()> {
        let what = format!("branch {name} of {repo}");
        let body = GhNewRef {
            full_name: orchestrator_core::vcs::branch_ref(name),
            sha: sha.to_owned(),
        };
        let url = format!("{}/git/refs", self.repo_url(repo));
        let reply = self.send_json(Method::POST, url, &body, &what).await?;
        match reply.status {
            StatusCode::CREATED | StatusCode::OK => Ok(()),
            StatusCode::UNPROCESSABLE_ENTITY
                if GhError::parse(&reply.body).says_already_exists() =>
            {
                Err(Error::AlreadyExists { what })
            }
            StatusCode::UNPROCESSABLE_ENTITY => Err(rejected(&reply, &what)),
            StatusCode::NOT_FOUND => Err(Error::NotFound {
                what: format!("repository {repo}"),
            }),
            _ => Err(reply.into_error(&what)),
        }
    }

    async fn create_pull_request(&self, repo: &RepoId, pr: &NewPullRequest) -> Result<PullRequest> {
        let what = format!("pull request {} -> {} of {repo}", pr.head, pr.base);
        let url = format!("{}/pulls", self.repo_url(repo));
        let reply = self
            .send_json(Method::POST, url, &GhNewPullRequest::from(pr), &what)
            .await?;
        match reply.status {
            StatusCode::CREATED | StatusCode::OK => Ok(reply.json::<GhPullRequest>(&what)?.into()),
            StatusCode::UNPROCESSABLE_ENTITY
                if GhError::parse(&reply.body).says_already_exists() =>
            {
                Err(Error::AlreadyExists { what })
            }
            StatusCode::UNPROCESSABLE_ENTITY => Err(rejected(&reply, &what)),
            StatusCode::NOT_FOUND => Err(Error::NotFound {
                what: format!("repository {repo}"),
            }),
            _ => Err(reply.into_error(&what)),
        }
    }

    async fn pull_request(&self, repo: &RepoId, number: u64) -> Result<PullRequest> {
        let what = format!("pull request #{number} of {repo}");
        let reply = self
            .get(format!("{}/pulls/{number}", self.repo_url(repo)), &what)
            .await?;
        match reply.status {
            StatusCode::OK => Ok(reply.json::<GhPullRequest>(&what)?.into()),
            StatusCode::NOT_FOUND => Err(Error::NotFound { what }),
            _ => Err(reply.into_error(&what)),
        }
    }

    async fn list_pull_requests(&self, repo: &RepoId, state: &str) -> Result<Vec<PullRequest>> {
        let what = format!("{state} pull requests of {repo}");
        if !matches!(state, "open" | "closed" | "all") {
            return Err(Error::invalid_input(format!(
                "{what}: state must be open, closed or all, not {state:?}"
            )));
        }
        let url = format!(
            "{}/pulls?state={state}&sort=created&direction=desc&per_page={}",
            self.repo_url(repo),
            self.inner.page_size
        );
        let mut pulls = self
            .all_pages(url, &what, |reply| {
                let page: Vec<GhPullRequest> = reply.json(&what)?;
                Ok(page.into_iter().map(PullRequest::from).collect())
            })
            .await?;
        // A pull request opened while paging shifts a page and can appear twice.
        let mut seen = std::collections::HashSet::new();
        pulls.retain(|p| seen.insert(p.number));
        Ok(pulls)
    }

    async fn add_labels(&self, repo: &RepoId, number: u64, labels: &[String]) -> Result<()> {
        let what = format!("labels of #{number} of {repo}");
        let url = format!("{}/issues/{number}/labels", self.repo_url(repo));
        let body = GhLabels {
            labels: labels.to_vec(),
        };
        let reply = self.send_json(Method::POST, url, &body, &what).await?;
        match reply.status {
            StatusCode::OK | StatusCode::CREATED => Ok(()),
            StatusCode::NOT_FOUND => Err(Error::NotFound {
                what: format!("issue or pull request #{number} of {repo}"),
            }),
            StatusCode::UNPROCESSABLE_ENTITY => Err(rejected(&reply, &what)),
            _ => Err(reply.into_error(&what)),
        }
    }

    async fn remove_label(&self, repo: &RepoId, number: u64, label: &str) -> Result<()> {
        let what = format!("label {label} of #{number} of {repo}");
        let reply = self
            .send(Request {
                method: Method::DELETE,
                url: format!(
                    "{}/issues/{number}/labels/{}",
                    self.repo_url(repo),
                    encode(label)
                ),
                body: None,
                what: &what,
            })
            .await?;
        match reply.status {
            // GitHub answers 404 "Label does not exist" for a label the issue lacks.
            StatusCode::OK | StatusCode::NO_CONTENT | StatusCode::NOT_FOUND => Ok(()),
            _ => Err(reply.into_error(&what)),
        }
    }

    async fn list_reviews(&self, repo: &RepoId, number: u64) -> Result<Vec<Review>> {
        let what = format!("reviews of pull request #{number} of {repo}");
        let url = format!(
            "{}/pulls/{number}/reviews?per_page={}",
            self.repo_url(repo),
            self.inner.page_size
        );
        self.all_pages(url, &what, |reply| {
            let page: Vec<GhReview> = reply.json(&what)?;
            Ok(page.into_iter().map(Review::from).collect())
        })
        .await
    }

    async fn create_review(
        &self,
        repo: &RepoId,
        number: u64,
        state: ReviewState,
        body: &str,
    ) -> Result<Review> {
        let what = format!("review of pull request #{number} of {repo}");
        let Some(payload) = GhNewReview::submit(state, body) else {
            return Err(Error::invalid_input(format!(
                "{what}: a review is submitted as approved, changes requested or commented, not {state:?}"
            )));
        };
        let url = format!("{}/pulls/{number}/reviews", self.repo_url(repo));
        let reply = self.send_json(Method::POST, url, &payload, &what).await?;
        match reply.status {
            StatusCode::OK | StatusCode::CREATED => Ok(reply.json::<GhReview>(&what)?.into()),
            StatusCode::NOT_FOUND => Err(Error::NotFound {
                what: format!("pull request #{number} of {repo}"),
            }),
            // "Can not approve your own pull request", a closed pull request...
            StatusCode::UNPROCESSABLE_ENTITY => Err(rejected(&reply, &what)),
            _ => Err(reply.into_error(&what)),
        }
    }

    async fn list_pull_commits(&self, repo: &RepoId, number: u64) -> Result<Vec<PullCommit>> {
        let what = format!("commits of pull request #{number} of {repo}");
        let url = format!(
            "{}/pulls/{number}/commits?per_page={}",
            self.repo_url(repo),
            self.inner.page_size
        );
        self.all_pages(url, &what, |reply| {
            let page: Vec<GhPullCommit> = reply.json(&what)?;
            Ok(page.into_iter().map(PullCommit::from).collect())
        })
        .await
    }

    async fn list_pull_files(&self, repo: &RepoId, number: u64) -> Result<Vec<String>> {
        let what = format!("files of pull request #{number} of {repo}");
        let url = format!(
            "{}/pulls/{number}/files?per_page={}",
            self.repo_url(repo),
            self.inner.page_size
        );
        let mut paths = self
            .all_pages(url, &what, |reply| {
                let page: Vec<GhPullFile> = reply.json(&what)?;
                Ok(page.into_iter().flat_map(GhPullFile::paths).collect())
            })
            .await?;
        let mut seen = std::collections::HashSet::new();
        paths.retain(|p| seen.insert(p.clone()));
        Ok(paths)
    }
}

#[async_trait]
impl IssueForge for GitHubForge {
    async fn create_issue(&self, repo: &RepoId, title: &str, body: &str) -> Result<Issue> {
        let what = format!("new issue in {repo}");
        let url = format!("{}/issues", self.repo_url(repo));
        let payload = GhNewIssue {
            title: title.to_owned(),
            body: Some(body.to_owned()),
        };
        let reply = self.send_json(Method::POST, url, &payload, &what).await?;
        match reply.status {
            StatusCode::CREATED | StatusCode::OK => Ok(reply.json::<GhIssue>(&what)?.into()),
            // Issues disabled on the repository answers 410.
            StatusCode::NOT_FOUND | StatusCode::GONE => Err(Error::NotFound {
                what: format!("issues of {repo}"),
            }),
            StatusCode::UNPROCESSABLE_ENTITY => Err(rejected(&reply, &what)),
            _ => Err(reply.into_error(&what)),
        }
    }

    async fn issue(&self, repo: &RepoId, number: u64) -> Result<Issue> {
        let what = format!("issue #{number} of {repo}");
        let reply = self
            .get(format!("{}/issues/{number}", self.repo_url(repo)), &what)
            .await?;
        match reply.status {
            StatusCode::OK => Ok(reply.json::<GhIssue>(&what)?.into()),
            StatusCode::NOT_FOUND | StatusCode::GONE => Err(Error::NotFound { what }),
            _ => Err(reply.into_error(&what)),
        }
    }

    async fn update_issue_body(&self, repo: &RepoId, number: u64, body: &str) -> Result<Issue> {
        let what = format!("body of issue #{number} of {repo}");
        let url = format!("{}/issues/{number}", self.repo_url(repo));
        let payload = GhCommentBody {
            body: body.to_owned(),
        };
        let reply = self.send_json(Method::PATCH, url, &payload, &what).await?;
        match reply.status {
            StatusCode::OK => Ok(reply.json::<GhIssue>(&what)?.into()),
            StatusCode::NOT_FOUND | StatusCode::GONE => Err(Error::NotFound {
                what: format!("issue #{number} of {repo}"),
            }),
            StatusCode::UNPROCESSABLE_ENTITY => Err(rejected(&reply, &what)),
            _ => Err(reply.into_error(&what)),
        }
    }

    async fn create_comment(&self, repo: &RepoId, number: u64, body: &str) -> Result<Comment> {
        let what = format!("comment on #{number} of {repo}");
        let url = format!("{}/issues/{number}/comments", self.repo_url(repo));
        let payload = GhCommentBody {
            body: body.to_owned(),
        };
        let reply = self.send_json(Method::POST, url, &payload, &what).await?;
        match reply.status {
            StatusCode::CREATED | StatusCode::OK => Ok(reply.json::<GhComment>(&what)?.into()),
            StatusCode::NOT_FOUND => Err(Error::NotFound {
                what: format!("issue or pull request #{number} of {repo}"),
            }),
            StatusCode::UNPROCESSABLE_ENTITY => Err(rejected(&reply, &what)),
            _ => Err(reply.into_error(&what)),
        }
    }

    async fn list_comments(&self, repo: &RepoId, number: u64) -> Result<Vec<Comment>> {
        let what = format!("comments of #{number} of {repo}");
        let url = format!(
            "{}/issues/{number}/comments?per_page={}",
            self.repo_url(repo),
            self.inner.page_size
        );
        self.all_pages(url, &what, |reply| {
            let page: Vec<GhComment> = reply.json(&what)?;
            Ok(page.into_iter().map(Comment::from).collect())
        })
        .await
    }

    async fn comment(&self, repo: &RepoId, comment_id: u64) -> Result<Comment> {
        let what = format!("comment {comment_id} of {repo}");
        let url = format!("{}/issues/comments/{comment_id}", self.repo_url(repo));
        let reply = self.get(url, &what).await?;
        match reply.status {
            StatusCode::OK => Ok(reply.json::<GhComment>(&what)?.into()),
            StatusCode::NOT_FOUND => Err(Error::NotFound { what }),
            _ => Err(reply.into_error(&what)),
        }
    }

    async fn update_comment(&self, repo: &RepoId, comment_id: u64, body: &str) -> Result<Comment> {
        let what = format!("edit of comment {comment_id} of {repo}");
        let url = format!("{}/issues/comments/{comment_id}", self.repo_url(repo));
        let payload = GhCommentBody {
            body: body.to_owned(),
        };
        let reply = self.send_json(Method::PATCH, url, &payload, &what).await?;
        match reply.status {
            StatusCode::OK => Ok(reply.json::<GhComment>(&what)?.into()),
            StatusCode::NOT_FOUND => Err(Error::NotFound {
                what: format!("comment {comment_id} of {repo}"),
            }),
            StatusCode::UNPROCESSABLE_ENTITY => Err(rejected(&reply, &what)),
            _ => Err(reply.into_error(&what)),
        }
    }
}

#[async_trait]
impl ContentForge for GitHubForge {
    async fn file_contents(
        &self,
        repo: &RepoId,
        path: &str,
        git_ref: &str,
    ) -> Result<Option<Vec<u8>>> {
        let what = format!("{path} at {git_ref} of {repo}");
        let segments: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(encode)
            .collect();
        if segments.is_empty() {
            return Err(Error::invalid_input(format!("{what}: empty path")));
        }
        let url = format!(
            "{}/contents/{}?ref={}",
            self.repo_url(repo),
            segments.join("/"),
            encode(git_ref)
        );
        let reply = self.get(url, &what).await?;
        match reply.status {
            StatusCode::OK => {
                let body: serde_json::Value = reply.json(&what)?;
                if body.is_array() {
                    return Err(Error::invalid_input(format!(
                        "{what}: a directory on GitHub, not a file"
                    )));
                }
                let content: GhContent =
                    serde_json::from_value(body).map_err(|e| Error::Transient {
                        message: format!("unexpected response for {what}: {e}"),
                    })?;
                content.bytes(&what).map(Some)
            }
            // An unknown ref is not a missing file: a policy read at a ref that does not exist
            // must fail, not read as "no policy".
            StatusCode::NOT_FOUND
                if GhError::parse(&reply.body)
                    .message
                    .starts_with("No commit found") =>
            {
                Err(Error::NotFound {
                    what: format!("ref {git_ref} of {repo}"),
                })
            }
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(reply.into_error(&what)),
        }
    }

    async fn compare_commits(&self, repo: &RepoId, base: &str, head: &str) -> Result<Comparison> {
        let what = format!("comparison of {base}...{head} in {repo}");
        // One commit per page: the counts are totals, the commit list is not needed.
        let url = format!(
            "{}/compare/{}...{}?per_page=1",
            self.repo_url(repo),
            encode(base),
            encode(head)
        );
        let reply = self.get(url, &what).await?;
        match reply.status {
            StatusCode::OK => Ok(reply.json::<GhComparison>(&what)?.into()),
            StatusCode::NOT_FOUND => Err(Error::NotFound { what }),
            _ => Err(reply.into_error(&what)),
        }
    }
}

#[async_trait]
impl AccessForge for GitHubForge {
    async fn current_user(&self) -> Result<String> {
        let what = "the token's user";
        let reply = self
            .get(format!("{}/user", self.inner.api_url), what)
            .await?;
        match reply.status {
            StatusCode::OK => {
                let user: GhUser = reply.json(what)?;
                if user.login.is_empty() {
                    return Err(Error::Transient {
                        message: format!("unexpected response for {what}: no login"),
                    });
                }
                Ok(user.login)
            }
            _ => Err(reply.into_error(what)),
        }
    }

    async fn permission(&self, repo: &RepoId, user: &str) -> Result<Permission> {
        let what = format!("permission of {user} on {repo}");
        let url = format!(
            "{}/collaborators/{}/permission",
            self.repo_url(repo),
            encode(user)
        );
        let reply = self.get(url, &what).await?;
        match reply.status {
            StatusCode::OK => Ok(reply.json::<GhPermission>(&what)?.level()),
            // Not a collaborator (or no such user).
            StatusCode::NOT_FOUND => Ok(Permission::None),
            _ => Err(reply.into_error(&what)),
        }
    }
}

/// The `rel="next"` URL of a `Link` header, if any.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"));
        let url = url.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| url.to_owned())
    })
}

/// Percent-encodes one path segment or query value (everything but RFC 3986 unreserved).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next_is_found() {
        let h = r#"<https://api.github.com/repositories/1/releases?per_page=2&page=2>; rel="next", <https://api.github.com/repositories/1/releases?per_page=2&page=5>; rel="last""#;
        assert_eq!(
            next_link(h).as_deref(),
            Some("https://api.github.com/repositories/1/releases?per_page=2&page=2")
        );
        let last =
            r#"<https://x/releases?page=1>; rel="prev", <https://x/releases?page=1>; rel="first""#;
        assert_eq!(next_link(last), None);
        assert_eq!(next_link(""), None);
    }

    #[test]
    fn upload_url_follows_the_api_url() {
        let forge = GitHubForge::builder().build().expect("defaults are valid");
        assert_eq!(forge.api_url(), "https://api.github.com");
        assert_eq!(forge.upload_url(), "https://uploads.github.com");
        let forge = GitHubForge::builder()
            .api_url("https://ghe.example.com/api/v3/")
            .build()
            .expect("valid");
        assert_eq!(forge.api_url(), "https://ghe.example.com/api/v3");
        assert_eq!(forge.upload_url(), "https://ghe.example.com/api/uploads");
        let forge = GitHubForge::builder()
            .api_url("http://127.0.0.1:8080")
            .build()
            .expect("valid");
        assert_eq!(forge.upload_url(), "http://127.0.0.1:8080");
        let forge = GitHubForge::builder()
            .api_url("http://127.0.0.1:8080")
            .upload_url("http://127.0.0.1:9090/")
            .build()
            .expect("valid");
        assert_eq!(forge.upload_url(), "http://127.0.0.1:9090");
    }

    #[test]
    fn invalid_urls_are_bad_input() {
        for url in ["api.github.com", "ftp://x", "not a url", "https://x/?q=1"] {
            let err = GitHubForge::builder().api_url(url).build().expect_err(url);
            assert!(err.is_bad_input(), "{url}: {err:?}");
        }
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode("v1.2.3"), "v1.2.3");
        assert_eq!(encode("release/v1+build"), "release%2Fv1%2Bbuild");
        assert_eq!(encode("my app.tar.gz"), "my%20app.tar.gz");
    }

    #[test]
    fn debug_never_shows_the_token() {
        let forge = GitHubForge::builder()
            .token(Some(SecretString::new("ghp_do_not_print")))
            .build()
            .expect("valid");
        let debug = format!("{forge:?}");
        assert!(!debug.contains("ghp_do_not_print"), "{debug}");
        assert!(debug.contains("authenticated: true"), "{debug}");
    }
}
