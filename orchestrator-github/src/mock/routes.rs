//! Request handling of the mock: one handler that applies faults, the token check and the rate
//! limit, routes by path, then adds the headers every answer carries and counts it. Hand-routed
//! (not axum's router) so faults, limits and counting cover every path, including unknown ones,
//! uniformly.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State as AxumState;
use axum::response::Response;
use http::header::{AUTHORIZATION, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LINK, RETRY_AFTER};
use http::{HeaderMap, Method, StatusCode, Uri};
use orchestrator_core::forge::{AssetState, Release, ReleaseAsset, ReleaseUpdate, RepoId};
use serde_json::{Value, json};

use super::faults::Chaos;
use super::stats::Outcome;
use super::{Actor, MockFault, MockRequest, REQUEST_LOG, Shared, State, lock};
use crate::wire::{GhAsset, GhNewRelease, GhRelease, GhReleaseUpdate, format_time};

mod collab;
mod identity;

pub(super) fn router(state: Shared) -> Router {
    Router::new().fallback(handle).with_state(state)
}

/// What a route decided, before headers common to every answer are added.
struct Answer {
    status: StatusCode,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
    /// Add an `ETag` and answer `304` when it matches `If-None-Match`.
    etag: bool,
    /// Counted against the rate limit (unless it turns out a `304`).
    billable: bool,
}

impl Answer {
    fn json(status: StatusCode, body: Value) -> Self {
        Self {
            status,
            body: Some(body),
            headers: Vec::new(),
            etag: false,
            billable: true,
        }
    }

    fn cached(body: Value) -> Self {
        Self {
            etag: true,
            ..Self::json(StatusCode::OK, body)
        }
    }

    fn error(status: StatusCode, message: &str) -> Self {
        Self::json(
            status,
            json!({"message": message, "documentation_url": "https://docs.github.com/rest"}),
        )
    }

    fn not_found() -> Self {
        Self::error(StatusCode::NOT_FOUND, "Not Found")
    }

    fn already_exists(resource: &str, field: &str) -> Self {
        Self::json(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({
                "message": "Validation Failed",
                "errors": [{"resource": resource, "code": "already_exists", "field": field}],
                "documentation_url": "https://docs.github.com/rest"
            }),
        )
    }

    /// A fault answer: not billed.
    fn fault(mut self) -> Self {
        self.billable = false;
        self
    }
}

/// A request's decided fate.
enum Fate {
    Answer(Answer),
    Reset,
}

async fn handle(
    AxumState(shared): AxumState<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (response, late) = answer(&shared, &method, &uri, &headers, &body);
    // Slept without the lock: other requests go on meanwhile, as on a slow GitHub.
    if let Some(delay) = late {
        tokio::time::sleep(delay).await;
    }
    response
}

/// Decides and builds the answer to one request, and how late it should come.
fn answer(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> (Response, Option<Duration>) {
    let mut state = lock(shared);
    let segments: Vec<String> = uri.path().split('/').skip(1).map(decode).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    if let ["_mock", rest @ ..] = segments.as_slice() {
        return (control(&state, method, rest), None);
    }
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let if_none_match = header(IF_NONE_MATCH);
    let authorization = header(AUTHORIZATION);
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned());
    let (route_name, repo) = route_name(method, &segments);

    let fate = if let Some(fault) = state.faults.pop_front() {
        injected(&mut state, &fault)
    } else if let Some(chaos) = state.chaos.decide(method.as_str(), &path) {
        match chaos {
            Chaos::BadGateway => {
                state.stats.faults.server_errors += 1;
                Fate::Answer(Answer::error(StatusCode::BAD_GATEWAY, "Bad Gateway").fault())
            }
            Chaos::Reset => Fate::Reset,
        }
    } else if !state.identify(authorization.as_deref())
        || (!matches!(state.actor, Actor::User(_))
            && !authorized(state.token.as_deref(), authorization.as_deref()))
    {
        Fate::Answer(Answer::error(StatusCode::UNAUTHORIZED, "Bad credentials").fault())
    } else if state.limit.exhausted() {
        state.stats.faults.rate_limit_rejections += 1;
        Fate::Answer(
            Answer::error(
                StatusCode::FORBIDDEN,
                "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID.",
            )
            .fault(),
        )
    } else {
        Fate::Answer(route(&mut state, method, uri, &segments, body))
    };
    let (response, outcome) = match fate {
        Fate::Answer(answer) => {
            let response = finish(&mut state, answer, if_none_match.as_deref());
            let status = response.status().as_u16();
            (response, Outcome::Status(status))
        }
        Fate::Reset => (reset(), Outcome::Reset),
    };
    let late = matches!(outcome, Outcome::Status(_))
        && state.slow.0.decide(method.as_str(), &path).is_some();
    if late {
        state.stats.faults.slow_responses += 1;
    }
    state.stats.record(&route_name, repo.as_deref(), outcome);
    if state.requests.len() >= REQUEST_LOG {
        state.requests.pop_front();
    }
    state.requests.push_back(MockRequest {
        method: method.to_string(),
        path,
        if_none_match,
        authorization,
        status: match outcome {
            Outcome::Status(s) => s,
            Outcome::Reset => 0,
        },
    });
    (response, late.then_some(state.slow.1))
}

