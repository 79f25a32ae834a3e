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

use super::events::MockEvent;
use super::faults::Chaos;
use super::objects::{self, fill};
use super::origin;
use super::stats::Outcome;
use super::users::user_json;
use super::{Actor, MockFault, MockRequest, REQUEST_LOG, Shared, State, lock};
use crate::wire::{GhAsset, GhNewRelease, GhRelease, GhReleaseUpdate, format_time};
use collab::ready;
use orchestrator_core::forge::prelude::*;

mod app;
mod collab;
mod github;
mod identity;
mod links;

pub(super) use links::RunEdit;

/// The REST API version GitHub answers when a request names none.
pub(super) const DEFAULT_API_VERSION: &str = "2022-11-28";

/// The REST API versions the mock answers (`X-GitHub-Api-Version`); others answer `400`, as on
/// GitHub. From `2026-03-10` on, a workflow dispatch returns the run's details by default.
pub(super) const API_VERSIONS: &[&str] = &["2022-11-28", "2026-03-10"];

/// The largest request body the mock takes. Axum's default (2 MiB) would refuse a real release
/// archive; GitHub takes assets up to 2 GiB, but the mock keeps assets in memory, so it stops at
/// 512 MiB (a `413`, as GitHub answers an oversized upload).
const MAX_BODY_BYTES: usize = 512 * 1024 * 1024;

