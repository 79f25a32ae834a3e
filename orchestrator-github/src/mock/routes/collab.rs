//! The mock's Actions, refs, pull-request, label, comment and permission routes, served by the
//! state's [`InMemoryForge`] and rendered in GitHub's JSON (the [`crate::wire`] structs plus the
//! URLs GitHub adds).

use std::future::Future;
use std::task::{Context, Poll, Waker};

use http::header::LINK;
use http::{Method, StatusCode, Uri};
use orchestrator_core::Error;
use orchestrator_core::forge::{
    Comment, Forge, InMemoryForge, Issue, PullRequest, RepoId, WorkflowDispatch, WorkflowRun,
    WorkflowRunQuery, WorkflowRunStatus,
};
use serde_json::{Value, json};

use super::{Answer, State, page_of, problems_parsing, query_param};
use crate::wire::{
    GhBranchRef, GhComment, GhCommentBody, GhIssue, GhLabel, GhLabels, GhNewIssue,
    GhNewPullRequest, GhNewRef, GhPermission, GhPullRequest, GhRepositoryDispatch, GhUser,
    GhWorkflowDispatch, GhWorkflowRun, format_time, parse_time_ms,
};

/// Routes `rest` (the path after `/repos/{o}/{r}/`) of a known repository.
pub(super) fn route(
    state: &mut State,
    repo: &RepoId,
    method: &Method,
    uri: &Uri,
    rest: &[&str],
    body: &[u8],
) -> Answer {
    let forge = state.forge.clone();
    let base_url = state.base_url.clone();
    let web = Web {
        base_url: &base_url,
        repo,
    };
    let number = |n: &str| n.parse::<u64>().ok();
    match (method, rest) {
        (&Method::POST, ["actions", "workflows", workflow, "dispatches"]) => {
            let dispatch: GhWorkflowDispatch = match serde_json::from_slice(body) {
                Ok(d) => d,
                Err(e) => return problems_parsing(&e),
            };
            if dispatch.git_ref.is_empty() {
                return invalid("ref is required");
            }
            dispatch_workflow(state, &web, workflow, dispatch)
        }
        (&Method::GET, ["actions", "runs"]) => list_runs(state, &web, uri, None),
        (&Method::GET, ["actions", "workflows", workflow, "runs"]) => {
            list_runs(state, &web, uri, Some(workflow))
        }
        (&Method::GET, ["actions", "runs", id]) => {
            let Some(id) = number(id) else {
                return Answer::not_found();
            };
            match ready(forge.workflow_run(repo, id)) {
                Ok(run) => Answer::cached(super::github::complete_run(
                    state,
                    &web,
                    &run,
                    web.run(&run),
                )),
                Err(e) => error(&e),
            }
        }
        (&Method::POST, ["dispatches"]) => {
            let dispatch: GhRepositoryDispatch = match serde_json::from_slice(body) {
                Ok(d) => d,
                Err(e) => return problems_parsing(&e),
            };
            if dispatch.event_type.is_empty() {
                return invalid("event_type is required");
            }
            let payload = ready(forge.repository_dispatch(
                repo,
                &dispatch.event_type,
                &dispatch.client_payload,
            ));
            no_content(payload)
        }
        (&Method::POST, ["git", "refs"]) => {
            let new: GhNewRef = match serde_json::from_slice(body) {
                Ok(r) => r,
                Err(e) => return problems_parsing(&e),
            };
            let Some(branch) = new.full_name.strip_prefix("refs/heads/") else {
                return invalid("Reference name must start with refs/heads/ on this mock");
            };
            if new.sha.len() != 40 || !new.sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                return invalid("Object does not exist");
            }
            match ready(forge.create_branch(repo, branch, &new.sha)) {
                Ok(()) => Answer::json(
                    StatusCode::CREATED,
                    json!({
                        "ref": new.full_name,
                        "node_id": format!("REF_mock_{branch}"),
                        "url": format!("{}/git/{}", web.api(), new.full_name),
                        "object": {"sha": new.sha, "type": "commit",
                                   "url": format!("{}/git/commits/{}", web.api(), new.sha)}
                    }),
                ),
                Err(Error::AlreadyExists { .. }) => invalid("Reference already exists"),
                Err(e) => error(&e),
            }
        }
        (&Method::POST, ["pulls"]) => {
            let new: GhNewPullRequest = match serde_json::from_slice(body) {
                Ok(p) => p,
                Err(e) => return problems_parsing(&e),
            };
            let head = new.head.clone();
            match ready(forge.create_pull_request(repo, &new.into())) {
                Ok(pr) => Answer::json(StatusCode::CREATED, web.pull(&pr)),
                Err(Error::AlreadyExists { .. }) => Answer::json(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({
                        "message": "Validation Failed",
                        "errors": [{"resource": "PullRequest", "code": "custom",
                                    "message": format!("A pull request already exists for {}:{head}.", repo.owner)}],
                        "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"
                    }),
                ),
                Err(e) => error(&e),
            }
        }
        (&Method::GET, ["pulls", n]) => {
            let Some(n) = number(n) else {
                return Answer::not_found();
            };
            match ready(forge.pull_request(repo, n)) {
                Ok(pr) => Answer::cached(web.pull(&pr)),
                Err(e) => error(&e),
            }
        }
        (&Method::POST, ["issues"]) => {
            let new: GhNewIssue = match serde_json::from_slice(body) {
                Ok(new) => new,
                Err(e) => return problems_parsing(&e),
            };
            if new.title.trim().is_empty() {
                return invalid("title is required");
            }
            let body = new.body.unwrap_or_default();
            match ready(forge.create_issue(repo, &new.title, &body)) {
                Ok(issue) => Answer::json(StatusCode::CREATED, web.issue(&issue)),
                Err(e) => error(&e),
            }
        }
        (&Method::GET, ["issues", n]) => {
            let Some(n) = number(n) else {
                return Answer::not_found();
            };
            match ready(forge.issue(repo, n)) {
                Ok(issue) => Answer::cached(web.issue(&issue)),
                Err(e) => error(&e),
            }
        }
        (&Method::PATCH, ["issues", n]) => {
            let Some(n) = number(n) else {
                return Answer::not_found();
            };
            // Only the body is edited here; GitHub accepts the other fields too.
            let edit: GhCommentBody = match serde_json::from_slice(body) {
                Ok(edit) => edit,
                Err(e) => return problems_parsing(&e),
            };
            match ready(forge.update_issue_body(repo, n, &edit.body)) {
                Ok(issue) => Answer::json(StatusCode::OK, web.issue(&issue)),
                Err(e) => error(&e),
            }
        }
        (&Method::POST, ["issues", n, "labels"]) => {
            let Some(n) = number(n) else {
                return Answer::not_found();
            };
            // GitHub takes `{"labels": [...]}` or a bare array.
            let labels = serde_json::from_slice::<GhLabels>(body)
                .map(|l| l.labels)
                .or_else(|_| serde_json::from_slice::<Vec<String>>(body));
            let labels = match labels {
                Ok(labels) => labels,
                Err(e) => return problems_parsing(&e),
            };
            match ready(forge.add_labels(repo, n, &labels)) {
                Ok(()) => labels_answer(&forge, repo, n),
                Err(e) => error(&e),
            }
        }
        (&Method::DELETE, ["issues", n, "labels", name]) => {
            let Some(n) = number(n) else {
                return Answer::not_found();
            };
            let pr = match ready(forge.pull_request(repo, n)) {
                Ok(pr) => pr,
                Err(e) => return error(&e),
            };
            if !pr.labels.iter().any(|l| l == name) {
                return Answer::error(StatusCode::NOT_FOUND, "Label does not exist");
            }
            match ready(forge.remove_label(repo, n, name)) {
                Ok(()) => labels_answer(&forge, repo, n),
                Err(e) => error(&e),
            }
        }
        (&Method::POST, ["issues", n, "comments"]) => {
            let Some(n) = number(n) else {
                return Answer::not_found();
            };
            let comment: GhCommentBody = match serde_json::from_slice(body) {
                Ok(c) => c,
                Err(e) => return problems_parsing(&e),
            };
            if comment.body.is_empty() {
                return invalid("body is required");
            }
            match ready(forge.create_comment(repo, n, &comment.body)) {
                Ok(c) => Answer::json(StatusCode::CREATED, web.comment(n, &c)),
                Err(e) => error(&e),
            }
        }
        (&Method::GET, ["collaborators", user, "permission"]) => {
            match ready(forge.permission(repo, user)) {
                Ok(level) => {
                    let gh = GhPermission::from_level(level);
                    let mut value = json!(gh);
                    if let Some(obj) = value.as_object_mut() {
                        obj.insert("user".into(), json!({"login": user, "type": "User"}));
                    }
                    Answer::cached(value)
                }
                Err(e) => error(&e),
            }
        }
        _ => Answer::not_found(),
    }
}

