//! The objects behind the URLs GitHub writes into its answers, so a client that follows any of
//! them (octokit's hypermedia helpers, a crawler, a person with `curl`) gets GitHub's answer, not
//! a `404`: source archives (`tarball_url`, `zipball_url`) and run logs, which redirect as on
//! GitHub; a run's artifacts, check suite, cancel and re-run; git commits, trees and blobs read
//! from the bare origin; commits by SHA, their statuses and comments; reactions, issue events and
//! review comments; and the collections a repository and a user link to.
//!
//! What the mock does not model answers as GitHub answers a repository that has none of it: no
//! stars, forks, hooks, deployments, statuses, reactions or review comments (empty lists), which
//! is also what the counts in the repository object say (`stargazers_count: 0`...).

use http::header::LOCATION;
use http::{Method, StatusCode, Uri};
use orchestrator_core::forge::prelude::*;
use orchestrator_core::forge::{RepoId, WorkflowRun, WorkflowRunStatus};
use serde_json::{Value, json};

use super::super::objects::{self, repo_minimal};
use super::super::origin;
use super::super::users::user_json;
use super::super::{MockEvent, State, zip};
use super::collab::{Web, paging, ready, with_link};
use super::{Answer, page_of, query_param};
use crate::wire::format_time;

/// A run the mock changed after the simulation made it: cancelled, or re-run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(in crate::mock) struct RunEdit {
    /// `POST .../cancel` reached it before it completed.
    pub(in crate::mock) cancelled_at_ms: Option<i64>,
    /// How many times `POST .../rerun` re-ran it (GitHub's `run_attempt` is this plus one).
    pub(in crate::mock) reruns: u32,
}

impl State {
    /// `run` as clients see it: cancelled when a cancel reached it first.
    pub(in crate::mock) fn edited_run(&self, repo: &RepoId, run: &WorkflowRun) -> WorkflowRun {
        let mut run = run.clone();
        if let Some(edit) = self.run_edits.get(&(repo.to_string(), run.id))
            && edit.cancelled_at_ms.is_some()
        {
            run.status = WorkflowRunStatus::Completed;
            run.conclusion = Some("cancelled".into());
        }
        run
    }

    /// GitHub's `run_attempt` of run `id`.
    pub(in crate::mock) fn run_attempt(&self, repo: &RepoId, id: u64) -> u32 {
        self.run_edits
            .get(&(repo.to_string(), id))
            .map_or(1, |e| e.reruns + 1)
    }
}

