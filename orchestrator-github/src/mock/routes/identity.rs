//! The mock's routes where who acts matters, and the facts read from the bare origin: comments
//! by id and their edits, reviews, a pull request's commits, files and state (close, reopen,
//! merge), file contents at a ref, comparisons, `GET /user`, and the permission gate on every
//! mutation. With a users file, a request acts as its token's user; without one, as the
//! in-memory forge's token user (the mock's behaviour before identities existed).
//!
//! A repository backed by a bare origin answers from git: pull-request heads are the commits
//! really pushed (re-read on every request, so a push moves the head), commits and files come
//! from the history, contents from the tree at the ref, merges write a merge commit. Other
//! repositories answer from the [`InMemoryForge`]'s scripted facts (`set_file`,
//! `set_pull_files`, `push_to_pull_request_as`...).

use std::path::Path;

use http::{Method, StatusCode, Uri};
use orchestrator_core::Error;
use orchestrator_core::forge::prelude::*;
use orchestrator_core::forge::{
    Comment, InMemoryForge, NewPullRequest, Permission, PullRequest, RepoId, Review, ReviewState,
};
use serde_json::{Value, json};

use super::super::events::MockEvent;
use super::super::objects::{self, fill, user_full};
use super::super::origin::{self, PathAt};
use super::super::users::{login_for_email, user_json};
use super::super::{Actor, State};
use super::collab::{Web, error, invalid, paging, ready, with_link};
use super::{Answer, page_of, problems_parsing, query_param};
use crate::wire::{
    GhCommentBody, GhNewPullRequest, GhNewReview, GhPullUpdate, format_time, review_state_name,
};

/// `GET /user`: the token's user.
pub(in crate::mock) fn current_user(state: &State) -> Answer {
    match &state.actor {
        Actor::User(login) => Answer::cached(user_full(&state.base_url, &state.users, login, true)),
        Actor::Anonymous => requires_authentication(),
        Actor::Token => match ready(state.forge.current_user()) {
            Ok(login) => Answer::cached(user_full(&state.base_url, &state.users, &login, true)),
            Err(e) => error(&e),
        },
    }
}

/// The permission a mutation needs; `None` for reads (and routes this gate does not know, which
/// answer 404 anyway).
fn needed(method: &Method, rest: &[&str]) -> Option<Permission> {
    if *method == Method::GET || *method == Method::HEAD {
        return None;
    }
    Some(match rest {
        // Anyone who can read may comment and review (GitHub's rule on a public repository).
        ["issues", _, "comments"] | ["pulls", _, "reviews"] | ["issues"] => Permission::Read,
        // The comment's author or a write user (checked again by the edit itself).
        ["issues", "comments", _] => Permission::Read,
        // The author or a write user (checked in the route).
        ["pulls", _] if *method == Method::PATCH => Permission::Read,
        ["issues", _, "labels", ..] | ["issues", _] => Permission::Triage,
        _ => Permission::Write,
    })
}

/// Refuses a mutation the acting user may not make: `401` anonymous, `403` too weak.
pub(in crate::mock) fn gate(state: &State, method: &Method, rest: &[&str]) -> Option<Answer> {
    let needed = needed(method, rest)?;
    match &state.actor {
        Actor::Token => None,
        Actor::Anonymous => Some(requires_authentication()),
        Actor::User(login) => {
            let has = state.permission_of(login);
            (has < needed).then(|| {
                Answer::error(
                    StatusCode::FORBIDDEN,
                    &format!("Must have {} access to repository", level_name(needed)),
                )
            })
        }
    }
}

fn level_name(permission: Permission) -> &'static str {
    match permission {
        Permission::None | Permission::Read => "read",
        Permission::Triage => "triage",
        Permission::Write => "push",
        Permission::Maintain => "maintain",
        Permission::Admin => "admin",
    }
}

fn requires_authentication() -> Answer {
    Answer::error(StatusCode::UNAUTHORIZED, "Requires authentication")
}