/// `/_mock/*`: the control plane; never faulted, limited or counted.
fn control(state: &State, method: &Method, rest: &[&str]) -> Response {
    let answer = match (method, rest) {
        (&Method::GET, ["stats"]) => Answer::json(
            StatusCode::OK,
            serde_json::to_value(&state.stats).unwrap_or_default(),
        ),
        _ => Answer::not_found(),
    };
    let body = answer.body.map(|b| b.to_string()).unwrap_or_default();
    Response::builder()
        .status(answer.status)
        .header(CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// The route template and the `owner/name` of a request, for the stats.
fn route_name(method: &Method, segments: &[&str]) -> (String, Option<String>) {
    let template = match segments {
        ["repos", _, _] => "/repos/{owner}/{repo}",
        ["repos", _, _, "releases"] => "/repos/{owner}/{repo}/releases",
        ["repos", _, _, "releases", "tags", _] => "/repos/{owner}/{repo}/releases/tags/{tag}",
        ["repos", _, _, "releases", "latest"] => "/repos/{owner}/{repo}/releases/latest",
        ["repos", _, _, "releases", _] => "/repos/{owner}/{repo}/releases/{release_id}",
        ["repos", _, _, "releases", _, "assets"] => {
            "/repos/{owner}/{repo}/releases/{release_id}/assets"
        }
        ["repos", _, _, "actions", "workflows", _, "dispatches"] => {
            "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches"
        }
        ["repos", _, _, "actions", "workflows", _, "runs"] => {
            "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs"
        }
        ["repos", _, _, "actions", "runs"] => "/repos/{owner}/{repo}/actions/runs",
        ["repos", _, _, "actions", "runs", _] => "/repos/{owner}/{repo}/actions/runs/{run_id}",
        ["repos", _, _, "dispatches"] => "/repos/{owner}/{repo}/dispatches",
        ["repos", _, _, "git", "refs"] => "/repos/{owner}/{repo}/git/refs",
        ["repos", _, _, "pulls"] => "/repos/{owner}/{repo}/pulls",
        ["repos", _, _, "pulls", _] => "/repos/{owner}/{repo}/pulls/{pull_number}",
        ["repos", _, _, "pulls", _, "merge"] => "/repos/{owner}/{repo}/pulls/{pull_number}/merge",
        ["repos", _, _, "pulls", _, "reviews"] => {
            "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"
        }
        ["repos", _, _, "pulls", _, "commits"] => {
            "/repos/{owner}/{repo}/pulls/{pull_number}/commits"
        }
        ["repos", _, _, "pulls", _, "files"] => "/repos/{owner}/{repo}/pulls/{pull_number}/files",
        ["repos", _, _, "issues", "comments", _] => {
            "/repos/{owner}/{repo}/issues/comments/{comment_id}"
        }
        ["repos", _, _, "contents", ..] => "/repos/{owner}/{repo}/contents/{path}",
        ["repos", _, _, "compare", _] => "/repos/{owner}/{repo}/compare/{basehead}",
        ["user"] => "/user",
        ["repos", _, _, "issues", _, "labels"] => {
            "/repos/{owner}/{repo}/issues/{issue_number}/labels"
        }
        ["repos", _, _, "issues", _, "labels", _] => {
            "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}"
        }
        ["repos", _, _, "issues", _, "comments"] => {
            "/repos/{owner}/{repo}/issues/{issue_number}/comments"
        }
        ["repos", _, _, "collaborators", _, "permission"] => {
            "/repos/{owner}/{repo}/collaborators/{username}/permission"
        }
        ["repos", _, _, ..] => "/repos/{owner}/{repo}/(unknown)",
        _ => "(unknown)",
    };
    let repo = match segments {
        ["repos", owner, name, ..] => Some(format!("{owner}/{name}")),
        _ => None,
    };
    (format!("{method} {template}"), repo)
}

fn authorized(required: Option<&str>, sent: Option<&str>) -> bool {
    let Some(required) = required else {
        return true;
    };
    let sent = sent.unwrap_or_default();
    [sent.strip_prefix("Bearer "), sent.strip_prefix("token ")].contains(&Some(required))
}

fn injected(state: &mut State, fault: &MockFault) -> Fate {
    let answer = match fault {
        MockFault::ServerError(code) => {
            state.stats.faults.server_errors += 1;
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::BAD_GATEWAY);
            Answer::error(status, status.canonical_reason().unwrap_or("Server Error"))
        }
        MockFault::ConnectionReset => return Fate::Reset,
        MockFault::RateLimited { reset_in } => {
            state.stats.faults.rate_limit_rejections += 1;
            let mut a = Answer::error(
                StatusCode::FORBIDDEN,
                "API rate limit exceeded for user ID 1.",
            );
            let reset = now_epoch() + reset_in.as_secs_f64().ceil() as u64;
            a.headers = vec![
                ("x-ratelimit-remaining", "0".into()),
                ("x-ratelimit-reset", reset.to_string()),
            ];
            a
        }
        MockFault::SecondaryRateLimit { retry_after } => {
            state.stats.faults.rate_limit_rejections += 1;
            let mut a = Answer::error(
                StatusCode::FORBIDDEN,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            );
            a.headers = vec![(RETRY_AFTER.as_str(), secs(*retry_after))];
            a
        }
        MockFault::TooManyRequests { retry_after } => {
            state.stats.faults.rate_limit_rejections += 1;
            let mut a = Answer::error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
            a.headers = vec![(RETRY_AFTER.as_str(), secs(*retry_after))];
            a
        }
        MockFault::Unauthorized => Answer::error(StatusCode::UNAUTHORIZED, "Bad credentials"),
    };
    Fate::Answer(answer.fault())
}

fn secs(d: Duration) -> String {
    (d.as_secs_f64().ceil() as u64).to_string()
}

fn route(state: &mut State, method: &Method, uri: &Uri, segments: &[&str], body: &[u8]) -> Answer {
    let query = |key: &str| query_param(uri.query().unwrap_or_default(), key);
    let paging = || {
        let per_page = query("per_page")
            .and_then(|v| v.parse().ok())
            .unwrap_or(30usize)
            .clamp(1, 100);
        let page = query("page")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1usize)
            .max(1);
        (per_page, page)
    };
    if let (&Method::GET, ["user"]) = (method, segments) {
        return identity::current_user(state);
    }
    let ["repos", owner, name, rest @ ..] = segments else {
        return Answer::not_found();
    };
    let repo = RepoId::new(*owner, *name);
    if !state.knows(&repo) {
        return Answer::not_found();
    }
    if let Some(refused) = identity::gate(state, method, rest) {
        return refused;
    }
    if let Some(answer) = identity::route(state, &repo, method, uri, rest, body) {
        return answer;
    }
    let base = format!("{}/repos/{repo}", state.base_url);
    match (method, rest) {
        (&Method::GET, ["releases"]) => {
            let (per_page, page) = paging();
            let all: Vec<Value> = state
                .releases(&repo)
                .iter()
                .map(|r| release_json(&state.base_url, &repo, r))
                .collect();
            paginate(all, per_page, page, &format!("{base}/releases"))
        }
        (&Method::GET, ["releases", "tags", tag]) => {
            // As on GitHub: drafts are not visible by tag.
            match state.release(&repo, tag).filter(|r| !r.draft) {
                Some(r) => Answer::cached(release_json(&state.base_url, &repo, &r)),
                None => Answer::not_found(),
            }
        }
        (&Method::GET, ["releases", "latest"]) => {
            let latest = state
                .releases(&repo)
                .into_iter()
                .find(|r| !r.draft && !r.prerelease);
            match latest {
                Some(r) => Answer::cached(release_json(&state.base_url, &repo, &r)),
                None => Answer::not_found(),
            }
        }
        (&Method::PATCH, ["releases", id]) => update_release(state, &repo, id, body),
        (&Method::GET, ["releases", id]) => match by_id(state, &repo, id) {
            Some(r) => Answer::cached(release_json(&state.base_url, &repo, &r)),
            None => Answer::not_found(),
        },
        (&Method::GET, ["releases", id, "assets"]) => {
            let Some(release) = by_id(state, &repo, id) else {
                return Answer::not_found();
            };
            let (per_page, page) = paging();
            let assets = release
                .assets
                .iter()
                .map(|a| asset_json(&state.base_url, &repo, &release.tag, a))
                .collect();
            paginate(
                assets,
                per_page,
                page,
                &format!("{base}/releases/{id}/assets"),
            )
        }
        (&Method::POST, ["releases"]) => create_release(state, &repo, body),
        (&Method::POST, ["releases", id, "assets"]) => {
            let Some(asset_name) = query("name").filter(|n| !n.is_empty()) else {
                return Answer::error(StatusCode::UNPROCESSABLE_ENTITY, "name is required");
            };
            upload(
                state,
                &repo,
                id.parse().unwrap_or(0),
                &asset_name,
                body.len(),
            )
        }
        _ => collab::route(state, &repo, method, uri, rest, body),
    }
}