/// An answer with no body (`302`, `204`).
fn empty(status: StatusCode, headers: Vec<(&'static str, String)>) -> Answer {
    Answer {
        body: None,
        headers,
        ..Answer::json(status, Value::Null)
    }
}

/// A redirect to `location`, as GitHub answers archive and log downloads.
fn found(location: String) -> Answer {
    empty(StatusCode::FOUND, vec![(LOCATION.as_str(), location)])
}

/// A list the mock has nothing for (see the module docs), paginated like any other.
fn none(url: String, uri: &Uri) -> Answer {
    let (per_page, page) = paging(uri);
    let (items, link) = page_of(Vec::new(), per_page, page, &url);
    with_link(Answer::cached(Value::Array(items)), link)
}

/// Routes outside `/repos/{owner}/{repo}`: a user's collections, and the downloads the archive
/// and log redirects lead to. `None` hands the request on.
pub(in crate::mock) fn top(state: &mut State, uri: &Uri, segments: &[&str]) -> Option<Answer> {
    let base_url = state.base_url.clone();
    Some(match segments {
        ["users", login, what] => {
            if super::github::user(state, login).status != StatusCode::OK {
                return Some(Answer::not_found());
            }
            let url = format!("{base_url}/users/{login}/{what}");
            if *what != "repos" {
                return Some(none(url, uri));
            }
            // The repositories the mock knows of this owner.
            let mut repos: Vec<RepoId> = state
                .repos
                .keys()
                .filter_map(|k| k.split_once('/'))
                .filter(|(owner, _)| owner.eq_ignore_ascii_case(login))
                .map(|(owner, name)| RepoId::new(owner, name))
                .collect();
            repos.sort_by(|a, b| a.name.cmp(&b.name));
            let items: Vec<Value> = repos
                .iter()
                .map(|r| repo_minimal(&base_url, &state.users, r))
                .collect();
            let (per_page, page) = paging(uri);
            let (items, link) = page_of(items, per_page, page, &url);
            with_link(Answer::cached(Value::Array(items)), link)
        }
        [owner, name, "archive", rest @ ..] if !rest.is_empty() => {
            let repo = RepoId::new(*owner, *name);
            if !state.knows(&repo) {
                return Some(Answer::not_found());
            }
            let joined = rest.join("/");
            let (git_ref, format, content_type) = if let Some(r) = joined.strip_suffix(".tar.gz") {
                (r, "tar.gz", "application/x-gzip")
            } else if let Some(r) = joined.strip_suffix(".zip") {
                (r, "zip", "application/zip")
            } else {
                return Some(Answer::not_found());
            };
            let Some(origin) = state.ci.origin(&repo) else {
                return Some(Answer::not_found());
            };
            let Some(sha) = origin::resolve(&origin, git_ref) else {
                return Some(Answer::not_found());
            };
            // GitHub's archives hold one directory named `{owner}-{repo}-{short sha}`.
            let prefix = format!("{owner}-{name}-{}", &sha[..sha.len().min(7)]);
            match origin::archive(&origin, &sha, format, &prefix) {
                Some(bytes) => Answer::bytes(bytes, content_type),
                None => Answer::not_found(),
            }
        }
        [owner, name, "actions", "runs", id, "logs.zip"] => {
            let repo = RepoId::new(*owner, *name);
            let run = state
                .knows(&repo)
                .then(|| id.parse().ok())
                .flatten()
                .and_then(|id| ready(state.forge.workflow_run(&repo, id)).ok());
            let Some(run) = run else {
                return Some(Answer::not_found());
            };
            let run = state.edited_run(&repo, &run);
            Answer::bytes(logs_zip(&run), "application/zip")
        }
        _ => return None,
    })
}

/// A run's logs as GitHub packs them: one text file per step of each job.
fn logs_zip(run: &WorkflowRun) -> Vec<u8> {
    let time = format_time(run.created_at_ms / 1000 * 1000);
    let outcome = match run.status {
        WorkflowRunStatus::Completed => run.conclusion.clone().unwrap_or_default(),
        WorkflowRunStatus::Queued => "queued".into(),
        WorkflowRunStatus::InProgress => "in_progress".into(),
    };
    let failed = !matches!(outcome.as_str(), "success" | "queued" | "in_progress");
    zip::stored(&[
        (
            "build/1_Set up job.txt".to_owned(),
            format!("{time} Current runner version: 'mock'\n{time} Job is about to start running on the runner: mock-runner\n")
                .into_bytes(),
        ),
        (
            "build/2_Build and upload.txt".to_owned(),
            format!(
                "{time} Run {} on {}\n{time} {}\n",
                run.workflow,
                run.head_sha,
                if failed {
                    format!("##[error]The run ended: {outcome}")
                } else {
                    format!("Status: {outcome}")
                }
            )
            .into_bytes(),
        ),
    ])
}

/// The repository routes of this module; `None` hands the request on.
pub(in crate::mock) fn route(
    state: &mut State,
    repo: &RepoId,
    method: &Method,
    uri: &Uri,
    rest: &[&str],
) -> Option<Answer> {
    let base_url = state.base_url.clone();
    let web = Web {
        base_url: &base_url,
        repo,
    };
    let api = web.api();
    if *method == Method::POST {
        return match rest {
            ["actions", "runs", id, action @ ("cancel" | "rerun")] => {
                Some(run_action(state, repo, id, action))
            }
            _ => None,
        };
    }
    if *method != Method::GET {
        return None;
    }
    let origin = state.ci.origin(repo);
    let run_of = |state: &State, id: &str| {
        id.parse::<u64>()
            .ok()
            .and_then(|id| ready(state.forge.workflow_run(repo, id)).ok())
            .map(|run| state.edited_run(repo, &run))
    };
    Some(match rest {
        [archive @ ("tarball" | "zipball"), git_ref @ ..] if !git_ref.is_empty() => {
            let git_ref = git_ref.join("/");
            let exists = origin
                .as_deref()
                .and_then(|o| origin::resolve(o, &git_ref))
                .is_some();
            if !exists {
                return Some(Answer::not_found());
            }
            let ext = if *archive == "tarball" {
                "tar.gz"
            } else {
                "zip"
            };
            found(format!("{base_url}/{repo}/archive/{git_ref}.{ext}"))
        }
        ["actions", "runs", id, "logs"] => match run_of(state, id) {
            Some(run) => found(format!(
                "{base_url}/{repo}/actions/runs/{}/logs.zip",
                run.id
            )),
            None => Answer::not_found(),
        },
        ["actions", "runs", id, "artifacts"] => match run_of(state, id) {
            // The simulated CI uploads release assets, not workflow artifacts.
            Some(_) => Answer::cached(json!({"total_count": 0, "artifacts": []})),
            None => Answer::not_found(),
        },
        ["check-suites", id] => match run_of(state, id) {
            Some(run) => Answer::cached(check_suite_json(state, &web, &run)),
            None => Answer::not_found(),
        },
        ["check-runs", id, "annotations"] => {
            // A check run's id is its job's (see `github.rs`); a run has one job.
            let known = id
                .parse::<u64>()
                .ok()
                .filter(|id| id % 1000 == 1)
                .and_then(|id| run_of(state, &(id / 1000).to_string()));
            match known {
                Some(_) => none(format!("{api}/check-runs/{id}/annotations"), uri),
                None => Answer::not_found(),
            }
        }
        ["statuses", sha] => match commit_sha(state, repo, sha) {
            Some(_) => none(format!("{api}/statuses/{sha}"), uri),
            None => Answer::not_found(),
        },
        ["commits", git_ref @ .., "statuses"] if !git_ref.is_empty() => {
            let git_ref = git_ref.join("/");
            match commit_sha(state, repo, &git_ref) {
                Some(_) => none(format!("{api}/commits/{git_ref}/statuses"), uri),
                None => Answer::not_found(),
            }
        }
        ["commits", sha, "comments"] => match commit_sha(state, repo, sha) {
            Some(_) => none(format!("{api}/commits/{sha}/comments"), uri),
            None => Answer::not_found(),
        },
        ["commits", git_ref @ ..] if !git_ref.is_empty() => {
            let git_ref = git_ref.join("/");
            let commit = origin
                .as_deref()
                .and_then(|o| origin::commit(o, &git_ref).map(|c| (o, c)));
            match commit {
                Some((o, c)) => Answer::cached(commit_json(state, &web, o, &c)),
                None => Answer::error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &format!("No commit found for SHA: {git_ref}"),
                ),
            }
        }
        ["git", "commits", sha] => {
            let commit = origin.as_deref().and_then(|o| {
                (origin::object_type(o, sha).as_deref() == Some("commit"))
                    .then(|| origin::commit(o, sha))
                    .flatten()
            });
            match commit {
                Some(c) => Answer::cached(git_commit_json(&web, &c)),
                None => Answer::not_found(),
            }
        }
        ["git", "trees", sha] => {
            let recursive = query_param(uri.query().unwrap_or_default(), "recursive")
                .is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
            let entries = origin.as_deref().and_then(|o| {
                let tree_sha = match origin::object_type(o, sha).as_deref() {
                    Some("commit") => origin::commit(o, sha)?.tree,
                    Some("tree") => (*sha).to_owned(),
                    _ => return None,
                };
                origin::tree(o, &tree_sha, recursive).map(|e| (tree_sha, e))
            });
            match entries {
                Some((tree_sha, entries)) => Answer::cached(tree_json(&web, &tree_sha, &entries)),
                None => Answer::not_found(),
            }
        }
        ["git", "blobs", sha] => match origin.as_deref().and_then(|o| origin::blob(o, sha)) {
            Some(bytes) => {
                use base64::Engine as _;
                let content = base64::engine::general_purpose::STANDARD.encode(&bytes);
                Answer::cached(json!({
                    "sha": sha,
                    "node_id": format!("B_mock{sha}"),
                    "url": format!("{api}/git/blobs/{sha}"),
                    "size": bytes.len(),
                    "content": content,
                    "encoding": "base64",
                }))
            }
            None => Answer::not_found(),
        },
        ["issues", "comments", id, "reactions"] => {
            let exists = id
                .parse::<u64>()
                .ok()
                .and_then(|id| state.forge.comment_issue(repo, id))
                .is_some();
            if exists {
                none(format!("{api}/issues/comments/{id}/reactions"), uri)
            } else {
                Answer::not_found()
            }
        }
        ["issues", n, what @ ("reactions" | "events")] => {
            let exists = n
                .parse::<u64>()
                .ok()
                .is_some_and(|n| state.issue_of(repo, n).is_ok());
            if exists {
                none(format!("{api}/issues/{n}/{what}"), uri)
            } else {
                Answer::not_found()
            }
        }
        ["pulls", n, "comments"] => {
            let exists = n
                .parse::<u64>()
                .ok()
                .is_some_and(|n| ready(state.forge.pull_request(repo, n)).is_ok());
            // The mock's reviews carry no line comments.
            if exists {
                none(format!("{api}/pulls/{n}/comments"), uri)
            } else {
                Answer::not_found()
            }
        }
        [
            what @ ("contributors" | "deployments" | "downloads" | "events" | "forks" | "hooks"
            | "notifications" | "stargazers" | "subscribers" | "teams"),
        ] => none(format!("{api}/{what}"), uri),
        ["languages"] => Answer::cached(json!({})),
        ["subscription"] => Answer::cached(json!({
            "subscribed": true,
            "ignored": false,
            "reason": null,
            "created_at": objects::REPO_CREATED,
            "url": format!("{api}/subscription"),
            "repository_url": api,
        })),
        ["tags"] => {
            let tags = origin.as_deref().map(origin::tags).unwrap_or_default();
            let items: Vec<Value> = tags
                .iter()
                .map(|(name, sha)| {
                    json!({
                        "name": name,
                        "node_id": format!("TAG_mock{}", objects::stable_id(&format!("{repo}@{name}"))),
                        "commit": {"sha": sha, "url": format!("{api}/commits/{sha}")},
                        "zipball_url": format!("{api}/zipball/refs/tags/{name}"),
                        "tarball_url": format!("{api}/tarball/refs/tags/{name}"),
                    })
                })
                .collect();
            let (per_page, page) = paging(uri);
            let (items, link) = page_of(items, per_page, page, &format!("{api}/tags"));
            with_link(Answer::cached(Value::Array(items)), link)
        }
        _ => return None,
    })
}