/// Routes `rest` of a known repository when who acts or the origin decides the answer;
/// `None` hands the request on to the other routes.
pub(in crate::mock) fn route(
    state: &mut State,
    repo: &RepoId,
    method: &Method,
    uri: &Uri,
    rest: &[&str],
    body: &[u8],
) -> Option<Answer> {
    state.share_permissions(repo);
    let origin = state.ci.origin(repo);
    // Only routes that show a pull request look for pushes: release polling stays cheap.
    if let (Some(origin), Some(&("pulls" | "issues"))) = (&origin, rest.first()) {
        follow_pushes(state, repo, origin);
    }
    let forge = state.forge.clone();
    let base_url = state.base_url.clone();
    let ctx = Ctx {
        forge: &forge,
        web: Web {
            base_url: &base_url,
            repo,
        },
        state,
        origin: origin.as_deref(),
    };
    let number = |n: &str| n.parse::<u64>().ok();
    let query = |key: &str| query_param(uri.query().unwrap_or_default(), key);
    Some(match (method, rest) {
        (&Method::GET, ["pulls"]) => {
            let state_filter = query("state").unwrap_or_else(|| "open".to_owned());
            // `head=user:branch` (or a bare branch) and `base=branch` filter, as on GitHub.
            let head = query("head").filter(|h| !h.is_empty());
            let base = query("base").filter(|b| !b.is_empty());
            match ready(forge.list_pull_requests(repo, &state_filter)) {
                Ok(pulls) => {
                    let items = pulls
                        .iter()
                        .filter(|p| {
                            head.as_deref().is_none_or(|h| {
                                let branch = h.split_once(':').map_or(h, |(_, b)| b);
                                p.head_ref == branch
                            }) && base.as_deref().is_none_or(|b| p.base_ref == b)
                        })
                        .map(|p| ctx.pull(p))
                        .collect();
                    let (per_page, page) = paging(uri);
                    let mut url = format!("{}/pulls?state={state_filter}", ctx.web.api());
                    for (key, value) in [("head", &head), ("base", &base)] {
                        if let Some(value) = value {
                            url.push_str(&format!("&{key}={}", objects::encode_segment(value)));
                        }
                    }
                    let (items, link) = page_of(items, per_page, page, &url);
                    with_link(Answer::cached(Value::Array(items)), link)
                }
                Err(e) => error(&e),
            }
        }
        (&Method::POST, ["pulls"]) => ctx.open_pull(body),
        (&Method::GET, ["pulls", n]) => match number(n) {
            Some(n) => match ready(forge.pull_request(repo, n)) {
                Ok(pr) => Answer::cached(ctx.pull(&pr)),
                Err(e) => error(&e),
            },
            None => Answer::not_found(),
        },
        (&Method::PATCH, ["pulls", n]) => match number(n) {
            Some(n) => ctx.update_pull(n, body),
            None => Answer::not_found(),
        },
        (&Method::PUT, ["pulls", n, "merge"]) => match number(n) {
            Some(n) => ctx.merge(n, body),
            None => Answer::not_found(),
        },
        (&Method::GET, ["pulls", n, "reviews"]) => match number(n) {
            Some(n) => ctx.reviews(n, uri),
            None => Answer::not_found(),
        },
        (&Method::POST, ["pulls", n, "reviews"]) => match number(n) {
            Some(n) => ctx.review(n, body),
            None => Answer::not_found(),
        },
        (&Method::GET, ["pulls", n, "commits"]) => match number(n) {
            Some(n) => ctx.commits(n, uri),
            None => Answer::not_found(),
        },
        (&Method::GET, ["pulls", n, "files"]) => match number(n) {
            Some(n) => ctx.files(n, uri),
            None => Answer::not_found(),
        },
        (&Method::POST, ["issues", n, "comments"]) if ctx.state.actor != Actor::Token => {
            match number(n) {
                Some(n) => ctx.comment_as(n, body),
                None => Answer::not_found(),
            }
        }
        (&Method::GET, ["issues", n, "comments"]) => match number(n) {
            Some(n) => match ready(forge.list_comments(repo, n)) {
                Ok(comments) => {
                    let items = comments.iter().map(|c| ctx.comment(Some(n), c)).collect();
                    let (per_page, page) = paging(uri);
                    let url = format!("{}/issues/{n}/comments", ctx.web.api());
                    let (items, link) = page_of(items, per_page, page, &url);
                    with_link(Answer::cached(Value::Array(items)), link)
                }
                Err(e) => error(&e),
            },
            None => Answer::not_found(),
        },
        (&Method::GET, ["issues", "comments", id]) => match number(id) {
            Some(id) => match ready(forge.comment(repo, id)) {
                Ok(c) => Answer::cached(ctx.comment(forge.comment_issue(repo, id), &c)),
                Err(e) => error(&e),
            },
            None => Answer::not_found(),
        },
        (&Method::PATCH, ["issues", "comments", id]) => match number(id) {
            Some(id) => ctx.edit_comment(id, body),
            None => Answer::not_found(),
        },
        (&Method::GET, ["contents", path @ ..]) => ctx.contents(&path.join("/"), query("ref")),
        (&Method::GET, ["compare", basehead]) => ctx.compare(basehead),
        _ => return None,
    })
}