fn update_release(state: &mut State, repo: &RepoId, id: &str, body: &[u8]) -> Answer {
    let update: GhReleaseUpdate = match serde_json::from_slice(body) {
        Ok(update) => update,
        Err(e) => return problems_parsing(&e),
    };
    let update = ReleaseUpdate::from(update);
    let Ok(id) = id.parse::<u64>() else {
        return Answer::not_found();
    };
    let base_url = state.base_url.clone();
    let made = state
        .repos
        .get_mut(&repo.to_string())
        .and_then(|rs| rs.iter_mut().find(|r| r.id == id));
    if let Some(release) = made {
        release.apply_update(&update);
        return Answer::json(StatusCode::OK, release_json(&base_url, repo, release));
    }
    if by_id(state, repo, &id.to_string()).is_none() {
        return Answer::not_found();
    }
    let edits = state.ci_updates.entry(id).or_default();
    if update.name.is_some() {
        edits.name.clone_from(&update.name);
    }
    if update.body.is_some() {
        edits.body.clone_from(&update.body);
    }
    edits.draft = update.draft.or(edits.draft);
    edits.prerelease = update.prerelease.or(edits.prerelease);
    match by_id(state, repo, &id.to_string()) {
        Some(release) => Answer::json(StatusCode::OK, release_json(&base_url, repo, &release)),
        None => Answer::not_found(),
    }
}