/// The commit `git_ref` names: from the origin; without one, any full SHA (the mock's fake SHAs
/// of repositories without an origin).
fn commit_sha(state: &State, repo: &RepoId, git_ref: &str) -> Option<String> {
    match state.ci.origin(repo) {
        Some(o) => origin::resolve(&o, git_ref),
        None => (git_ref.len() == 40 && git_ref.chars().all(|c| c.is_ascii_hexdigit()))
            .then(|| git_ref.to_owned()),
    }
}

/// `POST .../runs/{id}/cancel` and `.../rerun`, as GitHub answers them: a completed run cannot
/// be cancelled (`409`), a running one cannot be re-run (`403`).
fn run_action(state: &mut State, repo: &RepoId, id: &str, action: &str) -> Answer {
    let Some(run) = id
        .parse::<u64>()
        .ok()
        .and_then(|id| ready(state.forge.workflow_run(repo, id)).ok())
    else {
        return Answer::not_found();
    };
    let run = state.edited_run(repo, &run);
    let completed = run.status == WorkflowRunStatus::Completed;
    let key = (repo.to_string(), run.id);
    match (action, completed) {
        ("cancel", true) => Answer::error(
            StatusCode::CONFLICT,
            "Cannot cancel a workflow run that is completed.",
        ),
        ("cancel", false) => {
            state.run_edits.entry(key).or_default().cancelled_at_ms =
                Some(orchestrator_core::state::now_ms());
            state.events.emit(MockEvent::WorkflowRun {
                repo: repo.to_string(),
                run_id: run.id,
                action: "completed".into(),
            });
            Answer::json(StatusCode::ACCEPTED, json!({}))
        }
        (_, false) => Answer::error(StatusCode::FORBIDDEN, "This workflow is already running"),
        (_, true) => {
            // The simulated CI is deterministic: the new attempt ends as the last one did, so
            // the run stays completed with its conclusion and shows the new attempt number.
            state.run_edits.entry(key).or_default().reruns += 1;
            state.events.emit(MockEvent::WorkflowRun {
                repo: repo.to_string(),
                run_id: run.id,
                action: "requested".into(),
            });
            Answer::json(StatusCode::CREATED, json!({}))
        }
    }
}