/// `POST .../actions/workflows/{workflow}/dispatches`: `404` for a workflow the repository
/// does not have, `422` for a ref it does not have; then a run starts (failing when a
/// [`CiFailure`](crate::mock::CiFailure) matches). `204`, or `200` with the run's id and URLs when
/// the body asks for `return_run_details` or the API version returns them by default.
fn dispatch_workflow(
    state: &mut State,
    web: &Web<'_>,
    workflow: &str,
    dispatch: GhWorkflowDispatch,
) -> Answer {
    let repo = web.repo;
    let Some(file) = super::github::find_workflow(state, repo, workflow) else {
        return Answer::not_found();
    };
    if let Some(origin) = state.ci.origin(repo) {
        let git_ref = dispatch.git_ref.as_str();
        let short = git_ref
            .strip_prefix("refs/heads/")
            .or_else(|| git_ref.strip_prefix("refs/tags/"))
            .unwrap_or(git_ref);
        let exists = [format!("refs/heads/{short}"), format!("refs/tags/{short}")]
            .iter()
            .any(|r| super::super::origin::resolve(&origin, r).is_some());
        if !exists {
            return invalid(&format!("No ref found for: {git_ref}"));
        }
    }
    let name = repo.to_string();
    let failure = state
        .failures
        .iter()
        .find(|f| {
            f.matches(&name, Some(&dispatch.git_ref))
                || dispatch.inputs.values().any(|v| f.matches(&name, Some(v)))
                || f.matches(&name, None) && f.tag.is_none()
        })
        .cloned();
    if let Some(failure) = failure {
        // The longest input value singles this run out; without inputs, the workflow's runs.
        match dispatch.inputs.values().max_by_key(|v| v.len()) {
            Some(needle) if !needle.is_empty() => {
                state
                    .forge
                    .script_runs_with_input(repo, needle, &failure.conclusion)
            }
            _ => state.forge.script_workflow(repo, &file, &failure.conclusion),
        }
    }
    let details = dispatch
        .return_run_details
        .unwrap_or(state.api_version.as_str() >= "2026-03-10");
    let request = WorkflowDispatch {
        workflow: file.clone(),
        git_ref: dispatch.git_ref,
        inputs: dispatch.inputs,
    };
    if let Err(e) = ready(state.forge.dispatch_workflow(repo, &request)) {
        return error(&e);
    }
    // The run just started: the newest of the workflow's (the state lock is held meanwhile).
    let query = WorkflowRunQuery {
        workflow: Some(file),
        event: Some("workflow_dispatch".into()),
        ..WorkflowRunQuery::default()
    };
    let run = ready(state.forge.list_workflow_runs(repo, &query))
        .ok()
        .and_then(|runs| runs.into_iter().max_by_key(|r| r.id));
    if let Some(run) = &run {
        state.events.emit(crate::mock::MockEvent::WorkflowRun {
            repo: name,
            run_id: run.id,
            action: "requested".into(),
        });
    }
    match run {
        Some(run) if details => Answer::json(
            StatusCode::OK,
            json!({
                "workflow_run_id": run.id,
                "run_url": format!("{}/actions/runs/{}", web.api(), run.id),
                "html_url": format!("{}/{}/actions/runs/{}", web.base_url, repo, run.id),
            }),
        ),
        _ => no_content(Ok(())),
    }
}

