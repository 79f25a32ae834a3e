//! The routes a typical GitHub client calls first, and the objects behind the URLs the mock
//! writes into its own answers: the repository, users, the rate limit, branches and refs, a
//! release asset (JSON or its bytes) and its `browser_download_url`, workflows, a run's jobs,
//! check runs, labels. Each answers GitHub's full object (see [`super::super::objects`]).

use std::collections::BTreeSet;

use http::{Method, StatusCode, Uri};
use orchestrator_core::forge::prelude::*;
use orchestrator_core::forge::{
    ReleaseAsset, RepoId, WorkflowRun, WorkflowRunQuery, WorkflowRunStatus, workflow_file,
};
use serde_json::{Value, json};

use super::super::objects::{self, fill, label, repo_full, stable_id, user_full};
use super::super::origin::{self, PathAt};
use super::super::users::user_json;
use super::super::{Actor, State};
use super::collab::{Web, error, paging, ready, with_link};
use super::{Answer, page_of};
use crate::wire::format_time;

/// `GET /users/{username}`: any well-formed login is a user of the mock.
pub(in crate::mock) fn user(state: &State, login: &str) -> Answer {
    let well_formed = !login.is_empty()
        && login
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_[]".contains(c));
    if !well_formed {
        return Answer::not_found();
    }
    Answer::cached(user_full(&state.base_url, &state.users, login, false))
}

/// `GET /rate_limit`: the window's numbers; free, as on GitHub.
pub(in crate::mock) fn rate_limit(state: &mut State) -> Answer {
    let headers = state.limit.headers();
    let number = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let core = json!({
        "limit": number("x-ratelimit-limit"),
        "remaining": number("x-ratelimit-remaining"),
        "reset": number("x-ratelimit-reset"),
        "used": number("x-ratelimit-used"),
        "resource": "core",
    });
    let search = json!({"limit": 30, "remaining": 30, "reset": number("x-ratelimit-reset"), "used": 0, "resource": "search"});
    let mut answer = Answer::json(
        StatusCode::OK,
        json!({"resources": {"core": core, "search": search}, "rate": core}),
    );
    answer.billable = false;
    answer
}

/// `GET /{owner}/{repo}/releases/download/{tag}/{name}`: an asset's bytes (the
/// `browser_download_url`).
pub(in crate::mock) fn download(state: &mut State, repo: &RepoId, tag: &str, name: &str) -> Answer {
    let Some(release) = state.release(repo, tag).filter(|r| !r.draft) else {
        return Answer::not_found();
    };
    match release.assets.iter().find(|a| a.name == name) {
        Some(asset) => Answer::bytes(asset_bytes(state, asset), "application/octet-stream"),
        None => Answer::not_found(),
    }
}

/// An asset's bytes: what was uploaded, else (CI-made) its name repeated to its size.
fn asset_bytes(state: &State, asset: &ReleaseAsset) -> Vec<u8> {
    if let Some(bytes) = state.asset_bytes.get(&asset.id) {
        return bytes.clone();
    }
    let line = format!("{}\n", asset.name);
    line.bytes()
        .cycle()
        .take(usize::try_from(asset.size).unwrap_or(0))
        .collect()
}