/// A push to a pull request's head branch in the origin moves the pull request's head, as on
/// GitHub: the new head's committer (mapped to a login by e-mail) is recorded as who pushed.
fn follow_pushes(state: &mut State, repo: &RepoId, origin: &Path) {
    let Ok(open) = ready(state.forge.list_pull_requests(repo, "open")) else {
        return;
    };
    for pr in open {
        let Some(head) = origin::branch_head(origin, &pr.head_ref) else {
            continue;
        };
        if head == pr.head_sha {
            continue;
        }
        let pusher = origin::commit(origin, &head)
            .and_then(|c| login_for_email(&state.users, &c.committer_email));
        let moved = match pusher {
            Some(login) => state
                .forge
                .push_to_pull_request_as(repo, pr.number, &head, &login),
            None => state.forge.push_to_pull_request(repo, pr.number, &head),
        };
        if let Err(e) = moved {
            tracing::warn!(
                "mock: cannot follow the push to #{} of {repo}: {e}",
                pr.number
            );
        }
    }
}

/// What one request's handlers share.
struct Ctx<'a> {
    forge: &'a InMemoryForge,
    web: Web<'a>,
    state: &'a State,
    origin: Option<&'a Path>,
}

impl Ctx<'_> {
    fn user(&self, login: &str) -> Value {
        user_json(self.web.base_url, &self.state.users, login)
    }

    /// Records a pull-request event (see [`MockEvent`]).
    fn announce_pull(&self, number: u64, action: &str) {
        self.state.events.emit(MockEvent::PullRequest {
            repo: self.web.repo.to_string(),
            number,
            action: action.into(),
        });
    }

    /// The acting login, for hooks that take one; `None` for the forge's token user.
    fn login(&self) -> Option<&str> {
        match &self.state.actor {
            Actor::User(login) => Some(login),
            Actor::Token | Actor::Anonymous => None,
        }
    }

    /// A pull request in GitHub's shape (`pull-request`), with full user and repository
    /// objects.
    fn pull(&self, pr: &PullRequest) -> Value {
        let mut value = self.web.pull(pr);
        let user = self.user(&pr.author);
        let default_branch = super::github::default_branch(self.state, self.web.repo);
        let repo_json = objects::repo_full(
            self.web.base_url,
            &self.state.users,
            self.web.repo,
            &default_branch,
        );
        if let Some(obj) = value.as_object_mut() {
            obj.insert("user".into(), user.clone());
            obj.insert(
                "merged_at".into(),
                if pr.merged {
                    json!(objects::REPO_CREATED)
                } else {
                    Value::Null
                },
            );
            obj.insert("locked".into(), json!(false));
            for side in ["head", "base"] {
                if let Some(end) = obj.get_mut(side).and_then(Value::as_object_mut) {
                    let name = end.get("ref").cloned().unwrap_or_default();
                    end.insert(
                        "label".into(),
                        json!(format!(
                            "{}:{}",
                            self.web.repo.owner,
                            name.as_str().unwrap_or_default()
                        )),
                    );
                    end.insert("user".into(), user.clone());
                    end.insert("repo".into(), repo_json.clone());
                }
            }
            obj.insert(
                "labels".into(),
                Value::Array(
                    pr.labels
                        .iter()
                        .map(|l| objects::label(self.web.base_url, self.web.repo, l))
                        .collect(),
                ),
            );
        }
        let api = self.web.api();
        let n = pr.number;
        let url = format!("{api}/pulls/{n}");
        let html = format!("{}/{}/pull/{n}", self.web.base_url, self.web.repo);
        let issue = format!("{api}/issues/{n}");
        let comments = ready(self.forge.list_comments(self.web.repo, n)).map_or(0, |c| c.len());
        let closed = pr.state != "open";
        fill(
            value,
            json!({
                "id": objects::stable_id(&format!("{}#pull#{n}", self.web.repo)),
                "diff_url": format!("{html}.diff"),
                "patch_url": format!("{html}.patch"),
                "issue_url": issue,
                "commits_url": format!("{url}/commits"),
                "review_comments_url": format!("{url}/comments"),
                "review_comment_url": format!("{api}/pulls/comments{{/number}}"),
                "comments_url": format!("{issue}/comments"),
                "statuses_url": format!("{api}/statuses/{}", pr.head_sha),
                "_links": {
                    "self": {"href": url},
                    "html": {"href": html},
                    "issue": {"href": issue},
                    "comments": {"href": format!("{issue}/comments")},
                    "review_comments": {"href": format!("{url}/comments")},
                    "review_comment": {"href": format!("{api}/pulls/comments{{/number}}")},
                    "commits": {"href": format!("{url}/commits")},
                    "statuses": {"href": format!("{api}/statuses/{}", pr.head_sha)},
                },
                "assignee": null,
                "assignees": [],
                "requested_reviewers": [],
                "requested_teams": [],
                "milestone": null,
                "active_lock_reason": null,
                "created_at": objects::REPO_CREATED,
                "updated_at": objects::REPO_CREATED,
                "closed_at": if closed { json!(objects::REPO_CREATED) } else { Value::Null },
                "merge_commit_sha": null,
                "author_association": self.association(&pr.author),
                "auto_merge": null,
                "merged_by": null,
                "mergeable_state": match pr.mergeable { Some(true) => "clean", Some(false) => "dirty", None => "unknown" },
                "rebaseable": pr.mergeable,
                "maintainer_can_modify": false,
                "comments": comments,
                "review_comments": 0,
                "commits": 1,
                "additions": 0,
                "deletions": 0,
                "changed_files": 0,
            }),
        )
    }

    fn comment(&self, number: Option<u64>, c: &Comment) -> Value {
        let mut value = self.web.comment(number.unwrap_or_default(), c);
        if let Some(obj) = value.as_object_mut() {
            if c.updated_at_ms > c.created_at_ms {
                // GitHub writes whole seconds; an edit within the second it was made in must
                // still show as an edit (a rehearsal edits faster than a person does).
                let created_second = c.created_at_ms - c.created_at_ms.rem_euclid(1000);
                let shown = c.updated_at_ms.max(created_second + 1000);
                obj.insert("updated_at".into(), json!(format_time(shown)));
            }
            obj.insert("user".into(), self.user(&c.author));
            obj.insert("node_id".into(), json!(format!("IC_mock{}", c.id)));
            obj.insert(
                "author_association".into(),
                json!(self.association(&c.author)),
            );
            if let Some(n) = number {
                obj.insert(
                    "issue_url".into(),
                    json!(format!("{}/issues/{n}", self.web.api())),
                );
            }
        }
        value
    }

    /// GitHub's `author_association` of `login` on this repository.
    fn association(&self, login: &str) -> &'static str {
        if login.eq_ignore_ascii_case(&self.web.repo.owner) {
            "OWNER"
        } else if self.state.permission_of(login) >= Permission::Write {
            "COLLABORATOR"
        } else {
            "NONE"
        }
    }

    fn review(&self, number: u64, body: &[u8]) -> Answer {
        let new: GhNewReview = match serde_json::from_slice(body) {
            Ok(new) => new,
            Err(e) => return problems_parsing(&e),
        };
        let Some(review_state) = new.state() else {
            return invalid("event must be one of APPROVE, REQUEST_CHANGES, COMMENT");
        };
        let pr = match ready(self.forge.pull_request(self.web.repo, number)) {
            Ok(pr) => pr,
            Err(e) => return error(&e),
        };
        if let Some(commit) = new.commit_id.as_deref()
            && commit != pr.head_sha
        {
            // GitHub can review an older commit; this mock reviews the head only.
            return invalid(
                "commit_id is not the pull request's head (this mock reviews the head)",
            );
        }
        let text = new.body.unwrap_or_default();
        let submitted = match self.login() {
            Some(login) => self
                .forge
                .review_as(self.web.repo, number, login, review_state, &text),
            None => ready(
                self.forge
                    .create_review(self.web.repo, number, review_state, &text),
            ),
        };
        match submitted {
            Ok(review) => {
                self.state.events.emit(MockEvent::Review {
                    repo: self.web.repo.to_string(),
                    number,
                    review_id: review.id,
                });
                Answer::json(StatusCode::OK, self.review_json(number, &review))
            }
            Err(Error::Conflict { .. }) => {
                // GitHub's exact refusal of an author's own approval or change request.
                let what = if review_state == ReviewState::Approved {
                    "approve"
                } else {
                    "request changes on"
                };
                Answer::json(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({
                        "message": "Unprocessable Entity",
                        "errors": [format!("Review Can not {what} your own pull request")],
                        "documentation_url": "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request",
                        "status": "422"
                    }),
                )
            }
            Err(e) => error(&e),
        }
    }

    fn reviews(&self, number: u64, uri: &Uri) -> Answer {
        let reviews = match self.login() {
            Some(login) => self.forge.reviews_seen_by(self.web.repo, number, login),
            None => ready(self.forge.list_reviews(self.web.repo, number)),
        };
        match reviews {
            Ok(reviews) => {
                let items = reviews
                    .iter()
                    .map(|r| self.review_json(number, r))
                    .collect();
                let (per_page, page) = paging(uri);
                let url = format!("{}/pulls/{number}/reviews", self.web.api());
                let (items, link) = page_of(items, per_page, page, &url);
                with_link(Answer::cached(Value::Array(items)), link)
            }
            Err(e) => error(&e),
        }
    }

    fn review_json(&self, number: u64, r: &Review) -> Value {
        let html = format!(
            "{}/{}/pull/{number}#pullrequestreview-{}",
            self.web.base_url, self.web.repo, r.id
        );
        let pull = format!("{}/pulls/{number}", self.web.api());
        let mut value = json!({
            "id": r.id,
            "node_id": format!("PRR_mock{}", r.id),
            "user": self.user(&r.author),
            "body": r.body,
            "state": review_state_name(r.state),
            "html_url": html,
            "pull_request_url": pull,
            "author_association": self.association(&r.author),
            "_links": {"html": {"href": html}, "pull_request": {"href": pull}},
            "commit_id": r.commit_id,
        });
        if r.state != ReviewState::Pending
            && let Some(obj) = value.as_object_mut()
        {
            obj.insert("submitted_at".into(), json!(format_time(r.submitted_at_ms)));
        }
        value
    }

    fn open_pull(&self, body: &[u8]) -> Answer {
        let new: GhNewPullRequest = match serde_json::from_slice(body) {
            Ok(p) => p,
            Err(e) => return problems_parsing(&e),
        };
        let new: NewPullRequest = new.into();
        if let Some(origin) = self.origin {
            // The heads the pull request starts from are the commits really pushed.
            for (field, branch) in [("head", &new.head), ("base", &new.base)] {
                match origin::branch_head(origin, branch) {
                    Some(sha) => self.forge.set_branch_head(self.web.repo, branch, &sha),
                    None => {
                        return Answer::json(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            json!({
                                "message": "Validation Failed",
                                "errors": [{"resource": "PullRequest", "field": field, "code": "invalid"}],
                                "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
                                "status": "422"
                            }),
                        );
                    }
                }
            }
        }
        let opened = match self.login() {
            Some(login) => self
                .forge
                .create_pull_request_as(self.web.repo, &new, login),
            None => ready(self.forge.create_pull_request(self.web.repo, &new)),
        };
        match opened {
            Ok(pr) => {
                self.announce_pull(pr.number, "opened");
                Answer::json(StatusCode::CREATED, self.pull(&pr))
            }
            Err(Error::AlreadyExists { .. }) => Answer::json(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({
                    "message": "Validation Failed",
                    "errors": [{"resource": "PullRequest", "code": "custom",
                                "message": format!("A pull request already exists for {}:{}.", self.web.repo.owner, new.head)}],
                    "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
                    "status": "422"
                }),
            ),
            Err(e) => error(&e),
        }
    }

    fn update_pull(&self, number: u64, body: &[u8]) -> Answer {
        let update: GhPullUpdate = match serde_json::from_slice(body) {
            Ok(u) => u,
            Err(e) => return problems_parsing(&e),
        };
        let pr = match ready(self.forge.pull_request(self.web.repo, number)) {
            Ok(pr) => pr,
            Err(e) => return error(&e),
        };
        if let Some(login) = self.login()
            && !pr.author.eq_ignore_ascii_case(login)
            && self.state.permission_of(login) < Permission::Write
        {
            return Answer::error(StatusCode::FORBIDDEN, "Must have push access to repository");
        }
        let changed = match update.state.as_deref() {
            None => Ok(()),
            Some("closed") if pr.state == "open" => {
                self.forge.close_pull_request(self.web.repo, number, false)
            }
            Some("open") if pr.merged => {
                return invalid("state cannot be changed. The pull request has been merged.");
            }
            Some("open") if pr.state == "closed" => {
                self.forge.reopen_pull_request(self.web.repo, number)
            }
            Some("open" | "closed") => Ok(()),
            Some(other) => return invalid(&format!("state {other:?} is not open or closed")),
        };
        let changed = changed
            .and_then(|()| match &update.title {
                Some(title) => self.forge.set_pull_title(self.web.repo, number, title),
                None => Ok(()),
            })
            .and_then(|()| match &update.body {
                Some(text) => {
                    ready(self.forge.update_issue_body(self.web.repo, number, text)).map(|_| ())
                }
                None => Ok(()),
            });
        if let Err(e) = changed {
            return error(&e);
        }
        match ready(self.forge.pull_request(self.web.repo, number)) {
            Ok(after) => {
                let action = match (pr.state.as_str(), after.state.as_str()) {
                    ("open", "closed") => "closed",
                    ("closed", "open") => "reopened",
                    _ => "edited",
                };
                self.announce_pull(number, action);
                Answer::json(StatusCode::OK, self.pull(&after))
            }
            Err(e) => error(&e),
        }
    }

    fn merge(&self, number: u64, body: &[u8]) -> Answer {
        #[derive(serde::Deserialize, Default)]
        struct Merge {
            #[serde(default)]
            sha: Option<String>,
            #[serde(default)]
            commit_title: Option<String>,
        }
        let request: Merge = if body.is_empty() {
            Merge::default()
        } else {
            match serde_json::from_slice(body) {
                Ok(m) => m,
                Err(e) => return problems_parsing(&e),
            }
        };
        let pr = match ready(self.forge.pull_request(self.web.repo, number)) {
            Ok(pr) => pr,
            Err(e) => return error(&e),
        };
        if pr.state != "open" || pr.mergeable == Some(false) {
            return Answer::error(
                StatusCode::METHOD_NOT_ALLOWED,
                "Pull Request is not mergeable",
            );
        }
        if request.sha.as_deref().is_some_and(|sha| sha != pr.head_sha) {
            return Answer::error(
                StatusCode::CONFLICT,
                "Head branch was modified. Review and try the merge again.",
            );
        }
        let title = request.commit_title.unwrap_or_else(|| {
            format!(
                "Merge pull request #{number} from {}/{}",
                self.web.repo.owner, pr.head_ref
            )
        });
        let merger = self.login().map_or_else(
            || ready(self.forge.current_user()).unwrap_or_default(),
            str::to_owned,
        );
        let sha = match self.origin {
            Some(origin) => {
                let email = format!("{merger}@users.noreply.github.com");
                match origin::merge(
                    origin,
                    &pr.base_ref,
                    &pr.head_sha,
                    &title,
                    (&merger, &email),
                ) {
                    Ok(sha) => {
                        self.forge
                            .set_branch_head(self.web.repo, &pr.base_ref, &sha);
                        sha
                    }
                    Err(origin::MergeError::Conflict) => {
                        return Answer::error(
                            StatusCode::METHOD_NOT_ALLOWED,
                            "Pull Request is not mergeable",
                        );
                    }
                    Err(origin::MergeError::Failed) => {
                        return Answer::error(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "Base branch could not be updated",
                        );
                    }
                }
            }
            // Without an origin the base takes the head's commit (a fast-forward).
            None => {
                self.forge
                    .set_branch_head(self.web.repo, &pr.base_ref, &pr.head_sha);
                pr.head_sha.clone()
            }
        };
        if let Err(e) = self.forge.close_pull_request(self.web.repo, number, true) {
            return error(&e);
        }
        self.announce_pull(number, "closed");
        Answer::json(
            StatusCode::OK,
            json!({"sha": sha, "merged": true, "message": "Pull Request successfully merged"}),
        )
    }

    fn comment_as(&self, number: u64, body: &[u8]) -> Answer {
        let comment: GhCommentBody = match serde_json::from_slice(body) {
            Ok(c) => c,
            Err(e) => return problems_parsing(&e),
        };
        if comment.body.is_empty() {
            return invalid("body is required");
        }
        let Some(login) = self.login() else {
            return requires_authentication();
        };
        match self
            .forge
            .comment_as(self.web.repo, number, login, &comment.body)
        {
            Ok(c) => {
                self.state.events.emit(MockEvent::IssueComment {
                    repo: self.web.repo.to_string(),
                    number,
                    comment_id: c.id,
                    action: "created".into(),
                });
                Answer::json(StatusCode::CREATED, self.comment(Some(number), &c))
            }
            Err(e) => error(&e),
        }
    }

    fn edit_comment(&self, id: u64, body: &[u8]) -> Answer {
        let edit: GhCommentBody = match serde_json::from_slice(body) {
            Ok(c) => c,
            Err(e) => return problems_parsing(&e),
        };
        if edit.body.is_empty() {
            return invalid("body is required");
        }
        let edited = match self.login() {
            Some(login) => self
                .forge
                .edit_comment_as(self.web.repo, id, login, &edit.body),
            None => ready(self.forge.update_comment(self.web.repo, id, &edit.body)),
        };
        match edited {
            Ok(c) => {
                let number = self.forge.comment_issue(self.web.repo, id);
                self.state.events.emit(MockEvent::IssueComment {
                    repo: self.web.repo.to_string(),
                    number: number.unwrap_or_default(),
                    comment_id: c.id,
                    action: "edited".into(),
                });
                Answer::json(StatusCode::OK, self.comment(number, &c))
            }
            Err(Error::PermissionDenied { .. }) => Answer::error(
                StatusCode::FORBIDDEN,
                "Must have push access to edit another user's comment",
            ),
            Err(e) => error(&e),
        }
    }

    fn commits(&self, number: u64, uri: &Uri) -> Answer {
        let pr = match ready(self.forge.pull_request(self.web.repo, number)) {
            Ok(pr) => pr,
            Err(e) => return error(&e),
        };
        let items: Vec<Value> = match self.origin {
            Some(origin) => {
                let base = pull_base(origin, &pr);
                origin::commits(origin, &base, &pr.head_sha)
                    .iter()
                    .map(|c| self.git_commit_json(c))
                    .collect()
            }
            None => match ready(self.forge.list_pull_commits(self.web.repo, number)) {
                Ok(commits) => commits
                    .iter()
                    .map(|c| {
                        let account = |login: &Option<String>| {
                            login.as_deref().map_or(Value::Null, |l| self.user(l))
                        };
                        json!({
                            "sha": c.sha,
                            "node_id": format!("C_mock{}", c.sha),
                            "url": format!("{}/commits/{}", self.web.api(), c.sha),
                            "html_url": format!("{}/{}/commit/{}", self.web.base_url, self.web.repo, c.sha),
                            "comments_url": format!("{}/commits/{}/comments", self.web.api(), c.sha),
                            "commit": {"message": "", "author": null, "committer": null,
                                       "comment_count": 0, "url": format!("{}/git/commits/{}", self.web.api(), c.sha),
                                       "tree": {"sha": "", "url": ""}},
                            "author": account(&c.author),
                            "committer": account(&c.committer),
                            "parents": [],
                        })
                    })
                    .collect(),
                Err(e) => return error(&e),
            },
        };
        let (per_page, page) = paging(uri);
        let url = format!("{}/pulls/{number}/commits", self.web.api());
        let (items, link) = page_of(items, per_page, page, &url);
        with_link(Answer::cached(Value::Array(items)), link)
    }

    /// Commit `sha` as GitHub embeds it (`commit`): from the origin when there is one.
    fn commit_json(&self, sha: &str) -> Value {
        if let Some(commit) = self.origin.and_then(|o| origin::commit(o, sha)) {
            return self.git_commit_json(&commit);
        }
        let api = self.web.api();
        let nobody = json!({"name": "unknown", "email": "unknown@example.invalid", "date": objects::REPO_CREATED});
        json!({
            "sha": sha,
            "node_id": format!("C_mock{sha}"),
            "url": format!("{api}/commits/{sha}"),
            "html_url": format!("{}/{}/commit/{sha}", self.web.base_url, self.web.repo),
            "comments_url": format!("{api}/commits/{sha}/comments"),
            "commit": {"message": "", "author": nobody, "committer": nobody, "comment_count": 0,
                       "url": format!("{api}/git/commits/{sha}"),
                       "tree": {"sha": sha, "url": format!("{api}/git/trees/{sha}")}},
            "author": null,
            "committer": null,
            "parents": [],
        })
    }

    fn git_commit_json(&self, c: &origin::GitCommit) -> Value {
        let api = self.web.api();
        let account = |email: &str| {
            login_for_email(&self.state.users, email).map_or(Value::Null, |l| self.user(&l))
        };
        json!({
            "sha": c.sha,
            "node_id": format!("C_mock{}", c.sha),
            "url": format!("{api}/commits/{}", c.sha),
            "html_url": format!("{}/{}/commit/{}", self.web.base_url, self.web.repo, c.sha),
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
            "parents": c.parents.iter().map(|p| json!({"sha": p, "url": format!("{api}/commits/{p}")})).collect::<Vec<_>>(),
        })
    }

    fn files(&self, number: u64, uri: &Uri) -> Answer {
        let pr = match ready(self.forge.pull_request(self.web.repo, number)) {
            Ok(pr) => pr,
            Err(e) => return error(&e),
        };
        let files: Vec<(String, &str, Option<String>)> = match self.origin {
            Some(origin) => {
                let base = pull_base(origin, &pr);
                origin::changed_files(origin, &base, &pr.head_sha)
                    .into_iter()
                    .map(|f| (f.path, f.status, f.previous))
                    .collect()
            }
            None => match ready(self.forge.list_pull_files(self.web.repo, number)) {
                Ok(paths) => paths.into_iter().map(|p| (p, "modified", None)).collect(),
                Err(e) => return error(&e),
            },
        };
        let items = files
            .into_iter()
            .map(|(path, status, previous)| {
                let mut file = json!({
                    "sha": pr.head_sha,
                    "filename": path,
                    "status": status,
                    "additions": 0, "deletions": 0, "changes": 0,
                    "blob_url": format!("{}/{}/blob/{}/{path}", self.web.base_url, self.web.repo, pr.head_sha),
                    "raw_url": format!("{}/{}/raw/{}/{path}", self.web.base_url, self.web.repo, pr.head_sha),
                    "contents_url": format!("{}/contents/{path}?ref={}", self.web.api(), pr.head_sha),
                });
                if let (Some(previous), Some(obj)) = (previous, file.as_object_mut()) {
                    obj.insert("previous_filename".into(), json!(previous));
                }
                file
            })
            .collect();
        let (per_page, page) = paging(uri);
        let url = format!("{}/pulls/{number}/files", self.web.api());
        let (items, link) = page_of(items, per_page, page, &url);
        with_link(Answer::cached(Value::Array(items)), link)
    }

    fn contents(&self, path: &str, git_ref: Option<String>) -> Answer {
        let no_commit = |r: &str| {
            Answer::error(
                StatusCode::NOT_FOUND,
                &format!("No commit found for the ref {r}"),
            )
        };
        let api = self.web.api();
        match self.origin {
            Some(origin) => {
                let git_ref = git_ref
                    .filter(|r| !r.is_empty())
                    .unwrap_or_else(|| origin::default_branch(origin));
                let Some(sha) = origin::resolve(origin, &git_ref) else {
                    return no_commit(&git_ref);
                };
                match origin::read_path(origin, &sha, path) {
                    PathAt::File(bytes, blob) => {
                        Answer::cached(self.file_json(path, &git_ref, &bytes, &blob))
                    }
                    PathAt::Dir(entries) => Answer::cached(Value::Array(
                        entries
                            .into_iter()
                            .map(|(name, kind, object)| {
                                let full = if path.is_empty() {
                                    name.clone()
                                } else {
                                    format!("{}/{name}", path.trim_matches('/'))
                                };
                                json!({"type": kind, "name": name, "path": full, "sha": object,
                                       "size": 0, "url": format!("{api}/contents/{full}?ref={git_ref}")})
                            })
                            .collect(),
                    )),
                    PathAt::Missing => Answer::not_found(),
                }
            }
            None => {
                let git_ref =
                    git_ref.unwrap_or_else(|| orchestrator_core::forge::DEFAULT_BRANCH.to_owned());
                match ready(self.forge.file_contents(self.web.repo, path, &git_ref)) {
                    Ok(Some(bytes)) => Answer::cached(self.file_json(path, &git_ref, &bytes, "")),
                    Ok(None) => Answer::not_found(),
                    // The in-memory forge's only `NotFound` here is an unknown ref.
                    Err(orchestrator_core::Error::NotFound { .. }) => no_commit(&git_ref),
                    Err(e) => error(&e),
                }
            }
        }
    }

    fn file_json(&self, path: &str, git_ref: &str, bytes: &[u8], blob: &str) -> Value {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
        // GitHub wraps the base64 in lines of 60 characters.
        let wrapped: Vec<&str> = encoded
            .as_bytes()
            .chunks(60)
            .filter_map(|c| std::str::from_utf8(c).ok())
            .collect();
        let name = path.rsplit('/').next().unwrap_or(path);
        let url = format!("{}/contents/{path}?ref={git_ref}", self.web.api());
        let html = format!(
            "{}/{}/blob/{git_ref}/{path}",
            self.web.base_url, self.web.repo
        );
        let git = format!("{}/git/blobs/{blob}", self.web.api());
        json!({
            "type": "file",
            "encoding": "base64",
            "size": bytes.len(),
            "name": name,
            "path": path,
            "content": wrapped.join("\n") + "\n",
            "sha": blob,
            "url": url,
            "git_url": git,
            "html_url": html,
            "download_url": format!("{}/{}/raw/{git_ref}/{path}", self.web.base_url, self.web.repo),
            "_links": {"self": url, "git": git, "html": html},
        })
    }

    fn compare(&self, basehead: &str) -> Answer {
        let Some((base, head)) = basehead.split_once("...") else {
            return Answer::not_found();
        };
        let (ahead, behind, merge_base, base_sha) = match self.origin {
            Some(origin) => {
                let (Some(base_sha), Some(head_sha)) =
                    (origin::resolve(origin, base), origin::resolve(origin, head))
                else {
                    return Answer::not_found();
                };
                let Some((ahead, behind)) = origin::ahead_behind(origin, &base_sha, &head_sha)
                else {
                    return Answer::not_found();
                };
                let merge_base =
                    origin::merge_base(origin, &base_sha, &head_sha).unwrap_or_default();
                (ahead, behind, merge_base, base_sha)
            }
            None => match ready(self.forge.compare_commits(self.web.repo, base, head)) {
                Ok(c) => (c.ahead_by, c.behind_by, c.merge_base_sha, base.to_owned()),
                Err(e) => return error(&e),
            },
        };
        let status = match (ahead, behind) {
            (0, 0) => "identical",
            (_, 0) => "ahead",
            (0, _) => "behind",
            _ => "diverged",
        };
        let api = self.web.api();
        let web = format!("{}/{}", self.web.base_url, self.web.repo);
        Answer::cached(json!({
            "url": format!("{api}/compare/{basehead}"),
            "html_url": format!("{web}/compare/{basehead}"),
            "permalink_url": format!("{web}/compare/{basehead}"),
            "diff_url": format!("{web}/compare/{basehead}.diff"),
            "patch_url": format!("{web}/compare/{basehead}.patch"),
            "base_commit": self.commit_json(&base_sha),
            "merge_base_commit": self.commit_json(&merge_base),
            "status": status,
            "ahead_by": ahead,
            "behind_by": behind,
            "total_commits": ahead,
            "commits": [],
            "files": [],
        }))
    }
}

/// Where a pull request's commits start: the base branch now while it is open, the base it was
/// opened on once closed (a merged pull request still lists its commits).
fn pull_base(origin: &Path, pr: &PullRequest) -> String {
    let now = origin::branch_head(origin, &pr.base_ref);
    match now {
        Some(sha) if pr.state == "open" => sha,
        _ if !pr.base_sha.is_empty() => pr.base_sha.clone(),
        Some(sha) => sha,
        None => pr.head_sha.clone(),
    }
}