pub(super) fn router(state: Shared) -> Router {
    Router::new()
        .fallback(handle)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// What a route decided, before headers common to every answer are added.
struct Answer {
    status: StatusCode,
    body: Option<Value>,
    /// A body that is not JSON (an asset's bytes) and its content type; wins over `body`.
    raw: Option<(Vec<u8>, String)>,
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
            raw: None,
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

    /// GitHub's error body (`finish` adds its `status` field).
    fn error(status: StatusCode, message: &str) -> Self {
        Self::json(
            status,
            json!({"message": message, "documentation_url": "https://docs.github.com/rest"}),
        )
    }

    /// Bytes with their content type (an asset download).
    fn bytes(bytes: Vec<u8>, content_type: &str) -> Self {
        Self {
            raw: Some((bytes, content_type.to_owned())),
            body: None,
            ..Self::json(StatusCode::OK, Value::Null)
        }
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
    let api_version = header(http::HeaderName::from_static("x-github-api-version"));
    state.api_version = api_version
        .clone()
        .unwrap_or_else(|| DEFAULT_API_VERSION.to_owned());
    state.accept = header(http::header::ACCEPT).unwrap_or_default();
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
    } else if let Some(answer) = app::route(&mut state, method, &segments, authorization.as_deref())
    {
        Fate::Answer(answer)
    } else if !state.identify(authorization.as_deref())
        || (!matches!(state.actor, Actor::User(_))
            && state.installation.is_none()
            && !authorized(state.token.as_deref(), authorization.as_deref()))
    {
        Fate::Answer(Answer::error(StatusCode::UNAUTHORIZED, "Bad credentials").fault())
    } else if let Some(v) = api_version.filter(|v| !API_VERSIONS.contains(&v.as_str())) {
        state.api_version = DEFAULT_API_VERSION.to_owned();
        Fate::Answer(Answer::error(
            StatusCode::BAD_REQUEST,
            &format!("API version '{v}' is not supported."),
        ))
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
    let template = match super::table::find(method.as_str(), segments) {
        Some(route) => route.path,
        None if matches!(segments, ["repos", _, _, ..]) => "/repos/{owner}/{repo}/(unknown)",
        None => "(unknown)",
    };
    let repo = match segments {
        ["repos", owner, name, ..] => Some(format!("{owner}/{name}")),
        [owner, name, "releases", "download", ..] => Some(format!("{owner}/{name}")),
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
    // Only what the route table lists is served: a handler is unreachable otherwise.
    if super::table::find(method.as_str(), segments).is_none() {
        return Answer::not_found();
    }
    match (method, segments) {
        (&Method::GET, ["user"]) => return identity::current_user(state),
        (&Method::GET, ["users", login]) => return github::user(state, login),
        (&Method::GET, ["rate_limit"]) => return github::rate_limit(state),
        (&Method::GET, ["installation", "repositories"]) => return app::repositories(state, uri),
        (&Method::GET, [owner, name, "releases", "download", tag, file]) => {
            let repo = RepoId::new(*owner, *name);
            if !state.knows(&repo) {
                return Answer::not_found();
            }
            return github::download(state, &repo, tag, file);
        }
        _ => {}
    }
    if segments.first() != Some(&"repos")
        && let Some(answer) = links::top(state, uri, segments)
    {
        return answer;
    }
    let ["repos", owner, name, rest @ ..] = segments else {
        return Answer::not_found();
    };
    let repo = RepoId::new(*owner, *name);
    if !state.knows(&repo) {
        return Answer::not_found();
    }
    state.observe_ci_failures(&repo);
    if let Some(refused) = identity::gate(state, method, rest) {
        return refused;
    }
    if let Some(answer) = identity::route(state, &repo, method, uri, rest, body) {
        return answer;
    }
    if let Some(answer) = github::route(state, &repo, method, uri, rest) {
        return answer;
    }
    if let Some(answer) = links::route(state, &repo, method, uri, rest) {
        return answer;
    }
    let base = format!("{}/repos/{repo}", state.base_url);
    match (method, rest) {
        (&Method::GET, ["releases"]) => {
            let (per_page, page) = paging();
            let all: Vec<Value> = state
                .releases(&repo)
                .iter()
                .map(|r| release_json(state, &repo, r))
                .collect();
            paginate(all, per_page, page, &format!("{base}/releases"))
        }
        (&Method::GET, ["releases", "tags", tag]) => {
            // As on GitHub: drafts are not visible by tag.
            match state.release(&repo, tag).filter(|r| !r.draft) {
                Some(r) => Answer::cached(release_json(state, &repo, &r)),
                None => Answer::not_found(),
            }
        }
        (&Method::GET, ["releases", "latest"]) => {
            let latest = state
                .releases(&repo)
                .into_iter()
                .find(|r| !r.draft && !r.prerelease);
            match latest {
                Some(r) => Answer::cached(release_json(state, &repo, &r)),
                None => Answer::not_found(),
            }
        }
        (&Method::PATCH, ["releases", id]) => update_release(state, &repo, id, body),
        (&Method::GET, ["releases", id]) => match by_id(state, &repo, id) {
            Some(r) => Answer::cached(release_json(state, &repo, &r)),
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
                .map(|a| asset_json(state, &repo, &release, a))
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
            upload(state, &repo, id.parse().unwrap_or(0), &asset_name, body)
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
    let Some(before) = by_id(state, repo, &id.to_string()) else {
        return Answer::not_found();
    };
    let made = state
        .repos
        .get_mut(&repo.to_string())
        .and_then(|rs| rs.iter_mut().find(|r| r.id == id));
    if let Some(release) = made {
        release.apply_update(&update);
        if release.draft {
            release.published_at_ms = None;
        } else if release.published_at_ms.is_none() {
            release.published_at_ms = Some(orchestrator_core::state::now_ms() / 1000 * 1000);
        }
    } else {
        let edits = state.ci_updates.entry(id).or_default();
        if update.name.is_some() {
            edits.name.clone_from(&update.name);
        }
        if update.body.is_some() {
            edits.body.clone_from(&update.body);
        }
        edits.draft = update.draft.or(edits.draft);
        edits.prerelease = update.prerelease.or(edits.prerelease);
    }
    match by_id(state, repo, &id.to_string()) {
        Some(release) => {
            if before.draft && !release.draft {
                state.events.emit(MockEvent::ReleasePublished {
                    repo: repo.to_string(),
                    tag: release.tag.clone(),
                });
            }
            Answer::json(StatusCode::OK, release_json(state, repo, &release))
        }
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

/// A release in GitHub's shape (`release`): the fields the adapter reads ([`GhRelease`]),
/// GitHub's URLs, its author and dates.
fn release_json(state: &State, repo: &RepoId, r: &Release) -> Value {
    let base_url = &state.base_url;
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
    let (created_ms, author) = state.release_meta.get(&r.id).cloned().unwrap_or_else(|| {
        // CI made it: created when it first appeared, by Actions.
        (
            r.published_at_ms
                .unwrap_or_else(orchestrator_core::state::now_ms),
            objects::ACTIONS_BOT.to_owned(),
        )
    });
    let value = json!(gh);
    let value = fill(
        value,
        json!({
            "url": api,
            "assets_url": format!("{api}/assets"),
            "upload_url": format!("{api}/assets{{?name,label}}"),
            "tarball_url": format!("{base_url}/repos/{repo}/tarball/{}", r.tag),
            "zipball_url": format!("{base_url}/repos/{repo}/zipball/{}", r.tag),
            "node_id": format!("RE_mock{}", r.id),
            "target_commitish": ci_default_branch(state, repo),
            "created_at": format_time(created_ms / 1000 * 1000),
            "author": user_json(base_url, &state.users, &author),
        }),
    );
    let mut value = value;
    if let Some(obj) = value.as_object_mut() {
        // `published_at` is required, `null` for a draft.
        obj.entry("published_at").or_insert(Value::Null);
        obj.insert(
            "assets".into(),
            Value::Array(
                r.assets
                    .iter()
                    .map(|a| asset_json(state, repo, r, a))
                    .collect(),
            ),
        );
    }
    value
}

/// The default branch of `repo` (`main` when it has no origin).
fn ci_default_branch(state: &State, repo: &RepoId) -> String {
    state
        .ci
        .origin(repo)
        .map_or_else(|| "main".to_owned(), |o| origin::default_branch(&o))
}

/// An asset in GitHub's shape (`release-asset`); an unfinished upload is `open`.
fn asset_json(state: &State, repo: &RepoId, release: &Release, a: &ReleaseAsset) -> Value {
    let base_url = &state.base_url;
    let gh = GhAsset {
        id: a.id,
        name: a.name.clone(),
        size: a.size,
        state: match a.state {
            AssetState::Uploaded => "uploaded",
            _ => "open",
        }
        .into(),
        browser_download_url: format!(
            "{base_url}/{repo}/releases/download/{}/{}",
            release.tag, a.name
        ),
    };
    let (created_ms, author) = state.release_meta.get(&a.id).cloned().unwrap_or_else(|| {
        (
            release
                .published_at_ms
                .unwrap_or_else(orchestrator_core::state::now_ms),
            objects::ACTIONS_BOT.to_owned(),
        )
    });
    let time = format_time(created_ms / 1000 * 1000);
    fill(
        json!(gh),
        json!({
            "url": format!("{base_url}/repos/{repo}/releases/assets/{}", a.id),
            "node_id": format!("RA_mock{}", a.id),
            "label": null,
            "content_type": "application/octet-stream",
            "download_count": 0,
            "digest": null,
            "created_at": time,
            "updated_at": time,
            "uploader": user_json(base_url, &state.users, &author),
        }),
    )
}

/// The login mutations are made as: the acting user, else the forge's token user.
fn acting_login(state: &State) -> String {
    match &state.actor {
        Actor::User(login) => login.clone(),
        _ => ready(state.forge.current_user()).unwrap_or_else(|_| "orchestrator-bot".to_owned()),
    }
}

fn create_release(state: &mut State, repo: &RepoId, body: &[u8]) -> Answer {
    let new: GhNewRelease = match serde_json::from_slice(body) {
        Ok(new) => new,
        Err(e) => return problems_parsing(&e),
    };
    if new.tag_name.is_empty() {
        return Answer::json(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({
                "message": "Validation Failed",
                "errors": [{"resource": "Release", "code": "missing_field", "field": "tag_name"}],
                "documentation_url": "https://docs.github.com/rest/releases/releases#create-a-release"
            }),
        );
    }
    if state.release(repo, &new.tag_name).is_some() {
        return Answer::already_exists("Release", "tag_name");
    }
    let id = state.fresh_id();
    let now = orchestrator_core::state::now_ms() / 1000 * 1000;
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
        published_at_ms: (!new.draft).then_some(now),
    };
    tracing::debug!(target = ?new.target_commitish, "mock: created release {} of {repo}", release.tag);
    let author = acting_login(state);
    state.release_meta.insert(id, (now, author));
    state
        .repos
        .entry(repo.to_string())
        .or_default()
        .push(release.clone());
    let repo_name = repo.to_string();
    state.events.emit(MockEvent::ReleaseCreated {
        repo: repo_name.clone(),
        tag: release.tag.clone(),
    });
    if !release.draft {
        state.events.emit(MockEvent::ReleasePublished {
            repo: repo_name,
            tag: release.tag.clone(),
        });
    }
    Answer::json(StatusCode::CREATED, release_json(state, repo, &release))
}

/// `POST .../releases/{id}/assets?name=`: to a release made through the API or by CI.
fn upload(state: &mut State, repo: &RepoId, release_id: u64, name: &str, bytes: &[u8]) -> Answer {
    let Some(release) = by_id(state, repo, &release_id.to_string()) else {
        return Answer::not_found();
    };
    if release.assets.iter().any(|a| a.name == name) {
        return Answer::already_exists("ReleaseAsset", "name");
    }
    let id = state.fresh_id();
    let asset = ReleaseAsset {
        id,
        name: name.to_owned(),
        size: bytes.len() as u64,
        state: AssetState::Uploaded,
        download_url: String::new(),
    };
    let now = orchestrator_core::state::now_ms();
    let author = acting_login(state);
    state.release_meta.insert(id, (now, author));
    state.asset_bytes.insert(id, bytes.to_vec());
    let made = state
        .repos
        .get_mut(&repo.to_string())
        .and_then(|rs| rs.iter_mut().find(|r| r.id == release_id));
    match made {
        Some(made) => made.assets.push(asset.clone()),
        None => state
            .ci_assets
            .entry(release_id)
            .or_default()
            .push(asset.clone()),
    }
    state.events.emit(MockEvent::AssetUploaded {
        repo: repo.to_string(),
        tag: release.tag.clone(),
        name: name.to_owned(),
    });
    Answer::json(
        StatusCode::CREATED,
        asset_json(state, repo, &release, &asset),
    )
}

/// Adds the headers every GitHub answer carries (rate limit, request id, API version, media
/// type), the ETag (answering `304` on a match), `Location` for a created resource, and the
/// `status` field of error bodies; bills the rate limit.
fn finish(state: &mut State, mut answer: Answer, if_none_match: Option<&str>) -> Response {
    if answer.status.as_u16() >= 400
        && let Some(obj) = answer.body.as_mut().and_then(Value::as_object_mut)
        && obj.contains_key("message")
    {
        obj.entry("status")
            .or_insert_with(|| json!(answer.status.as_u16().to_string()));
    }
    if answer.status == StatusCode::CREATED
        && let Some(url) = answer
            .body
            .as_ref()
            .and_then(|b| b.get("url"))
            .and_then(Value::as_str)
    {
        answer
            .headers
            .push((http::header::LOCATION.as_str(), url.to_owned()));
    }
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
    state.request_seq += 1;
    let mut response = Response::builder()
        .status(status)
        .header(
            "x-github-request-id",
            format!("MOCK:{:08X}", state.request_seq),
        )
        .header("x-github-api-version-selected", state.api_version.as_str())
        .header("x-github-media-type", media_type(&state.accept));
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
    let body = match (answer.raw, body) {
        (Some((bytes, content_type)), _) => {
            response = response.header(CONTENT_TYPE, content_type);
            Body::from(bytes)
        }
        (None, Some(body)) if !not_modified => {
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

/// `x-github-media-type` as GitHub reports it: `github.v3` with the format the `Accept` header
/// asked for (`application/vnd.github.raw+json` → `format=raw`), `json` otherwise.
fn media_type(accept: &str) -> String {
    let format = accept
        .split(',')
        .map(str::trim)
        .find_map(|a| a.strip_prefix("application/vnd.github"))
        .map(|rest| {
            let rest = rest.split(';').next().unwrap_or_default();
            let rest = rest.trim_start_matches(".v3").trim_start_matches('.');
            let rest = rest.trim_start_matches("v3");
            match rest.split_once('+') {
                Some((f, _)) if !f.is_empty() => f.trim_start_matches('.').to_owned(),
                _ => "json".to_owned(),
            }
        })
        .unwrap_or_else(|| "json".to_owned());
    let format = if format.is_empty() {
        "json".to_owned()
    } else {
        format
    };
    format!("github.v3; format={format}")
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

/// What `GET path` answers (its JSON body when `200`), read by the mock itself: not counted,
/// limited or faulted, acting as the token user. The webhook sender builds its payloads from it,
/// so a payload carries the same objects the API serves.
pub(super) fn read(state: &mut State, path: &str) -> Option<Value> {
    let uri: Uri = path.parse().ok()?;
    let segments: Vec<String> = uri.path().split('/').skip(1).map(decode).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let saved = (
        std::mem::replace(&mut state.actor, Actor::Token),
        std::mem::replace(&mut state.api_version, DEFAULT_API_VERSION.to_owned()),
        std::mem::take(&mut state.accept),
    );
    let answer = route(state, &Method::GET, &uri, &segments, &[]);
    (state.actor, state.api_version, state.accept) = saved;
    (answer.status == StatusCode::OK && answer.raw.is_none())
        .then_some(answer.body)
        .flatten()
}