/// The repository routes of this module; `None` hands the request on.
pub(in crate::mock) fn route(
    state: &mut State,
    repo: &RepoId,
    method: &Method,
    uri: &Uri,
    rest: &[&str],
) -> Option<Answer> {
    if *method != Method::GET {
        return None;
    }
    let base_url = state.base_url.clone();
    let web = Web {
        base_url: &base_url,
        repo,
    };
    Some(match rest {
        [] => {
            let branch = default_branch(state, repo);
            let mut value = repo_full(&base_url, &state.users, repo, &branch);
            if let Actor::User(login) = &state.actor {
                let level = state.permission_of(login);
                use orchestrator_core::forge::Permission as P;
                value["permissions"] = json!({
                    "admin": level >= P::Admin, "maintain": level >= P::Maintain,
                    "push": level >= P::Write, "triage": level >= P::Triage, "pull": level >= P::Read,
                });
            }
            Answer::cached(value)
        }
        ["branches", branch @ ..] => {
            let branch = branch.join("/");
            match branch_head(state, repo, &branch) {
                Some(sha) => Answer::cached(branch_json(state, &web, &branch, &sha)),
                None => Answer::error(StatusCode::NOT_FOUND, "Branch not found"),
            }
        }
        ["git", "ref" | "refs", name @ ..] => {
            let name = name.join("/");
            match ref_sha(state, repo, &name) {
                Some(sha) => Answer::cached(ref_json(&web, &format!("refs/{name}"), &sha)),
                None => Answer::not_found(),
            }
        }
        ["releases", "assets", id] => {
            let Ok(id) = id.parse::<u64>() else {
                return Some(Answer::not_found());
            };
            let found = state.releases(repo).into_iter().find_map(|r| {
                r.assets
                    .iter()
                    .find(|a| a.id == id)
                    .cloned()
                    .map(|a| (r, a))
            });
            match found {
                Some((_, asset)) if state.accept.contains("application/octet-stream") => {
                    Answer::bytes(asset_bytes(state, &asset), "application/octet-stream")
                }
                Some((release, asset)) => {
                    Answer::cached(super::asset_json(state, repo, &release, &asset))
                }
                None => Answer::not_found(),
            }
        }
        ["labels", name] => Answer::cached(label(&base_url, repo, name)),
        ["actions", "workflows"] => {
            let workflows: Vec<Value> = state
                .known_workflows(repo)
                .iter()
                .map(|w| workflow_json(&web, w))
                .collect();
            let total = workflows.len();
            let (per_page, page) = paging(uri);
            let url = format!("{}/actions/workflows", web.api());
            let (items, link) = page_of(workflows, per_page, page, &url);
            with_link(
                Answer::cached(json!({"total_count": total, "workflows": items})),
                link,
            )
        }
        ["actions", "workflows", id] => match find_workflow(state, repo, id) {
            Some(file) => Answer::cached(workflow_json(&web, &file)),
            None => Answer::not_found(),
        },
        ["actions", "runs", id, "jobs"] => {
            let Some(run) = id.parse().ok().and_then(|id| run(state, repo, id)) else {
                return Some(Answer::not_found());
            };
            let jobs = vec![job_json(state, &web, &run)];
            let (per_page, page) = paging(uri);
            let url = format!("{}/actions/runs/{}/jobs", web.api(), run.id);
            let (items, link) = page_of(jobs, per_page, page, &url);
            with_link(
                Answer::cached(json!({"total_count": 1, "jobs": items})),
                link,
            )
        }
        ["actions", "jobs", id] => {
            let run = id
                .parse::<u64>()
                .ok()
                .and_then(run_of_job)
                .and_then(|id| run(state, repo, id));
            match run {
                Some(run) => Answer::cached(job_json(state, &web, &run)),
                None => Answer::not_found(),
            }
        }
        ["check-runs", id] => {
            let run = id
                .parse::<u64>()
                .ok()
                .and_then(run_of_job)
                .and_then(|id| run(state, repo, id));
            match run {
                Some(run) => Answer::cached(check_run_json(state, &web, &run)),
                None => Answer::not_found(),
            }
        }
        ["commits", git_ref, "check-runs"] => {
            let sha = ref_sha(state, repo, &format!("heads/{git_ref}"))
                .or_else(|| ref_sha(state, repo, &format!("tags/{git_ref}")))
                .unwrap_or_else(|| (*git_ref).to_owned());
            let runs = match ready(state.forge.list_workflow_runs(
                repo,
                &WorkflowRunQuery {
                    head_sha: Some(sha),
                    ..WorkflowRunQuery::default()
                },
            )) {
                Ok(runs) => runs,
                Err(e) => return Some(error(&e)),
            };
            let checks: Vec<Value> = runs
                .iter()
                .map(|r| check_run_json(state, &web, &state.edited_run(repo, r)))
                .collect();
            let total = checks.len();
            let (per_page, page) = paging(uri);
            let url = format!("{}/commits/{git_ref}/check-runs", web.api());
            let (items, link) = page_of(checks, per_page, page, &url);
            with_link(
                Answer::cached(json!({"total_count": total, "check_runs": items})),
                link,
            )
        }
        ["issues", n, "labels"] => {
            let Ok(n) = n.parse::<u64>() else {
                return Some(Answer::not_found());
            };
            match state.labels_of(repo, n) {
                Some(labels) => {
                    let items: Vec<Value> =
                        labels.iter().map(|l| label(&base_url, repo, l)).collect();
                    let (per_page, page) = paging(uri);
                    let url = format!("{}/issues/{n}/labels", web.api());
                    let (items, link) = page_of(items, per_page, page, &url);
                    with_link(Answer::cached(Value::Array(items)), link)
                }
                None => Answer::not_found(),
            }
        }
        _ => return None,
    })
}

