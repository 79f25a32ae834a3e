//! The GitHub App routes: `GET /app`, `GET /repos/{owner}/{repo}/installation` and
//! `POST /app/installations/{id}/access_tokens` (each authenticated with the app's JWT), and
//! `GET /installation/repositories` (with an installation token).

use http::{Method, StatusCode, Uri};
use orchestrator_core::forge::RepoId;
use serde_json::{Value, json};

use super::super::app::installation_id;
use super::super::objects::{self, repo_full};
use super::super::users::user_json;
use super::super::{State, app::MockApp};
use super::collab::{paging, with_link};
use super::{Answer, page_of};
use crate::app::verify_jwt;
use crate::wire::format_time;

/// The app's routes (authenticated with its JWT); `None` for every other request.
pub(in crate::mock) fn route(
    state: &mut State,
    method: &Method,
    segments: &[&str],
    authorization: Option<&str>,
) -> Option<Answer> {
    let app_route = matches!(
        (method, segments),
        (&Method::GET, ["app"])
            | (&Method::GET, ["repos", _, _, "installation"])
            | (&Method::POST, ["app", "installations", _, "access_tokens"])
    );
    if !app_route {
        return None;
    }
    let app = match verified(state, authorization) {
        Ok(app) => app,
        Err(refused) => return Some(refused),
    };
    Some(match segments {
        ["app"] => Answer::cached(app_json(state, &app)),
        ["repos", owner, name, "installation"] => {
            if !state.knows(&RepoId::new(*owner, *name)) {
                return Some(Answer::not_found());
            }
            Answer::cached(installation_json(state, &app, owner))
        }
        [_, _, id, _] => {
            let id = id.parse::<u64>().ok();
            let account = state
                .repos
                .keys()
                .filter_map(|k| k.split_once('/').map(|(o, _)| o.to_owned()))
                .find(|owner| Some(installation_id(owner)) == id);
            let (Some(id), Some(_)) = (id, account) else {
                return Some(Answer::not_found());
            };
            let now = crate::app::now_secs();
            let expires_at = now + i64::try_from(app.token_lifetime.as_secs()).unwrap_or(3600);
            let token = state.app_tokens.mint(id, expires_at);
            Answer::json(
                StatusCode::CREATED,
                json!({
                    "token": token,
                    "expires_at": format_time(expires_at * 1000),
                    "permissions": permissions(),
                    "repository_selection": "all",
                }),
            )
        }
        _ => Answer::not_found(),
    })
}

/// The app when `authorization` carries a JWT it signed that is still valid; else GitHub's `401`.
fn verified(state: &State, authorization: Option<&str>) -> Result<MockApp, Answer> {
    let jwt = authorization
        .and_then(|a| a.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    let Some(app) = state.app.clone() else {
        // No app is known: no JWT can be one of its.
        return Err(unauthorized(
            crate::app::JwtRejection::Undecodable.message(),
        ));
    };
    verify_jwt(jwt, app.id, app.public_key(), crate::app::now_secs())
        .map_err(|rejection| unauthorized(rejection.message()))?;
    Ok(app)
}

fn unauthorized(message: &str) -> Answer {
    Answer::error(StatusCode::UNAUTHORIZED, message).fault()
}

/// What the mock's app may do: what the orchestrator needs.
fn permissions() -> Value {
    json!({
        "actions": "write", "contents": "write", "issues": "write",
        "metadata": "read", "pull_requests": "write",
    })
}

/// The app (`integration`).
fn app_json(state: &State, app: &MockApp) -> Value {
    json!({
        "id": app.id,
        "slug": "orchestrator",
        "node_id": format!("A_mock{}", app.id),
        "client_id": format!("Iv1.mock{}", app.id),
        "owner": user_json(&state.base_url, &state.users, "orchestrator"),
        "name": "orchestrator",
        "description": "Coordinated multi-repository releases",
        "external_url": "https://github.com/apps/orchestrator",
        "html_url": format!("{}/apps/orchestrator", state.base_url),
        "created_at": objects::REPO_CREATED,
        "updated_at": objects::REPO_CREATED,
        "permissions": permissions(),
        "events": ["push", "pull_request", "workflow_run", "release"],
        "installations_count": state.repos.keys().filter_map(|k| k.split_once('/')).map(|(o, _)| o.to_ascii_lowercase()).collect::<std::collections::BTreeSet<_>>().len(),
    })
}

/// The app's installation on `account` (`installation`).
fn installation_json(state: &State, app: &MockApp, account: &str) -> Value {
    let id = installation_id(account);
    json!({
        "id": id,
        "account": user_json(&state.base_url, &state.users, account),
        "repository_selection": "all",
        "access_tokens_url": format!("{}/app/installations/{id}/access_tokens", state.base_url),
        "repositories_url": format!("{}/installation/repositories", state.base_url),
        "html_url": format!("{}/settings/installations/{id}", state.base_url),
        "app_id": app.id,
        "app_slug": "orchestrator",
        "target_id": objects::stable_id(account),
        "target_type": "User",
        "permissions": permissions(),
        "events": ["push", "pull_request", "workflow_run", "release"],
        "created_at": objects::REPO_CREATED,
        "updated_at": objects::REPO_CREATED,
        "single_file_name": null,
        "suspended_by": null,
        "suspended_at": null,
    })
}

/// `GET /installation/repositories`: the repositories of the installation's account.
pub(in crate::mock) fn repositories(state: &mut State, uri: &Uri) -> Answer {
    let Some(installation) = state.installation else {
        return Answer::error(StatusCode::UNAUTHORIZED, "Bad credentials");
    };
    let mut repos: Vec<RepoId> = state
        .repos
        .keys()
        .filter_map(|k| k.split_once('/'))
        .filter(|(owner, _)| installation_id(owner) == installation)
        .map(|(o, n)| RepoId::new(o, n))
        .collect();
    repos.sort_by(|a, b| a.name.cmp(&b.name));
    let items: Vec<Value> = repos
        .iter()
        .map(|r| {
            let branch = super::github::default_branch(state, r);
            repo_full(&state.base_url, &state.users, r, &branch)
        })
        .collect();
    let total = items.len();
    let (per_page, page) = paging(uri);
    let url = format!("{}/installation/repositories", state.base_url);
    let (items, link) = page_of(items, per_page, page, &url);
    with_link(
        Answer::cached(
            json!({"total_count": total, "repository_selection": "all", "repositories": items}),
        ),
        link,
    )
}