/// A run's check suite (`check-suite`): the mock's runs each have one, with the run's id.
fn check_suite_json(state: &State, web: &Web<'_>, run: &WorkflowRun) -> Value {
    let api = web.api();
    let time = format_time(run.created_at_ms / 1000 * 1000);
    let status = match run.status {
        WorkflowRunStatus::Queued => "queued",
        WorkflowRunStatus::InProgress => "in_progress",
        WorkflowRunStatus::Completed => "completed",
    };
    let app_owner = user_json(web.base_url, &state.users, "github");
    json!({
        "id": run.id,
        "node_id": format!("CS_mock{}", run.id),
        "head_branch": run.head_branch,
        "head_sha": run.head_sha,
        "status": status,
        "conclusion": run.conclusion,
        "url": format!("{api}/check-suites/{}", run.id),
        "before": null,
        "after": run.head_sha,
        "pull_requests": [],
        "app": {
            "id": 15368, "slug": "github-actions", "node_id": "MDM6QXBwMTUzNjg=",
            "client_id": "Iv1.mock", "owner": app_owner, "name": "GitHub Actions",
            "description": "Automate your workflow from idea to production",
            "external_url": "https://help.github.com/en/actions",
            "html_url": format!("{}/apps/github-actions", web.base_url),
            "created_at": "2018-07-30T09:30:17Z", "updated_at": "2019-12-10T19:04:12Z",
            "permissions": {}, "events": [],
        },
        "repository": repo_minimal(web.base_url, &state.users, web.repo),
        "created_at": time,
        "updated_at": time,
        "head_commit": {
            "id": run.head_sha, "tree_id": run.head_sha,
            "message": run.display_title, "timestamp": time,
            "author": {"name": "mock", "email": "mock@example.invalid"},
            "committer": {"name": "mock", "email": "mock@example.invalid"},
        },
        "latest_check_runs_count": 1,
        "check_runs_url": format!("{api}/commits/{}/check-runs", run.head_sha),
        "rerequestable": true,
        "runs_rerequestable": true,
    })
}