/// The job of a run: one `build` job, whose id is derived from the run's.
const JOBS_PER_RUN: u64 = 1000;

fn job_id(run: &WorkflowRun) -> u64 {
    run.id * JOBS_PER_RUN + 1
}

fn run_of_job(job: u64) -> Option<u64> {
    (job % JOBS_PER_RUN == 1).then_some(job / JOBS_PER_RUN)
}

fn run(state: &State, repo: &RepoId, id: u64) -> Option<WorkflowRun> {
    let run = ready(state.forge.workflow_run(repo, id)).ok()?;
    Some(state.edited_run(repo, &run))
}

/// The repository's default branch: the origin's `HEAD`, else `main`.
pub(in crate::mock) fn default_branch(state: &State, repo: &RepoId) -> String {
    state
        .ci
        .origin(repo)
        .map_or_else(|| "main".to_owned(), |o| origin::default_branch(&o))
}

/// The commit `branch` points at: from the origin when there is one; else the in-memory
/// forge's branch (any branch exists there).
fn branch_head(state: &State, repo: &RepoId, branch: &str) -> Option<String> {
    match state.ci.origin(repo) {
        Some(origin) => origin::branch_head(&origin, branch),
        None => Some(state.forge.branch_head(repo, branch)),
    }
}

/// The commit a `heads/X` or `tags/X` ref names, if it exists.
fn ref_sha(state: &mut State, repo: &RepoId, name: &str) -> Option<String> {
    let origin = state.ci.origin(repo);
    if let Some(branch) = name.strip_prefix("heads/") {
        return branch_head(state, repo, branch);
    }
    let tag = name.strip_prefix("tags/")?;
    match origin {
        Some(origin) => origin::resolve(&origin, &format!("refs/tags/{tag}")),
        // Without an origin: a tag exists when CI saw it pushed or a release names it.
        None => state
            .release(repo, tag)
            .map(|_| fake_sha(&format!("{repo}@{tag}"))),
    }
}

/// A stable 40-hex SHA for things without a git object.
fn fake_sha(what: &str) -> String {
    let a = stable_id(what);
    let b = stable_id(&format!("{what}#"));
    format!("{a:020x}{b:020x}")
}

fn ref_json(web: &Web<'_>, full: &str, sha: &str) -> Value {
    // GitHub writes the legacy `git/refs/...` spelling; the mock serves it too.
    json!({
        "ref": full,
        "node_id": format!("REF_mock{}", stable_id(full)),
        "url": format!("{}/git/{full}", web.api()),
        "object": {"sha": sha, "type": "commit", "url": format!("{}/git/commits/{sha}", web.api())},
    })
}

