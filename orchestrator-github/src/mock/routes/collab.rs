//! The mock's Actions, refs, pull-request, label, comment and permission routes, served by the
//! state's [`InMemoryForge`] and rendered in GitHub's JSON (the [`crate::wire`] structs plus the
//! URLs GitHub adds).

use std::future::Future;
use std::task::{Context, Poll, Waker};

use http::header::LINK;
use http::{Method, StatusCode, Uri};
use orchestrator_core::Error;
use orchestrator_core::forge::prelude::*;
use orchestrator_core::forge::{
    Comment, Issue, PullRequest, RepoId, WorkflowDispatch, WorkflowRun, WorkflowRunQuery,
    WorkflowRunStatus,
};
use serde_json::{Value, json};

use super::super::events::MockEvent;
use super::super::objects::{self, fill};
use super::super::users::user_json;
use super::{Answer, State, page_of, problems_parsing, query_param};
use crate::wire::{
    GhBranchRef, GhComment, GhCommentBody, GhIssue, GhLabel, GhLabels, GhNewIssue, GhNewRef,
    GhPermission, GhPullRequest, GhRepositoryDispatch, GhUser, GhWorkflowDispatch, GhWorkflowRun,
    format_time, parse_time_ms,
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
            if !state.dispatch_run_details && dispatch.return_run_details.is_some() {
                // What a server that predates the field answers to an unknown key.
                return invalid(
                    "Invalid request.\n\n\"return_run_details\" is not a permitted key.",
                );
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
            // With an origin the branch is made there too, so git and the API agree.
            if let Some(origin) = state.ci.origin(repo) {
                if super::super::origin::branch_head(&origin, branch).is_some() {
                    return invalid("Reference already exists");
                }
                if !super::super::origin::create_branch(&origin, branch, &new.sha) {
                    return invalid("Object does not exist");
                }
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
        (&Method::POST, ["issues"]) => {
            let new: GhNewIssue = match serde_json::from_slice(body) {
                Ok(new) => new,
                Err(e) => return problems_parsing(&e),
            };
            if new.title.trim().is_empty() {
                return missing_field("Issue", "title");
            }
            let body = new.body.unwrap_or_default();
            match ready(forge.create_issue(repo, &new.title, &body)) {
                Ok(issue) => {
                    state.events.emit(MockEvent::Issue {
                        repo: repo.to_string(),
                        number: issue.number,
                        action: "opened".into(),
                    });
                    Answer::json(StatusCode::CREATED, issue_json(state, &web, &issue))
                }
                Err(e) => error(&e),
            }
        }
        (&Method::GET, ["issues", n]) => {
            let Some(n) = number(n) else {
                return Answer::not_found();
            };
            match state.issue_of(repo, n) {
                Ok(issue) => Answer::cached(issue_json(state, &web, &issue)),
                Err(e) => error(&e),
            }
        }
        (&Method::PATCH, ["issues", n]) => {
            let Some(n) = number(n) else {
                return Answer::not_found();
            };
            edit_issue(state, &web, n, body)
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
            let Some(before) = state.labels_of(repo, n) else {
                return Answer::not_found();
            };
            if ready(forge.pull_request(repo, n)).is_ok() {
                if let Err(e) = ready(forge.add_labels(repo, n, &labels)) {
                    return error(&e);
                }
            } else {
                let kept = state.issue_labels.entry((repo.to_string(), n)).or_default();
                for label in &labels {
                    if !kept.contains(label) {
                        kept.push(label.clone());
                    }
                }
            }
            for label in labels.iter().filter(|l| !before.contains(l)) {
                state.events.emit(MockEvent::Label {
                    repo: repo.to_string(),
                    number: n,
                    name: label.clone(),
                    action: "labeled".into(),
                });
            }
            labels_answer(state, &web, n)
        }
        (&Method::DELETE, ["issues", n, "labels", name]) => {
            let Some(n) = number(n) else {
                return Answer::not_found();
            };
            let Some(before) = state.labels_of(repo, n) else {
                return Answer::not_found();
            };
            if !before.iter().any(|l| l == name) {
                return Answer::error(StatusCode::NOT_FOUND, "Label does not exist");
            }
            if ready(forge.pull_request(repo, n)).is_ok() {
                if let Err(e) = ready(forge.remove_label(repo, n, name)) {
                    return error(&e);
                }
            } else if let Some(kept) = state.issue_labels.get_mut(&(repo.to_string(), n)) {
                kept.retain(|l| l != name);
            }
            state.events.emit(MockEvent::Label {
                repo: repo.to_string(),
                number: n,
                name: (*name).to_owned(),
                action: "unlabeled".into(),
            });
            labels_answer(state, &web, n)
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
                return missing_field("IssueComment", "body");
            }
            match ready(forge.create_comment(repo, n, &comment.body)) {
                Ok(c) => {
                    state.events.emit(MockEvent::IssueComment {
                        repo: repo.to_string(),
                        number: n,
                        comment_id: c.id,
                        action: "created".into(),
                    });
                    Answer::json(StatusCode::CREATED, web.comment(n, &c))
                }
                Err(e) => error(&e),
            }
        }
        (&Method::GET, ["collaborators", user, "permission"]) => {
            match ready(forge.permission(repo, user)) {
                Ok(level) => {
                    let gh = GhPermission::from_level(level);
                    let mut value = json!(gh);
                    let role = value["role_name"].clone();
                    if let Some(obj) = value.as_object_mut() {
                        let collaborator = fill(
                            user_json(&base_url, &state.users, user),
                            json!({"role_name": role}),
                        );
                        obj.insert("user".into(), collaborator);
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
    let Some(file) = super::github::dispatchable_workflow(state, repo, workflow) else {
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
            _ => state
                .forge
                .script_workflow(repo, &file, &failure.conclusion),
        }
    }
    let details = state.dispatch_run_details
        && dispatch
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
    let mut runs = match ready(forge.list_workflow_runs(web.repo, &query)) {
        Ok(runs) => runs,
        Err(e) => return error(&e),
    };
    // GitHub's run list lags behind a dispatch (when the mock is told to).
    let lag_ms = i64::try_from(state.run_listing_lag.as_millis()).unwrap_or(i64::MAX);
    if lag_ms > 0 {
        let now = orchestrator_core::state::now_ms();
        runs.retain(|r| now.saturating_sub(r.created_at_ms) >= lag_ms);
    }
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
fn labels_answer(state: &State, web: &Web<'_>, number: u64) -> Answer {
    match state.labels_of(web.repo, number) {
        Some(labels) => Answer::json(
            StatusCode::OK,
            Value::Array(
                labels
                    .iter()
                    .map(|l| objects::label(web.base_url, web.repo, l))
                    .collect(),
            ),
        ),
        None => Answer::not_found(),
    }
}

/// `PATCH .../issues/{n}`: title, body and state (`open`, `closed`), of an issue or a pull
/// request.
fn edit_issue(state: &mut State, web: &Web<'_>, number: u64, body: &[u8]) -> Answer {
    let edit: GhIssueEdit = match serde_json::from_slice(body) {
        Ok(edit) => edit,
        Err(e) => return problems_parsing(&e),
    };
    let repo = web.repo;
    let forge = state.forge.clone();
    let before = match state.issue_of(repo, number) {
        Ok(issue) => issue,
        Err(e) => return error(&e),
    };
    if let Some(wanted) = edit.state.as_deref()
        && !["open", "closed"].contains(&wanted)
    {
        return invalid(&format!("state {wanted:?} is not open or closed"));
    }
    if edit.title.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return missing_field("Issue", "title");
    }
    let is_pull = ready(forge.pull_request(repo, number)).is_ok();
    if let Some(text) = &edit.body
        && let Err(e) = ready(forge.update_issue_body(repo, number, text))
    {
        return error(&e);
    }
    if is_pull {
        let changed = match (edit.state.as_deref(), before.state.as_str()) {
            (Some("closed"), "open") => forge.close_pull_request(repo, number, false),
            (Some("open"), "closed") => forge.reopen_pull_request(repo, number),
            _ => Ok(()),
        };
        if let Err(e) = changed.and_then(|()| match &edit.title {
            Some(title) => forge.set_pull_title(repo, number, title),
            None => Ok(()),
        }) {
            return error(&e);
        }
    } else {
        let edits = state
            .issue_edits
            .entry((repo.to_string(), number))
            .or_default();
        if let Some(title) = &edit.title {
            edits.0 = Some(title.clone());
        }
        if let Some(wanted) = &edit.state {
            edits.1 = Some(wanted.clone());
        }
    }
    let action = match edit.state.as_deref() {
        Some("closed") if before.state == "open" => "closed",
        Some("open") if before.state == "closed" => "reopened",
        _ => "edited",
    };
    state.events.emit(MockEvent::Issue {
        repo: repo.to_string(),
        number,
        action: action.into(),
    });
    match state.issue_of(repo, number) {
        Ok(issue) => Answer::json(StatusCode::OK, issue_json(state, web, &issue)),
        Err(e) => error(&e),
    }
}

/// An issue in GitHub's shape (`issue`); a pull request's issue carries `pull_request`.
fn issue_json(state: &State, web: &Web<'_>, issue: &Issue) -> Value {
    let api = web.api();
    let n = issue.number;
    let pull = ready(state.forge.pull_request(web.repo, n)).ok();
    let author = pull.as_ref().map_or_else(
        || ready(state.forge.current_user()).unwrap_or_else(|_| "orchestrator-bot".to_owned()),
        |p| p.author.clone(),
    );
    let labels: Vec<Value> = state
        .labels_of(web.repo, n)
        .unwrap_or_default()
        .iter()
        .map(|l| objects::label(web.base_url, web.repo, l))
        .collect();
    let comments = ready(state.forge.list_comments(web.repo, n)).map_or(0, |c| c.len());
    let url = format!("{api}/issues/{n}");
    let closed = issue.state == "closed";
    let mut value = fill(
        web.issue(issue),
        json!({
            "id": objects::stable_id(&format!("{}#issue#{n}", web.repo)),
            "repository_url": api,
            "labels_url": format!("{url}/labels{{/name}}"),
            "comments_url": format!("{url}/comments"),
            "events_url": format!("{url}/events"),
            "user": user_json(web.base_url, &state.users, &author),
            "labels": labels,
            "assignee": null,
            "assignees": [],
            "milestone": null,
            "locked": false,
            "active_lock_reason": null,
            "comments": comments,
            "closed_at": if closed { json!(objects::REPO_CREATED) } else { Value::Null },
            "created_at": objects::REPO_CREATED,
            "updated_at": objects::REPO_CREATED,
            "author_association": if author.eq_ignore_ascii_case(&web.repo.owner) { "OWNER" } else { "CONTRIBUTOR" },
            "state_reason": if closed { json!("completed") } else { Value::Null },
            "reactions": objects::reactions(&url),
        }),
    );
    if let (Some(pr), Some(obj)) = (pull, value.as_object_mut()) {
        let html = format!("{}/{}/pull/{n}", web.base_url, web.repo);
        obj.insert(
            "pull_request".into(),
            json!({
                "url": format!("{api}/pulls/{n}"),
                "html_url": html,
                "diff_url": format!("{html}.diff"),
                "patch_url": format!("{html}.patch"),
                "merged_at": if pr.merged { json!(objects::REPO_CREATED) } else { Value::Null },
            }),
        );
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
        let url = format!("{}/issues/comments/{}", self.api(), c.id);
        if let Some(obj) = value.as_object_mut() {
            obj.insert("user".into(), user_json(self.base_url, &[], &c.author));
        }
        fill(
            value,
            json!({
                "node_id": format!("IC_mock{}", c.id),
                "issue_url": format!("{}/issues/{number}", self.api()),
                "author_association": if c.author.eq_ignore_ascii_case(&self.repo.owner) { "OWNER" } else { "CONTRIBUTOR" },
                "performed_via_github_app": null,
                "reactions": objects::reactions(&url),
            }),
        )
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

/// The body of `PATCH .../issues/{n}` (the fields the mock applies).
#[derive(Debug, serde::Deserialize)]
struct GhIssueEdit {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    state: Option<String>,
}

/// GitHub's `422` for a required field left out.
pub(super) fn missing_field(resource: &str, field: &str) -> Answer {
    Answer::json(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({
            "message": "Validation Failed",
            "errors": [{"resource": resource, "code": "missing_field", "field": field}],
            "documentation_url": "https://docs.github.com/rest"
        }),
    )
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