fn problems_parsing(e: &serde_json::Error) -> Answer {
    Answer::error(
        StatusCode::BAD_REQUEST,
        &format!("Problems parsing JSON: {e}"),
    )
}

fn by_id(state: &mut State, repo: &RepoId, id: &str) -> Option<Release> {
    let id: u64 = id.parse().ok()?;
    state.releases(repo).into_iter().find(|r| r.id == id)
}

/// One page of `items`, with GitHub's `Link` header (`next`, `last`, `first`, `prev`).
fn paginate(items: Vec<Value>, per_page: usize, page: usize, url: &str) -> Answer {
    let (page_items, link) = page_of(items, per_page, page, url);
    let mut answer = Answer::cached(Value::Array(page_items));
    if let Some(link) = link {
        answer.headers.push((LINK.as_str(), link));
    }
    answer
}

/// The items of one page and the `Link` header value; `url` may carry a query (filters) already.
fn page_of(
    items: Vec<Value>,
    per_page: usize,
    page: usize,
    url: &str,
) -> (Vec<Value>, Option<String>) {
    let last = items.len().div_ceil(per_page).max(1);
    let page_items: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let sep = if url.contains('?') { '&' } else { '?' };
    let link =
        |p: usize, rel: &str| format!("<{url}{sep}per_page={per_page}&page={p}>; rel=\"{rel}\"");
    let mut links = Vec::new();
    if page < last {
        links.push(link(page + 1, "next"));
        links.push(link(last, "last"));
    }
    if page > 1 {
        links.push(link(1, "first"));
        links.push(link(page - 1, "prev"));
    }
    (page_items, (!links.is_empty()).then(|| links.join(", ")))
}