fn branch_json(state: &State, web: &Web<'_>, branch: &str, sha: &str) -> Value {
    let api = web.api();
    let commit = state
        .ci
        .origin(web.repo)
        .and_then(|o| origin::commit(&o, sha));
    let tree = commit
        .as_ref()
        .map_or_else(|| sha.to_owned(), |c| c.tree.clone());
    let (message, author, date) = commit.as_ref().map_or_else(
        || {
            (
                String::new(),
                ("mock".to_owned(), "mock@example.invalid".to_owned()),
                objects::REPO_CREATED.to_owned(),
            )
        },
        |c| {
            (
                c.message.clone(),
                (c.author_name.clone(), c.author_email.clone()),
                c.author_date.clone(),
            )
        },
    );
    let git_user = json!({"name": author.0, "email": author.1, "date": date});
    json!({
        "name": branch,
        "commit": {
            "sha": sha,
            "node_id": format!("C_mock{sha}"),
            "url": format!("{api}/commits/{sha}"),
            "html_url": format!("{}/{}/commit/{sha}", web.base_url, web.repo),
            "comments_url": format!("{api}/commits/{sha}/comments"),
            "commit": {
                "url": format!("{api}/git/commits/{sha}"),
                "author": git_user, "committer": git_user,
                "message": message, "comment_count": 0,
                "tree": {"sha": tree, "url": format!("{api}/git/trees/{tree}")},
            },
            "author": null, "committer": null,
            "parents": commit.map(|c| c.parents.iter().map(|p| json!({"sha": p, "url": format!("{api}/commits/{p}")})).collect::<Vec<_>>()).unwrap_or_default(),
        },
        "_links": {"html": format!("{}/{}/tree/{branch}", web.base_url, web.repo), "self": format!("{api}/branches/{branch}")},
        "protected": false,
        "protection": {"enabled": false, "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []}},
        "protection_url": format!("{api}/branches/{branch}/protection"),
    })
}

/// The workflow whose numeric id or file name is `id`.
pub(in crate::mock) fn find_workflow(state: &mut State, repo: &RepoId, id: &str) -> Option<String> {
    let known = state.known_workflows(repo);
    let file = workflow_file(id);
    known
        .into_iter()
        .find(|w| w == file || stable_id(&format!("{repo}/{w}")).to_string() == id)
}

/// The workflow a dispatch names, `None` (answered `404`) when the repository does not have it,
/// as on GitHub: also when the repository has no workflow at all. Tests whose workflows live only
/// in the in-memory forge (`configure_workflow`) declare them with
/// [`MockGitHub::add_workflow`](crate::mock::MockGitHub::add_workflow).
pub(in crate::mock) fn dispatchable_workflow(
    state: &mut State,
    repo: &RepoId,
    id: &str,
) -> Option<String> {
    find_workflow(state, repo, id)
}

/// A workflow (`workflow`).
pub(in crate::mock) fn workflow_json(web: &Web<'_>, file: &str) -> Value {
    let id = stable_id(&format!("{}/{file}", web.repo));
    let path = format!(".github/workflows/{file}");
    let name = file.rsplit_once('.').map_or(file, |(stem, _)| stem);
    json!({
        "id": id,
        "node_id": format!("W_mock{id}"),
        "name": name,
        "path": path,
        "state": "active",
        "created_at": objects::REPO_CREATED,
        "updated_at": objects::REPO_CREATED,
        "url": format!("{}/actions/workflows/{id}", web.api()),
        "html_url": format!("{}/{}/blob/main/{path}", web.base_url, web.repo),
        "badge_url": format!("{}/{}/workflows/{name}/badge.svg", web.base_url, web.repo),
    })
}

fn status_name(status: WorkflowRunStatus) -> &'static str {
    match status {
        WorkflowRunStatus::Queued => "queued",
        WorkflowRunStatus::InProgress => "in_progress",
        WorkflowRunStatus::Completed => "completed",
    }
}

/// A run's one job (`job`): the run's status and conclusion; a failed run's job shows the
/// failed step.
fn job_json(state: &State, web: &Web<'_>, run: &WorkflowRun) -> Value {
    let id = job_id(run);
    let api = web.api();
    let started = format_time(run.created_at_ms / 1000 * 1000);
    let completed = (run.status == WorkflowRunStatus::Completed).then(|| started.clone());
    let conclusion = run.conclusion.clone();
    let step_conclusion = |ok: bool| {
        if ok {
            conclusion.as_ref().map(|_| "success".to_owned())
        } else {
            conclusion.clone()
        }
    };
    let status = status_name(run.status);
    let step = |number: u64, name: &str, ok: bool| {
        json!({
            "name": name, "status": status, "conclusion": step_conclusion(ok), "number": number,
            "started_at": started, "completed_at": completed,
        })
    };
    let name = run
        .workflow
        .rsplit_once('.')
        .map_or(run.workflow.as_str(), |(stem, _)| stem);
    let _ = state;
    json!({
        "id": id,
        "run_id": run.id,
        "run_url": format!("{api}/actions/runs/{}", run.id),
        "run_attempt": 1,
        "node_id": format!("CR_mock{id}"),
        "head_sha": run.head_sha,
        "head_branch": run.head_branch,
        "url": format!("{api}/actions/jobs/{id}"),
        "html_url": format!("{}/{}/actions/runs/{}/job/{id}", web.base_url, web.repo, run.id),
        "status": status,
        "conclusion": conclusion,
        "created_at": started,
        "started_at": started,
        "completed_at": completed,
        "name": "build",
        "workflow_name": name,
        "steps": [step(1, "Set up job", true), step(2, "Build and upload", false)],
        "check_run_url": format!("{api}/check-runs/{id}"),
        "labels": ["ubuntu-latest"],
        "runner_id": 1,
        "runner_name": "mock-runner",
        "runner_group_id": 1,
        "runner_group_name": "GitHub Actions",
    })
}

