//! Request handling of the mock: one handler that records, applies faults, checks the token, then
//! routes by path. Hand-routed (not axum's router) so faults and recording cover every path,
//! including unknown ones, uniformly.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State as AxumState;
use axum::response::Response;
use http::header::{AUTHORIZATION, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LINK, RETRY_AFTER};
use http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::json;

use super::{MockAsset, MockFault, MockRelease, MockRequest, RATE_LIMIT, Shared, State, lock};
use crate::wire::GhNewRelease;

pub(super) fn router(state: Shared) -> Router {
    Router::new().fallback(handle).with_state(state)
}

/// What a route decided, before headers common to every answer are added.
struct Answer {
    status: StatusCode,
    body: Option<serde_json::Value>,
    headers: Vec<(&'static str, String)>,
    /// Add an `ETag` and answer `304` when it matches `If-None-Match`.
    etag: bool,
}

impl Answer {
    fn json(status: StatusCode, body: serde_json::Value) -> Self {
        Self {
            status,
            body: Some(body),
            headers: Vec::new(),
            etag: false,
        }
    }

    fn cached(body: serde_json::Value) -> Self {
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
}

async fn handle(
    AxumState(state): AxumState<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = lock(&state);
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let if_none_match = header(IF_NONE_MATCH);
    let authorization = header(AUTHORIZATION);

    let answer = if let Some(fault) = state.faults.pop_front() {
        fault_answer(&fault)
    } else if !authorized(state.token.as_deref(), authorization.as_deref()) {
        Answer::error(StatusCode::UNAUTHORIZED, "Bad credentials")
    } else {
        route(&mut state, &method, &uri, &body)
    };
    let response = finish(&mut state, answer, if_none_match.as_deref());
    state.requests.push(MockRequest {
        method: method.to_string(),
        path: uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned()),
        if_none_match,
        authorization,
        status: response.status().as_u16(),
    });
    response
}

fn authorized(required: Option<&str>, sent: Option<&str>) -> bool {
    let Some(required) = required else {
        return true;
    };
    let sent = sent.unwrap_or_default();
    [sent.strip_prefix("Bearer "), sent.strip_prefix("token ")].contains(&Some(required))
}

fn fault_answer(fault: &MockFault) -> Answer {
    match fault {
        MockFault::ServerError(code) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::BAD_GATEWAY);
            Answer::error(status, status.canonical_reason().unwrap_or("Server Error"))
        }
        MockFault::RateLimited { reset_in } => {
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
            let mut a = Answer::error(
                StatusCode::FORBIDDEN,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            );
            a.headers = vec![(RETRY_AFTER.as_str(), secs(*retry_after))];
            a
        }
        MockFault::TooManyRequests { retry_after } => {
            let mut a = Answer::error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
            a.headers = vec![(RETRY_AFTER.as_str(), secs(*retry_after))];
            a
        }
        MockFault::Unauthorized => Answer::error(StatusCode::UNAUTHORIZED, "Bad credentials"),
    }
}

fn secs(d: Duration) -> String {
    (d.as_secs_f64().ceil() as u64).to_string()
}