/// `GET .../actions/runs` or `.../actions/workflows/{workflow}/runs`, with GitHub's filters.
fn list_runs(state: &State, web: &Web<'_>, uri: &Uri, workflow: Option<&str>) -> Answer {
    let forge = &state.forge;
    let raw = uri.query().unwrap_or_default();
    let param = |key: &str| query_param(raw, key).filter(|v| !v.is_empty());
    let created_after_ms = match param("created") {
        Some(created) => {
            // `>=T` and `>T` are what the adapter sends; a bare date means "that day or later"
            // here (GitHub: that day), which errs on listing more.
            let time = created.trim_start_matches(">=").trim_start_matches('>');
            let time = if time.len() == 10 {
                format!("{time}T00:00:00Z")
            } else {
                time.to_owned()
            };
            match parse_time_ms(&time) {
                Some(ms) => Some(ms),
                None => return invalid("created is not a valid date filter"),
            }
        }
        None => None,
    };
    let query = WorkflowRunQuery {
        workflow: workflow.map(str::to_owned),
        event: param("event"),
        head_sha: param("head_sha"),
        created_after_ms,
    };
    let runs = match ready(forge.list_workflow_runs(web.repo, &query)) {
        Ok(runs) => runs,
        Err(e) => return error(&e),
    };
    let total = runs.len();
    let items = runs
        .iter()
        .map(|r| super::github::complete_run(state, web, r, web.run(r)))
        .collect();
    let (per_page, page) = paging(uri);
    let path = match workflow {
        Some(w) => format!("{}/actions/workflows/{}/runs", web.api(), encode(w)),
        None => format!("{}/actions/runs", web.api()),
    };
    // Links keep the filters, as GitHub's do.
    let filters: Vec<String> = ["event", "head_sha", "created"]
        .iter()
        .filter_map(|k| param(k).map(|v| format!("{k}={}", encode(&v))))
        .collect();
    let url = if filters.is_empty() {
        path
    } else {
        format!("{path}?{}", filters.join("&"))
    };
    let (items, link) = page_of(items, per_page, page, &url);
    with_link(
        Answer::cached(json!({"total_count": total, "workflow_runs": items})),
        link,
    )
}