/// A run's job as a check run (`check-run`).
fn check_run_json(state: &State, web: &Web<'_>, run: &WorkflowRun) -> Value {
    let id = job_id(run);
    let api = web.api();
    let started = format_time(run.created_at_ms / 1000 * 1000);
    let completed = (run.status == WorkflowRunStatus::Completed).then(|| started.clone());
    let app_owner = user_json(web.base_url, &state.users, "github");
    json!({
        "id": id,
        "node_id": format!("CR_mock{id}"),
        "head_sha": run.head_sha,
        "external_id": id.to_string(),
        "url": format!("{api}/check-runs/{id}"),
        "html_url": format!("{}/{}/actions/runs/{}/job/{id}", web.base_url, web.repo, run.id),
        "details_url": format!("{}/{}/actions/runs/{}/job/{id}", web.base_url, web.repo, run.id),
        "status": status_name(run.status),
        "conclusion": run.conclusion,
        "started_at": started,
        "completed_at": completed,
        "name": "build",
        "output": {"title": null, "summary": null, "text": null, "annotations_count": 0,
                   "annotations_url": format!("{api}/check-runs/{id}/annotations")},
        "check_suite": {"id": run.id},
        "app": {
            "id": 15368, "slug": "github-actions", "node_id": "MDM6QXBwMTUzNjg=",
            "client_id": "Iv1.mock", "owner": app_owner, "name": "GitHub Actions",
            "description": "Automate your workflow from idea to production",
            "external_url": "https://help.github.com/en/actions",
            "html_url": format!("{}/apps/github-actions", web.base_url),
            "created_at": "2018-07-30T09:30:17Z", "updated_at": "2019-12-10T19:04:12Z",
            "permissions": {}, "events": [],
        },
        "pull_requests": [],
    })
}

/// The fields of a workflow run (`workflow-run`) beyond what [`Web::run`] writes.
pub(in crate::mock) fn complete_run(
    state: &State,
    web: &Web<'_>,
    run: &WorkflowRun,
    value: Value,
) -> Value {
    let api = web.api();
    let run_api = format!("{api}/actions/runs/{}", run.id);
    // A cancel or re-run through the API shows over what the simulation says.
    let edited = state.edited_run(web.repo, run);
    let mut value = value;
    if let Some(obj) = value.as_object_mut() {
        if edited.conclusion != run.conclusion {
            obj.insert("status".into(), json!("completed"));
            obj.insert("conclusion".into(), json!(edited.conclusion));
        }
        obj.insert(
            "run_attempt".into(),
            json!(state.run_attempt(web.repo, run.id)),
        );
    }
    let workflow_id = stable_id(&format!("{}/{}", web.repo, run.workflow));
    let repository = objects::repo_minimal(web.base_url, &state.users, web.repo);
    let time = format_time(run.created_at_ms / 1000 * 1000);
    let actor = user_json(web.base_url, &state.users, &objects_actor(state));
    fill(
        value,
        json!({
            "node_id": format!("WFR_mock{}", run.id),
            "check_suite_id": run.id,
            "check_suite_node_id": format!("CS_mock{}", run.id),
            "workflow_id": workflow_id,
            "run_started_at": time,
            "actor": actor,
            "triggering_actor": actor,
            "head_commit": {
                "id": run.head_sha, "tree_id": run.head_sha,
                "message": run.display_title, "timestamp": time,
                "author": {"name": "mock", "email": "mock@example.invalid"},
                "committer": {"name": "mock", "email": "mock@example.invalid"},
            },
            "head_repository": repository,
            "repository": repository,
            "pull_requests": [],
            "referenced_workflows": [],
            "logs_url": format!("{run_api}/logs"),
            "check_suite_url": format!("{api}/check-suites/{}", run.id),
            "artifacts_url": format!("{run_api}/artifacts"),
            "cancel_url": format!("{run_api}/cancel"),
            "rerun_url": format!("{run_api}/rerun"),
            "previous_attempt_url": null,
            "workflow_url": format!("{api}/actions/workflows/{workflow_id}"),
        }),
    )
}

fn objects_actor(state: &State) -> String {
    match &state.actor {
        Actor::User(login) => login.clone(),
        _ => ready(state.forge.current_user()).unwrap_or_else(|_| "orchestrator-bot".to_owned()),
    }
}