fn route(state: &mut State, method: &Method, uri: &Uri, body: &[u8]) -> Answer {
    let segments: Vec<String> = uri.path().split('/').skip(1).map(decode).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let query = |key: &str| query_param(uri.query().unwrap_or_default(), key);
    match (method, segments.as_slice()) {
        (&Method::GET, ["_mock", "stats"]) => Answer::json(
            StatusCode::OK,
            serde_json::to_value(state.stats).unwrap_or_default(),
        ),
        (&Method::GET, ["repos", owner, name, "releases"]) => {
            let per_page = query("per_page")
                .and_then(|v| v.parse().ok())
                .unwrap_or(30usize)
                .clamp(1, 100);
            let page = query("page")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1usize)
                .max(1);
            list(state, &format!("{owner}/{name}"), per_page, page)
        }
        (&Method::GET, ["repos", owner, name, "releases", "tags", tag]) => {
            let repo = format!("{owner}/{name}");
            let Some(releases) = state.repos.get(&repo) else {
                return Answer::error(StatusCode::NOT_FOUND, "Not Found");
            };
            // As on GitHub: drafts are not visible by tag.
            match releases.iter().find(|r| r.tag == *tag && !r.draft) {
                Some(r) => Answer::cached(json!(state.release_json(&repo, r))),
                None => Answer::error(StatusCode::NOT_FOUND, "Not Found"),
            }
        }
        (&Method::POST, ["repos", owner, name, "releases"]) => {
            create_release(state, &format!("{owner}/{name}"), body)
        }
        (&Method::POST, ["repos", owner, name, "releases", id, "assets"]) => {
            let Some(asset_name) = query("name").filter(|n| !n.is_empty()) else {
                return Answer::error(StatusCode::UNPROCESSABLE_ENTITY, "name is required");
            };
            let repo = format!("{owner}/{name}");
            upload(
                state,
                &repo,
                id.parse().unwrap_or(0),
                &asset_name,
                body.len(),
            )
        }
        _ => Answer::error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

fn list(state: &State, repo: &str, per_page: usize, page: usize) -> Answer {
    let Some(releases) = state.repos.get(repo) else {
        return Answer::error(StatusCode::NOT_FOUND, "Not Found");
    };
    let all: Vec<_> = releases
        .iter()
        .rev()
        .map(|r| state.release_json(repo, r))
        .collect();
    let last = all.len().div_ceil(per_page).max(1);
    let items: Vec<_> = all
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let link = |p: usize, rel: &str| {
        format!(
            "<{}/repos/{repo}/releases?per_page={per_page}&page={p}>; rel=\"{rel}\"",
            state.base_url
        )
    };
    let mut links = Vec::new();
    if page < last {
        links.push(link(page + 1, "next"));
        links.push(link(last, "last"));
    }
    if page > 1 {
        links.push(link(1, "first"));
        links.push(link(page - 1, "prev"));
    }
    let mut answer = Answer::cached(json!(items));
    if !links.is_empty() {
        answer.headers.push((LINK.as_str(), links.join(", ")));
    }
    answer
}

fn create_release(state: &mut State, repo: &str, body: &[u8]) -> Answer {
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
    let id = state.next_id;
    let Some(releases) = state.repos.get_mut(repo) else {
        return Answer::error(StatusCode::NOT_FOUND, "Not Found");
    };
    if releases.iter().any(|r| r.tag == new.tag_name) {
        return Answer::already_exists("Release", "tag_name");
    }
    let release = MockRelease {
        id,
        tag: new.tag_name,
        target: new.target_commitish,
        name: new.name,
        body: new.body,
        draft: new.draft,
        prerelease: new.prerelease,
        assets: Vec::new(),
    };
    tracing::debug!(target = ?release.target, "mock: created release {} of {repo}", release.tag);
    releases.push(release.clone());
    state.next_id += 1;
    Answer::json(
        StatusCode::CREATED,
        json!(state.release_json(repo, &release)),
    )
}

fn upload(state: &mut State, repo: &str, release_id: u64, name: &str, size: usize) -> Answer {
    let id = state.next_id;
    let Some(release) = state
        .repos
        .get_mut(repo)
        .and_then(|rs| rs.iter_mut().find(|r| r.id == release_id))
    else {
        return Answer::error(StatusCode::NOT_FOUND, "Not Found");
    };
    if release.assets.iter().any(|a| a.name == name) {
        return Answer::already_exists("ReleaseAsset", "name");
    }
    let asset = MockAsset {
        id,
        name: name.to_owned(),
        size: size as u64,
    };
    release.assets.push(asset);
    let release = release.clone();
    state.next_id += 1;
    let json = state.release_json(repo, &release);
    let asset = json.assets.into_iter().find(|a| a.id == id);
    Answer::json(StatusCode::CREATED, json!(asset))
}

/// Adds the rate-limit headers, the ETag (answering `304` on a match), and counts the request.
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
    state.stats.requests += 1;
    if not_modified {
        state.stats.not_modified += 1;
    } else {
        state.stats.rate_limited += 1;
        state.rate_remaining = state.rate_remaining.saturating_sub(1);
    }
    let status = if not_modified {
        StatusCode::NOT_MODIFIED
    } else {
        answer.status
    };
    let mut response = Response::builder()
        .status(status)
        .header("x-ratelimit-limit", RATE_LIMIT)
        .header("x-ratelimit-remaining", state.rate_remaining)
        .header("x-ratelimit-reset", now_epoch() + 3600)
        .header("x-ratelimit-used", RATE_LIMIT - state.rate_remaining);
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