pub(super) fn paging(uri: &Uri) -> (usize, usize) {
    let raw = uri.query().unwrap_or_default();
    let per_page = query_param(raw, "per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(30usize)
        .clamp(1, 100);
    let page = query_param(raw, "page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    (per_page, page)
}

pub(super) fn with_link(mut answer: Answer, link: Option<String>) -> Answer {
    if let Some(link) = link {
        answer.headers.push((LINK.as_str(), link));
    }
    answer
}

/// The issue's labels as `POST .../labels` and `DELETE .../labels/{name}` answer them.
fn labels_answer(forge: &InMemoryForge, repo: &RepoId, number: u64) -> Answer {
    match ready(forge.pull_request(repo, number)) {
        Ok(pr) => Answer::json(
            StatusCode::OK,
            Value::Array(pr.labels.iter().map(|l| label_json(l)).collect()),
        ),
        Err(e) => error(&e),
    }
}

fn label_json(name: &str) -> Value {
    let mut value = json!(GhLabel {
        name: name.to_owned()
    });
    if let Some(obj) = value.as_object_mut() {
        obj.insert("color".into(), json!("ededed"));
        obj.insert("default".into(), json!(false));
        obj.insert("description".into(), Value::Null);
    }
    value
}

/// URLs of one repository on the mock.
pub(super) struct Web<'a> {
    pub(super) base_url: &'a str,
    pub(super) repo: &'a RepoId,
}

impl Web<'_> {
    pub(super) fn api(&self) -> String {
        format!("{}/repos/{}", self.base_url, self.repo)
    }

    fn run(&self, run: &WorkflowRun) -> Value {
        let status = match run.status {
            WorkflowRunStatus::Queued => "queued",
            WorkflowRunStatus::InProgress => "in_progress",
            WorkflowRunStatus::Completed => "completed",
        };
        let name = run
            .workflow
            .rsplit_once('.')
            .map_or(run.workflow.as_str(), |(stem, _)| stem);
        let gh = GhWorkflowRun {
            id: run.id,
            name: Some(name.to_owned()),
            display_title: run.display_title.clone(),
            path: format!(".github/workflows/{}", run.workflow),
            event: run.event.clone(),
            head_sha: run.head_sha.clone(),
            head_branch: run.head_branch.clone(),
            status: Some(status.to_owned()),
            conclusion: run.conclusion.clone(),
            created_at: format_time(run.created_at_ms),
            html_url: format!("{}/{}/actions/runs/{}", self.base_url, self.repo, run.id),
        };
        let mut value = json!(gh);
        if let Some(obj) = value.as_object_mut() {
            let api = format!("{}/actions/runs/{}", self.api(), run.id);
            obj.insert("run_number".into(), json!(run.id));
            obj.insert("run_attempt".into(), json!(1));
            obj.insert("updated_at".into(), json!(format_time(run.created_at_ms)));
            obj.insert("jobs_url".into(), json!(format!("{api}/jobs")));
            obj.insert("url".into(), json!(api));
            obj.insert("node_id".into(), json!(format!("WFR_mock{}", run.id)));
        }
        value
    }

    fn issue(&self, issue: &Issue) -> Value {
        let gh = GhIssue {
            number: issue.number,
            title: issue.title.clone(),
            body: Some(issue.body.clone()).filter(|b| !b.is_empty()),
            state: issue.state.clone(),
            html_url: format!("{}/{}/issues/{}", self.base_url, self.repo, issue.number),
        };
        let mut value = json!(gh);
        if let Some(obj) = value.as_object_mut() {
            obj.insert(
                "url".into(),
                json!(format!("{}/issues/{}", self.api(), issue.number)),
            );
            obj.insert("node_id".into(), json!(format!("I_mock{}", issue.number)));
        }
        value
    }

    pub(super) fn pull(&self, pr: &PullRequest) -> Value {
        let gh = GhPullRequest {
            number: pr.number,
            title: pr.title.clone(),
            body: Some(pr.body.clone()).filter(|b| !b.is_empty()),
            head: GhBranchRef {
                name: pr.head_ref.clone(),
                sha: pr.head_sha.clone(),
            },
            base: GhBranchRef {
                name: pr.base_ref.clone(),
                sha: pr.base_sha.clone(),
            },
            user: GhUser {
                login: pr.author.clone(),
            },
            labels: pr
                .labels
                .iter()
                .map(|l| GhLabel { name: l.clone() })
                .collect(),
            draft: pr.draft,
            state: pr.state.clone(),
            html_url: format!("{}/{}/pull/{}", self.base_url, self.repo, pr.number),
            merged: pr.merged,
            mergeable: pr.mergeable,
        };
        let mut value = json!(gh);
        if let Some(obj) = value.as_object_mut() {
            obj.insert(
                "url".into(),
                json!(format!("{}/pulls/{}", self.api(), pr.number)),
            );
            obj.insert("node_id".into(), json!(format!("PR_mock{}", pr.number)));
            if let Some(head) = obj.get_mut("head").and_then(Value::as_object_mut) {
                head.insert(
                    "label".into(),
                    json!(format!("{}:{}", self.repo.owner, pr.head_ref)),
                );
            }
        }
        value
    }

    pub(super) fn comment(&self, number: u64, c: &Comment) -> Value {
        let gh = GhComment {
            id: c.id,
            user: GhUser {
                login: c.author.clone(),
            },
            body: Some(c.body.clone()),
            created_at: format_time(c.created_at_ms),
            updated_at: format_time(c.updated_at_ms),
        };
        let mut value = json!(gh);
        if let Some(obj) = value.as_object_mut() {
            obj.insert(
                "html_url".into(),
                json!(format!(
                    "{}/{}/pull/{number}#issuecomment-{}",
                    self.base_url, self.repo, c.id
                )),
            );
            obj.insert(
                "url".into(),
                json!(format!("{}/issues/comments/{}", self.api(), c.id)),
            );
        }
        value
    }
}