impl State {
    /// Workflow files that exist in `repo`: declared ones, the config's release workflow, the
    /// origin's `.github/workflows/*` on the default branch, and those with runs.
    pub(in crate::mock) fn known_workflows(&mut self, repo: &RepoId) -> BTreeSet<String> {
        let mut known = self
            .workflows
            .get(&repo.to_string())
            .cloned()
            .unwrap_or_default();
        if let Some(config) = &self.config {
            for r in config.repos.iter().filter(|r| &r.github == repo) {
                known.insert(workflow_file(r.publish.workflow()).to_owned());
            }
        }
        if let Some(origin) = self.ci.origin(repo) {
            let branch = origin::default_branch(&origin);
            if let Some(sha) = origin::branch_head(&origin, &branch)
                && let PathAt::Dir(entries) = origin::read_path(&origin, &sha, ".github/workflows")
            {
                known.extend(
                    entries
                        .into_iter()
                        .filter(|(_, kind, _)| *kind == "file")
                        .map(|(n, _, _)| n),
                );
            }
        }
        if let Ok(runs) = ready(
            self.forge
                .list_workflow_runs(repo, &WorkflowRunQuery::default()),
        ) {
            known.extend(runs.into_iter().map(|r| r.workflow));
        }
        known
    }

    /// Issue `number` (or a pull request read as its issue), with the edits the mock keeps for
    /// plain issues (title, state).
    pub(in crate::mock) fn issue_of(
        &self,
        repo: &RepoId,
        number: u64,
    ) -> orchestrator_core::Result<orchestrator_core::forge::Issue> {
        let mut issue = ready(self.forge.issue(repo, number))?;
        if let Some((title, state)) = self.issue_edits.get(&(repo.to_string(), number)) {
            if let Some(title) = title {
                issue.title.clone_from(title);
            }
            if let Some(state) = state {
                issue.state.clone_from(state);
            }
        }
        Ok(issue)
    }

    /// The labels of issue or pull request `number`, `None` when there is none.
    pub(in crate::mock) fn labels_of(&self, repo: &RepoId, number: u64) -> Option<Vec<String>> {
        if let Ok(pr) = ready(self.forge.pull_request(repo, number)) {
            return Some(pr.labels);
        }
        ready(self.forge.issue(repo, number)).ok()?;
        Some(
            self.issue_labels
                .get(&(repo.to_string(), number))
                .cloned()
                .unwrap_or_default(),
        )
    }

    /// Records the failed `push` run of each newly pushed tag a [`CiFailure`] names.
    ///
    /// [`CiFailure`]: super::super::CiFailure
    pub(in crate::mock) fn observe_ci_failures(&mut self, repo: &RepoId) {
        if self.failures.is_empty() {
            return;
        }
        self.ci.observe(Some(repo));
        let name = repo.to_string();
        for tag in self.ci.pushed_tags(repo) {
            let Some(failure) = self
                .failures
                .iter()
                .find(|f| f.matches(&name, Some(&tag)))
                .cloned()
            else {
                continue;
            };
            if !self.failed_pushes.insert((name.clone(), tag.clone())) {
                continue;
            }
            let head_sha = self
                .ci
                .origin(repo)
                .and_then(|o| origin::resolve(&o, &format!("refs/tags/{tag}")))
                .unwrap_or_else(|| fake_sha(&format!("{repo}@{tag}")));
            let workflow = self
                .config
                .as_ref()
                .and_then(|c| c.repos.iter().find(|r| &r.github == repo))
                .map_or("release.yml", |r| workflow_file(r.publish.workflow()))
                .to_owned();
            // Apart from the in-memory forge's own run ids.
            let id = 9_000_000 + self.fresh_id();
            self.forge.add_workflow_run(
                repo,
                WorkflowRun {
                    id,
                    display_title: format!("{workflow} {tag}"),
                    workflow,
                    event: "push".into(),
                    head_sha,
                    head_branch: Some(tag.clone()),
                    status: WorkflowRunStatus::Completed,
                    conclusion: Some(failure.conclusion.clone()),
                    created_at_ms: orchestrator_core::state::now_ms(),
                    html_url: format!("{}/{repo}/actions/runs/{id}", self.base_url),
                },
            );
            self.events.emit(super::super::MockEvent::WorkflowRun {
                repo: name.clone(),
                run_id: id,
                action: "completed".into(),
            });
        }
    }
}