/// A commit as `GET .../commits/{ref}` answers it (`commit`), with its changed files.
fn commit_json(state: &State, web: &Web<'_>, o: &std::path::Path, c: &origin::GitCommit) -> Value {
    let api = web.api();
    let account = |email: &str| {
        super::super::users::login_for_email(&state.users, email)
            .map_or(Value::Null, |l| user_json(web.base_url, &state.users, &l))
    };
    let files: Vec<Value> = match c.parents.first() {
        Some(parent) => origin::changed_files(o, parent, &c.sha)
            .into_iter()
            .map(|f| {
                json!({
                    "sha": null, "filename": f.path, "status": f.status,
                    "additions": 0, "deletions": 0, "changes": 0,
                    "blob_url": format!("{}/{}/blob/{}/{}", web.base_url, web.repo, c.sha, f.path),
                    "raw_url": format!("{}/{}/raw/{}/{}", web.base_url, web.repo, c.sha, f.path),
                    "contents_url": format!("{api}/contents/{}?ref={}", f.path, c.sha),
                })
            })
            .collect(),
        None => Vec::new(),
    };
    json!({
        "sha": c.sha,
        "node_id": format!("C_mock{}", c.sha),
        "url": format!("{api}/commits/{}", c.sha),
        "html_url": format!("{}/{}/commit/{}", web.base_url, web.repo, c.sha),
        "comments_url": format!("{api}/commits/{}/comments", c.sha),
        "commit": {
            "author": {"name": c.author_name, "email": c.author_email, "date": c.author_date},
            "committer": {"name": c.committer_name, "email": c.committer_email, "date": c.committer_date},
            "message": c.message,
            "comment_count": 0,
            "url": format!("{api}/git/commits/{}", c.sha),
            "tree": {"sha": c.tree, "url": format!("{api}/git/trees/{}", c.tree)},
        },
        "author": account(&c.author_email),
        "committer": account(&c.committer_email),
        "parents": c.parents.iter().map(|p| json!({
            "sha": p,
            "url": format!("{api}/commits/{p}"),
            "html_url": format!("{}/{}/commit/{p}", web.base_url, web.repo),
        })).collect::<Vec<_>>(),
        "files": files,
    })
}