fn no_content(result: orchestrator_core::Result<()>) -> Answer {
    match result {
        Ok(()) => Answer {
            body: None,
            ..Answer::json(StatusCode::NO_CONTENT, Value::Null)
        },
        Err(e) => error(&e),
    }
}

pub(super) fn invalid(message: &str) -> Answer {
    Answer::json(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"message": message, "documentation_url": "https://docs.github.com/rest"}),
    )
}

/// The in-memory backend's errors as GitHub would answer them.
pub(super) fn error(e: &Error) -> Answer {
    match e {
        Error::NotFound { .. } => Answer::not_found(),
        Error::AlreadyExists { .. } | Error::InvalidInput { .. } | Error::Conflict { .. } => {
            invalid(&e.to_string())
        }
        Error::PermissionDenied { .. } => Answer::error(
            StatusCode::FORBIDDEN,
            "Resource not accessible by integration",
        ),
        Error::Unauthenticated { .. } => Answer::error(StatusCode::UNAUTHORIZED, "Bad credentials"),
        _ => Answer::error(StatusCode::BAD_GATEWAY, &e.to_string()),
    }
}

/// The result of an [`InMemoryForge`] call. Its futures never wait (no `.await` on I/O inside),
/// so one poll completes them; `Transient` if one ever did not.
pub(super) fn ready<T>(
    future: impl Future<Output = orchestrator_core::Result<T>>,
) -> orchestrator_core::Result<T> {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(result) => result,
        Poll::Pending => Err(Error::Transient {
            message: "mock: the in-memory backend did not answer at once".into(),
        }),
    }
}

/// Percent-encoding for the `Link` URLs the mock writes.
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
    use super::super::decode;
    use super::*;

    #[test]
    fn link_urls_round_trip_through_decode() {
        assert_eq!(
            decode(&encode(">=2026-01-31T23:59:59Z")),
            ">=2026-01-31T23:59:59Z"
        );
    }
}