/// A release in GitHub's shape: the fields the adapter reads ([`GhRelease`]) plus GitHub's URLs.
fn release_json(base_url: &str, repo: &RepoId, r: &Release) -> Value {
    let web = format!("{base_url}/{repo}/releases");
    let api = format!("{base_url}/repos/{repo}/releases/{}", r.id);
    let gh = GhRelease {
        id: r.id,
        tag_name: r.tag.clone(),
        name: r.name.clone(),
        body: r.body.clone(),
        draft: r.draft,
        prerelease: r.prerelease,
        html_url: format!("{web}/tag/{}", r.tag),
        assets: Vec::new(),
        published_at: r.published_at_ms.map(format_time),
    };
    let mut value = json!(gh);
    if let Some(obj) = value.as_object_mut() {
        obj.insert("url".into(), json!(api));
        obj.insert("assets_url".into(), json!(format!("{api}/assets")));
        obj.insert(
            "upload_url".into(),
            json!(format!("{api}/assets{{?name,label}}")),
        );
        obj.insert("node_id".into(), json!(format!("RE_mock{}", r.id)));
        obj.insert(
            "assets".into(),
            Value::Array(
                r.assets
                    .iter()
                    .map(|a| asset_json(base_url, repo, &r.tag, a))
                    .collect(),
            ),
        );
    }
    value
}

/// An asset in GitHub's shape; an unfinished upload is `open`.
fn asset_json(base_url: &str, repo: &RepoId, tag: &str, a: &ReleaseAsset) -> Value {
    let gh = GhAsset {
        id: a.id,
        name: a.name.clone(),
        size: a.size,
        state: match a.state {
            AssetState::Uploaded => "uploaded",
            _ => "open",
        }
        .into(),
        browser_download_url: format!("{base_url}/{repo}/releases/download/{tag}/{}", a.name),
    };
    let mut value = json!(gh);
    if let Some(obj) = value.as_object_mut() {
        obj.insert(
            "url".into(),
            json!(format!("{base_url}/repos/{repo}/releases/assets/{}", a.id)),
        );
        obj.insert("label".into(), Value::Null);
        obj.insert("content_type".into(), json!("application/octet-stream"));
        obj.insert("download_count".into(), json!(0));
    }
    value
}