/// A commit as git stores it (`git-commit`); the mock signs nothing.
fn git_commit_json(web: &Web<'_>, c: &origin::GitCommit) -> Value {
    let api = web.api();
    json!({
        "sha": c.sha,
        "node_id": format!("C_mock{}", c.sha),
        "url": format!("{api}/git/commits/{}", c.sha),
        "html_url": format!("{}/{}/commit/{}", web.base_url, web.repo, c.sha),
        "author": {"name": c.author_name, "email": c.author_email, "date": c.author_date},
        "committer": {"name": c.committer_name, "email": c.committer_email, "date": c.committer_date},
        "message": c.message,
        "tree": {"sha": c.tree, "url": format!("{api}/git/trees/{}", c.tree)},
        "parents": c.parents.iter().map(|p| json!({
            "sha": p,
            "url": format!("{api}/git/commits/{p}"),
            "html_url": format!("{}/{}/commit/{p}", web.base_url, web.repo),
        })).collect::<Vec<_>>(),
        "verification": {
            "verified": false, "reason": "unsigned", "signature": null, "payload": null,
            "verified_at": null,
        },
    })
}

/// A tree (`git-tree`): entries with their git objects' URLs.
fn tree_json(web: &Web<'_>, sha: &str, entries: &[origin::TreeEntry]) -> Value {
    let api = web.api();
    let items: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut item = json!({
                "path": e.path,
                "mode": e.mode,
                "type": e.kind,
                "sha": e.sha,
            });
            match e.kind.as_str() {
                "blob" => {
                    item["size"] = json!(e.size.unwrap_or(0));
                    item["url"] = json!(format!("{api}/git/blobs/{}", e.sha));
                }
                "tree" => item["url"] = json!(format!("{api}/git/trees/{}", e.sha)),
                // A submodule's commit lives in another repository: GitHub gives no URL.
                _ => {}
            }
            item
        })
        .collect();
    json!({
        "sha": sha,
        "url": format!("{api}/git/trees/{sha}"),
        "tree": items,
        "truncated": false,
    })
}