fn create_release(state: &mut State, repo: &RepoId, body: &[u8]) -> Answer {
    let new: GhNewRelease = match serde_json::from_slice(body) {
        Ok(new) => new,
        Err(e) => {
            return Answer::error(
                StatusCode::BAD_REQUEST,
                &format!("Problems parsing JSON: {e}"),
            );
        }
    };
    if new.tag_name.is_empty() {
        return Answer::error(StatusCode::UNPROCESSABLE_ENTITY, "tag_name is required");
    }
    if state.release(repo, &new.tag_name).is_some() {
        return Answer::already_exists("Release", "tag_name");
    }
    let id = state.fresh_id();
    let release = Release {
        id,
        tag: new.tag_name,
        name: new.name,
        body: new.body,
        draft: new.draft,
        prerelease: new.prerelease,
        html_url: String::new(),
        assets: Vec::new(),
        // GitHub dates in whole seconds.
        published_at_ms: (!new.draft).then(|| orchestrator_core::state::now_ms() / 1000 * 1000),
    };
    tracing::debug!(target = ?new.target_commitish, "mock: created release {} of {repo}", release.tag);
    state
        .repos
        .entry(repo.to_string())
        .or_default()
        .push(release.clone());
    Answer::json(
        StatusCode::CREATED,
        release_json(&state.base_url, repo, &release),
    )
}

fn upload(state: &mut State, repo: &RepoId, release_id: u64, name: &str, size: usize) -> Answer {
    let id = state.fresh_id();
    let base_url = state.base_url.clone();
    let Some(release) = state
        .repos
        .get_mut(&repo.to_string())
        .and_then(|rs| rs.iter_mut().find(|r| r.id == release_id))
    else {
        return Answer::not_found();
    };
    if release.assets.iter().any(|a| a.name == name) {
        return Answer::already_exists("ReleaseAsset", "name");
    }
    let asset = ReleaseAsset {
        id,
        name: name.to_owned(),
        size: size as u64,
        state: AssetState::Uploaded,
        download_url: String::new(),
    };
    release.assets.push(asset.clone());
    Answer::json(
        StatusCode::CREATED,
        asset_json(&base_url, repo, &release.tag, &asset),
    )
}

/// Adds the rate-limit headers and the ETag (answering `304` on a match); bills the rate limit.
fn finish(state: &mut State, answer: Answer, if_none_match: Option<&str>) -> Response {
    let body = answer.body.map(|b| b.to_string());
    let etag = match (&body, answer.etag && answer.status == StatusCode::OK) {
        (Some(body), true) => {
            let mut hasher = DefaultHasher::new();
            body.hash(&mut hasher);
            Some(format!("W/\"{:016x}\"", hasher.finish()))
        }
        _ => None,
    };
    let not_modified = etag.is_some() && etag.as_deref() == if_none_match;
    if answer.billable && !not_modified {
        state.limit.spend();
    }
    let status = if not_modified {
        StatusCode::NOT_MODIFIED
    } else {
        answer.status
    };
    let mut response = Response::builder().status(status);
    for (name, value) in state.limit.headers() {
        response = response.header(name, value);
    }
    if let Some(etag) = &etag {
        response = response.header(ETAG, etag.as_str());
    }
    if let Some(headers) = response.headers_mut() {
        // Fault headers override the defaults (a rate-limited answer says `remaining: 0`).
        for (name, value) in answer.headers {
            if let Ok(value) = value.parse() {
                headers.insert(name, value);
            }
        }
    }
    let body = match body {
        Some(body) if !not_modified => {
            response = response.header(CONTENT_TYPE, "application/json; charset=utf-8");
            Body::from(body)
        }
        _ => Body::empty(),
    };
    response.body(body).unwrap_or_else(|e| {
        let mut fallback = Response::new(Body::from(format!("mock: bad response: {e}")));
        *fallback.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        fallback
    })
}

/// A response whose body fails at once: the server drops the connection mid-response, so the
/// client sees a truncated message (like a reset by a proxy).
fn reset() -> Response {
    Response::new(Body::from_stream(FailingBody))
}

struct FailingBody;

impl futures_core::Stream for FailingBody {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "mock GitHub: connection dropped (fault)",
        ))))
    }
}

fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k) == key).then(|| decode(v))
    })
}

/// Percent-decoding (`+` stays `+`: the adapter encodes spaces as `%20`).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        if let (b'%', Some(b)) = (bytes[i], hex) {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
