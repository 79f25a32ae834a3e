//! GitHub's JSON shapes for the endpoints the adapter uses (releases, Actions runs and dispatches,
//! refs, pull requests and their reviews, commits and files, labels, comments, collaborator
//! permissions, file contents, comparisons), and their conversion into core types.
//!
//! Only the fields the adapter reads are declared; serde ignores the rest, so GitHub adding fields
//! never breaks us. The mock server serialises the same structs, so both sides agree on names.

use orchestrator_core::forge::{
    AssetState, Comment, Comparison, Issue, NewPullRequest, NewRelease, Permission, PullCommit,
    PullRequest, Release, ReleaseAsset, ReleaseUpdate, Review, ReviewState, WorkflowRun,
    WorkflowRunStatus,
};
use serde::{Deserialize, Serialize};

/// A release as GitHub returns it (`GET /repos/{o}/{r}/releases/tags/{tag}` and friends).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhRelease {
    pub(crate) id: u64,
    pub(crate) tag_name: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) body: Option<String>,
    #[serde(default)]
    pub(crate) draft: bool,
    #[serde(default)]
    pub(crate) prerelease: bool,
    #[serde(default)]
    pub(crate) html_url: String,
    #[serde(default)]
    pub(crate) assets: Vec<GhAsset>,
    /// `null` for drafts.
    #[serde(default, deserialize_with = "timestamps::published_at")]
    pub(crate) published_at: Option<String>,
}

/// A release asset as GitHub returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhAsset {
    pub(crate) id: u64,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) size: u64,
    /// `uploaded` once complete; `new`/`starter` (and anything else) while uploading.
    #[serde(default)]
    pub(crate) state: String,
    #[serde(default)]
    pub(crate) browser_download_url: String,
}

/// The body of `POST /repos/{o}/{r}/releases`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhNewRelease {
    pub(crate) tag_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) target_commitish: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) body: Option<String>,
    #[serde(default)]
    pub(crate) draft: bool,
    #[serde(default)]
    pub(crate) prerelease: bool,
}

/// GitHub's error body: `{"message": "...", "errors": [{"code": "already_exists", ...}]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhError {
    #[serde(default)]
    pub(crate) message: String,
    /// Objects mostly; some answers (a refused self-approval) send plain strings, read as
    /// details with only a message.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "error_details"
    )]
    pub(crate) errors: Vec<GhErrorDetail>,
}

/// [`GhError::errors`]: each entry an object or a bare string.
fn error_details<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<GhErrorDetail>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Entry {
        Detail(GhErrorDetail),
        Text(String),
    }
    let entries: Vec<Entry> = Vec::deserialize(deserializer)?;
    Ok(entries
        .into_iter()
        .map(|e| match e {
            Entry::Detail(d) => d,
            Entry::Text(message) => GhErrorDetail {
                message,
                ..GhErrorDetail::default()
            },
        })
        .collect())
}

/// One entry of [`GhError::errors`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhErrorDetail {
    #[serde(default)]
    pub(crate) resource: String,
    #[serde(default)]
    pub(crate) code: String,
    #[serde(default)]
    pub(crate) field: String,
    /// Set for `custom` codes ("A pull request already exists for o:branch.").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) message: String,
}

impl GhError {
    /// Parses an error body; a body that is not GitHub's JSON becomes the message itself.
    pub(crate) fn parse(body: &str) -> Self {
        serde_json::from_str(body).unwrap_or_else(|_| GhError {
            message: body.trim().chars().take(200).collect(),
            errors: Vec::new(),
        })
    }

    /// True when one of the details is `already_exists`.
    pub(crate) fn already_exists(&self) -> bool {
        self.errors.iter().any(|e| e.code == "already_exists")
    }

    /// True when the message or a detail says something already exists (`Reference already
    /// exists`, `A pull request already exists for ...`).
    pub(crate) fn says_already_exists(&self) -> bool {
        self.already_exists()
            || self.message.contains("already exists")
            || self
                .errors
                .iter()
                .any(|e| e.message.contains("already exists"))
    }

    /// The message with the details' messages, for errors shown to people.
    pub(crate) fn describe(&self) -> String {
        let details: Vec<&str> = self
            .errors
            .iter()
            .map(|e| e.message.as_str())
            .filter(|m| !m.is_empty())
            .collect();
        if details.is_empty() {
            self.message.clone()
        } else {
            format!("{}: {}", self.message, details.join("; "))
        }
    }
}

/// The body of `PATCH /repos/{o}/{r}/releases/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhReleaseUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) draft: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) prerelease: Option<bool>,
}

impl From<&ReleaseUpdate> for GhReleaseUpdate {
    fn from(u: &ReleaseUpdate) -> Self {
        GhReleaseUpdate {
            name: u.name.clone(),
            body: u.body.clone(),
            draft: u.draft,
            prerelease: u.prerelease,
        }
    }
}

impl From<GhReleaseUpdate> for ReleaseUpdate {
    fn from(u: GhReleaseUpdate) -> Self {
        ReleaseUpdate {
            name: u.name,
            body: u.body,
            draft: u.draft,
            prerelease: u.prerelease,
        }
    }
}

/// The body of `POST /repos/{o}/{r}/actions/workflows/{workflow}/dispatches`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhWorkflowDispatch {
    #[serde(rename = "ref")]
    pub(crate) git_ref: String,
    #[serde(default)]
    pub(crate) inputs: std::collections::BTreeMap<String, String>,
    /// Asks GitHub to answer `200` with the run's id and URLs instead of `204`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) return_run_details: Option<bool>,
}

/// GitHub's answer to a dispatch with `return_run_details` (`workflow-dispatch-response`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct GhWorkflowDispatchRun {
    pub(crate) workflow_run_id: u64,
}

/// The body of `POST /repos/{o}/{r}/dispatches`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhRepositoryDispatch {
    pub(crate) event_type: String,
    #[serde(default)]
    pub(crate) client_payload: serde_json::Value,
}

/// A workflow run as GitHub returns it (`GET /repos/{o}/{r}/actions/runs/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhWorkflowRun {
    pub(crate) id: u64,
    /// The workflow's `name:`.
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// The run's title (`run-name`, else the commit message or workflow name).
    #[serde(default)]
    pub(crate) display_title: String,
    /// `.github/workflows/release.yml` (sometimes with `@ref` appended).
    #[serde(default)]
    pub(crate) path: String,
    #[serde(default)]
    pub(crate) event: String,
    #[serde(default)]
    pub(crate) head_sha: String,
    #[serde(default)]
    pub(crate) head_branch: Option<String>,
    /// `requested`, `queued`, `waiting`, `pending`, `in_progress`, `completed`.
    #[serde(default)]
    pub(crate) status: Option<String>,
    #[serde(default)]
    pub(crate) conclusion: Option<String>,
    /// RFC 3339, e.g. `2026-01-31T23:59:59Z`.
    #[serde(default, deserialize_with = "timestamps::created_at")]
    pub(crate) created_at: String,
    #[serde(default)]
    pub(crate) html_url: String,
}

/// A page of `GET /repos/{o}/{r}/actions/runs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhWorkflowRuns {
    #[serde(default)]
    pub(crate) total_count: u64,
    #[serde(default)]
    pub(crate) workflow_runs: Vec<GhWorkflowRun>,
}

impl From<GhWorkflowRun> for WorkflowRun {
    fn from(r: GhWorkflowRun) -> Self {
        let status = match r.status.as_deref() {
            Some("in_progress") => WorkflowRunStatus::InProgress,
            Some("completed") => WorkflowRunStatus::Completed,
            // An unknown status with a conclusion is finished; without one it is still waiting.
            Some("queued" | "requested" | "waiting" | "pending") | None => {
                WorkflowRunStatus::Queued
            }
            Some(_) if r.conclusion.is_some() => WorkflowRunStatus::Completed,
            Some(_) => WorkflowRunStatus::Queued,
        };
        let file = r.path.split('@').next().unwrap_or_default();
        let workflow = file.rsplit('/').next().unwrap_or_default();
        let workflow = if workflow.is_empty() {
            r.name.clone().unwrap_or_default()
        } else {
            workflow.to_owned()
        };
        WorkflowRun {
            id: r.id,
            workflow,
            display_title: r.display_title,
            event: r.event,
            head_sha: r.head_sha,
            head_branch: r.head_branch,
            status,
            conclusion: r.conclusion,
            created_at_ms: parse_time_ms(&r.created_at).unwrap_or(0),
            html_url: r.html_url,
        }
    }
}

/// The body of `POST /repos/{o}/{r}/git/refs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhNewRef {
    #[serde(rename = "ref")]
    pub(crate) full_name: String,
    pub(crate) sha: String,
}

/// A user, as every object that names one embeds it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhUser {
    #[serde(default)]
    pub(crate) login: String,
}

/// A label as GitHub returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhLabel {
    pub(crate) name: String,
}

/// The head or base of a pull request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhBranchRef {
    #[serde(rename = "ref", default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) sha: String,
}

/// A pull request as GitHub returns it (`GET /repos/{o}/{r}/pulls/{n}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhPullRequest {
    pub(crate) number: u64,
    #[serde(default)]
    pub(crate) title: String,
    #[serde(default)]
    pub(crate) body: Option<String>,
    #[serde(default)]
    pub(crate) head: GhBranchRef,
    #[serde(default)]
    pub(crate) base: GhBranchRef,
    #[serde(default)]
    pub(crate) user: GhUser,
    #[serde(default)]
    pub(crate) labels: Vec<GhLabel>,
    #[serde(default)]
    pub(crate) draft: bool,
    #[serde(default)]
    pub(crate) state: String,
    #[serde(default)]
    pub(crate) html_url: String,
    #[serde(default)]
    pub(crate) merged: bool,
    #[serde(default)]
    pub(crate) mergeable: Option<bool>,
}

impl From<GhPullRequest> for PullRequest {
    fn from(p: GhPullRequest) -> Self {
        PullRequest {
            number: p.number,
            title: p.title,
            body: p.body.unwrap_or_default(),
            head_ref: p.head.name,
            head_sha: p.head.sha,
            base_ref: p.base.name,
            author: p.user.login,
            labels: p.labels.into_iter().map(|l| l.name).collect(),
            draft: p.draft,
            state: p.state,
            html_url: p.html_url,
            merged: p.merged,
            mergeable: p.mergeable,
            base_sha: p.base.sha,
        }
    }
}

/// The body of `POST /repos/{o}/{r}/pulls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhNewPullRequest {
    pub(crate) title: String,
    #[serde(default)]
    pub(crate) body: String,
    pub(crate) head: String,
    pub(crate) base: String,
    #[serde(default)]
    pub(crate) draft: bool,
}

impl From<&NewPullRequest> for GhNewPullRequest {
    fn from(p: &NewPullRequest) -> Self {
        GhNewPullRequest {
            title: p.title.clone(),
            body: p.body.clone(),
            head: p.head.clone(),
            base: p.base.clone(),
            draft: p.draft,
        }
    }
}

impl From<GhNewPullRequest> for NewPullRequest {
    fn from(p: GhNewPullRequest) -> Self {
        NewPullRequest {
            title: p.title,
            body: p.body,
            head: p.head,
            base: p.base,
            draft: p.draft,
        }
    }
}

/// The body of `POST /repos/{o}/{r}/issues/{n}/labels`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhLabels {
    pub(crate) labels: Vec<String>,
}

/// The body of `POST /repos/{o}/{r}/issues/{n}/comments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhCommentBody {
    pub(crate) body: String,
}

/// An issue as GitHub returns it (`GET /repos/{o}/{r}/issues/{n}`; pull requests too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhIssue {
    pub(crate) number: u64,
    #[serde(default)]
    pub(crate) title: String,
    #[serde(default)]
    pub(crate) body: Option<String>,
    #[serde(default)]
    pub(crate) state: String,
    #[serde(default)]
    pub(crate) html_url: String,
}

impl From<GhIssue> for Issue {
    fn from(i: GhIssue) -> Self {
        Issue {
            number: i.number,
            title: i.title,
            body: i.body.unwrap_or_default(),
            state: i.state,
            html_url: i.html_url,
        }
    }
}

/// The body of `POST /repos/{o}/{r}/issues`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhNewIssue {
    pub(crate) title: String,
    #[serde(default)]
    pub(crate) body: Option<String>,
}

/// An issue comment as GitHub returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhComment {
    pub(crate) id: u64,
    #[serde(default)]
    pub(crate) user: GhUser,
    #[serde(default)]
    pub(crate) body: Option<String>,
    #[serde(default, deserialize_with = "timestamps::created_at")]
    pub(crate) created_at: String,
    #[serde(default, deserialize_with = "timestamps::updated_at")]
    pub(crate) updated_at: String,
}

impl From<GhComment> for Comment {
    fn from(c: GhComment) -> Self {
        let created_at_ms = parse_time_ms(&c.created_at).unwrap_or(0);
        Comment {
            id: c.id,
            author: c.user.login,
            body: c.body.unwrap_or_default(),
            created_at_ms,
            updated_at_ms: parse_time_ms(&c.updated_at).unwrap_or(created_at_ms),
        }
    }
}

/// `GET /repos/{o}/{r}/collaborators/{user}/permission`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhPermission {
    /// The legacy level: `admin`, `write`, `read` or `none` (maintain reads as write, triage as
    /// read).
    #[serde(default)]
    pub(crate) permission: String,
    /// The precise role (`admin`, `maintain`, `write`, `triage`, `read`, or a custom role name).
    #[serde(default)]
    pub(crate) role_name: Option<String>,
}

impl GhPermission {
    /// The precise role when GitHub names a built-in one, else the legacy level.
    pub(crate) fn level(&self) -> Permission {
        let level = |name: &str| match name {
            "admin" => Some(Permission::Admin),
            "maintain" => Some(Permission::Maintain),
            "write" => Some(Permission::Write),
            "triage" => Some(Permission::Triage),
            "read" => Some(Permission::Read),
            "none" => Some(Permission::None),
            _ => None,
        };
        self.role_name
            .as_deref()
            .and_then(level)
            .or_else(|| level(&self.permission))
            .unwrap_or(Permission::None)
    }

    /// What GitHub answers for `permission`.
    #[cfg(feature = "mock-server")]
    pub(crate) fn from_level(permission: Permission) -> Self {
        let (legacy, role) = match permission {
            Permission::Admin => ("admin", "admin"),
            Permission::Maintain => ("write", "maintain"),
            Permission::Write => ("write", "write"),
            Permission::Triage => ("read", "triage"),
            Permission::Read => ("read", "read"),
            Permission::None => ("none", "none"),
        };
        GhPermission {
            permission: legacy.to_owned(),
            role_name: Some(role.to_owned()),
        }
    }
}

/// A pull-request review as GitHub returns it (`GET /repos/{o}/{r}/pulls/{n}/reviews`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhReview {
    pub(crate) id: u64,
    /// `null` when the reviewer's account was deleted.
    #[serde(default)]
    pub(crate) user: Option<GhUser>,
    #[serde(default)]
    pub(crate) body: Option<String>,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED` or `PENDING`.
    #[serde(default)]
    pub(crate) state: String,
    /// The head commit the review was given at (`null` for some very old reviews).
    #[serde(default)]
    pub(crate) commit_id: Option<String>,
    /// Absent or `null` for a pending review.
    #[serde(default, deserialize_with = "timestamps::submitted_at")]
    pub(crate) submitted_at: Option<String>,
}

/// A review state as GitHub writes it in a review.
#[cfg(feature = "mock-server")]
pub(crate) fn review_state_name(state: ReviewState) -> &'static str {
    match state {
        ReviewState::Approved => "APPROVED",
        ReviewState::ChangesRequested => "CHANGES_REQUESTED",
        ReviewState::Commented => "COMMENTED",
        ReviewState::Dismissed => "DISMISSED",
        ReviewState::Pending => "PENDING",
    }
}

impl From<GhReview> for Review {
    fn from(r: GhReview) -> Self {
        let state = match r.state.as_str() {
            "APPROVED" => ReviewState::Approved,
            "CHANGES_REQUESTED" => ReviewState::ChangesRequested,
            "DISMISSED" => ReviewState::Dismissed,
            "PENDING" => ReviewState::Pending,
            // `COMMENTED`, and any state GitHub may add: never read as an approval.
            _ => ReviewState::Commented,
        };
        Review {
            id: r.id,
            author: r.user.map(|u| u.login).unwrap_or_default(),
            state,
            commit_id: r.commit_id.unwrap_or_default(),
            submitted_at_ms: r
                .submitted_at
                .as_deref()
                .and_then(parse_time_ms)
                .unwrap_or(0),
            body: r.body.unwrap_or_default(),
        }
    }
}

/// The body of `POST /repos/{o}/{r}/pulls/{n}/reviews`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhNewReview {
    /// `APPROVE`, `REQUEST_CHANGES` or `COMMENT`; absent makes a pending review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) event: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) body: Option<String>,
    /// The commit to review; default the pull request's head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) commit_id: Option<String>,
}

impl GhNewReview {
    /// The request submitting a review in `state`; `None` for states nobody submits
    /// (`Dismissed`, `Pending`).
    pub(crate) fn submit(state: ReviewState, body: &str) -> Option<Self> {
        let event = match state {
            ReviewState::Approved => "APPROVE",
            ReviewState::ChangesRequested => "REQUEST_CHANGES",
            ReviewState::Commented => "COMMENT",
            ReviewState::Dismissed | ReviewState::Pending => return None,
        };
        Some(GhNewReview {
            event: Some(event.to_owned()),
            body: Some(body.to_owned()).filter(|b| !b.is_empty()),
            commit_id: None,
        })
    }

    /// The state a submitted review gets; `None` for an unknown event, `Pending` without one.
    #[cfg(feature = "mock-server")]
    pub(crate) fn state(&self) -> Option<ReviewState> {
        match self.event.as_deref() {
            None => Some(ReviewState::Pending),
            Some("APPROVE") => Some(ReviewState::Approved),
            Some("REQUEST_CHANGES") => Some(ReviewState::ChangesRequested),
            Some("COMMENT") => Some(ReviewState::Commented),
            Some(_) => None,
        }
    }
}

/// Name, e-mail and date of a commit's author or committer, as git recorded them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhGitActor {
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) email: String,
    #[serde(default)]
    pub(crate) date: String,
}

/// The git side of a commit (`commit` inside a [`GhPullCommit`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhGitCommit {
    #[serde(default)]
    pub(crate) author: Option<GhGitActor>,
    #[serde(default)]
    pub(crate) committer: Option<GhGitActor>,
    #[serde(default)]
    pub(crate) message: String,
}

/// One commit of `GET /repos/{o}/{r}/pulls/{n}/commits`: the git commit, and the GitHub
/// accounts its author and committer e-mails map to (`null` when they map to none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhPullCommit {
    pub(crate) sha: String,
    #[serde(default)]
    pub(crate) commit: GhGitCommit,
    #[serde(default)]
    pub(crate) author: Option<GhUser>,
    #[serde(default)]
    pub(crate) committer: Option<GhUser>,
}

impl From<GhPullCommit> for PullCommit {
    fn from(c: GhPullCommit) -> Self {
        let login = |u: Option<GhUser>| u.map(|u| u.login).filter(|l| !l.is_empty());
        PullCommit {
            sha: c.sha,
            author: login(c.author),
            committer: login(c.committer),
        }
    }
}

/// One file of `GET /repos/{o}/{r}/pulls/{n}/files`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhPullFile {
    pub(crate) filename: String,
    /// `added`, `removed`, `modified`, `renamed`, `copied`, `changed` or `unchanged`.
    #[serde(default)]
    pub(crate) status: String,
    /// The old path of a renamed file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) previous_filename: Option<String>,
}

impl GhPullFile {
    /// The paths the change touches: a rename removes its old path too.
    pub(crate) fn paths(self) -> impl Iterator<Item = String> {
        std::iter::once(self.filename).chain(self.previous_filename)
    }
}

/// A file of `GET /repos/{o}/{r}/contents/{path}` (a directory answers an array instead).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhContent {
    /// `file`, `dir`, `symlink` or `submodule`.
    #[serde(rename = "type", default)]
    pub(crate) kind: String,
    /// `base64`, or `none` for files over 1 MB (then `content` is empty).
    #[serde(default)]
    pub(crate) encoding: String,
    /// Base64, wrapped in lines of 60 characters as GitHub sends it.
    #[serde(default)]
    pub(crate) content: String,
    #[serde(default)]
    pub(crate) sha: String,
    #[serde(default)]
    pub(crate) path: String,
}

impl GhContent {
    /// The file's bytes; `InvalidInput` naming the path for a directory or an undecodable file.
    pub(crate) fn bytes(&self, what: &str) -> orchestrator_core::Result<Vec<u8>> {
        if self.kind != "file" {
            return Err(orchestrator_core::Error::invalid_input(format!(
                "{what}: a {} on GitHub, not a file",
                if self.kind.is_empty() {
                    "directory"
                } else {
                    &self.kind
                }
            )));
        }
        if self.encoding != "base64" {
            return Err(orchestrator_core::Error::invalid_input(format!(
                "{what}: GitHub does not inline it (encoding {:?}; files over 1 MB)",
                self.encoding
            )));
        }
        use base64::Engine as _;
        let compact: String = self
            .content
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|e| orchestrator_core::Error::Transient {
                message: format!("{what}: undecodable base64 content from GitHub: {e}"),
            })
    }
}

/// The commit GitHub names in a comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhCommitRef {
    #[serde(default)]
    pub(crate) sha: String,
}

/// `GET /repos/{o}/{r}/compare/{base}...{head}`, the fields read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhComparison {
    /// `ahead`, `behind`, `diverged` or `identical`.
    #[serde(default)]
    pub(crate) status: String,
    #[serde(default)]
    pub(crate) ahead_by: u64,
    #[serde(default)]
    pub(crate) behind_by: u64,
    #[serde(default)]
    pub(crate) merge_base_commit: GhCommitRef,
}

impl From<GhComparison> for Comparison {
    fn from(c: GhComparison) -> Self {
        Comparison {
            ahead_by: c.ahead_by,
            behind_by: c.behind_by,
            merge_base_sha: c.merge_base_commit.sha,
        }
    }
}

/// The body of `PATCH /repos/{o}/{r}/pulls/{n}` (the fields the mock applies).
#[cfg(feature = "mock-server")]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhPullUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) body: Option<String>,
}

/// `2026-01-31T23:59:59Z` (or with fractional seconds, or an offset) as ms since the epoch;
/// `None` when malformed (month 13 included). The calendar is `orchestrator_core::time`'s.
pub(crate) fn parse_time_ms(s: &str) -> Option<i64> {
    orchestrator_core::time::parse_timestamp_ms("time", s).ok()
}

/// ms since the epoch as GitHub writes times: `2026-01-31T23:59:59Z` (whole seconds, rounded
/// down).
pub(crate) fn format_time(ms: i64) -> String {
    orchestrator_core::time::format_utc_s(ms)
}

impl From<GhAsset> for ReleaseAsset {
    fn from(a: GhAsset) -> Self {
        ReleaseAsset {
            id: a.id,
            name: a.name,
            size: a.size,
            state: if a.state == "uploaded" {
                AssetState::Uploaded
            } else {
                AssetState::Uploading
            },
            download_url: a.browser_download_url,
        }
    }
}

impl From<GhRelease> for Release {
    fn from(r: GhRelease) -> Self {
        Release {
            id: r.id,
            tag: r.tag_name,
            name: r.name,
            body: r.body,
            draft: r.draft,
            prerelease: r.prerelease,
            html_url: r.html_url,
            assets: r.assets.into_iter().map(ReleaseAsset::from).collect(),
            published_at_ms: r.published_at.as_deref().and_then(parse_time_ms),
        }
    }
}

impl From<&NewRelease> for GhNewRelease {
    fn from(r: &NewRelease) -> Self {
        GhNewRelease {
            tag_name: r.tag.clone(),
            target_commitish: r.target.clone(),
            name: r.name.clone(),
            body: r.body.clone(),
            draft: r.draft,
            prerelease: r.prerelease,
        }
    }
}

/// Timestamps are checked as they are read: a malformed one is an error naming the field (the
/// request's error says which answer), never a silent 1970. Absent or `null` stays allowed where
/// GitHub omits the field; the text is kept, and converted where the core type needs ms.
mod timestamps {
    use serde::{Deserialize, Deserializer};

    fn checked<'de, D: Deserializer<'de>>(
        field: &str,
        deserializer: D,
    ) -> Result<Option<String>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        match &text {
            Some(t) if !t.is_empty() && super::parse_time_ms(t).is_none() => Err(
                serde::de::Error::custom(format!("`{field}` is not an RFC 3339 timestamp: {t:?}")),
            ),
            _ => Ok(text),
        }
    }

    macro_rules! field {
        ($name:ident, Option) => {
            pub(super) fn $name<'de, D: Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Option<String>, D::Error> {
                checked(stringify!($name), deserializer)
            }
        };
        ($name:ident) => {
            pub(super) fn $name<'de, D: Deserializer<'de>>(
                deserializer: D,
            ) -> Result<String, D::Error> {
                Ok(checked(stringify!($name), deserializer)?.unwrap_or_default())
            }
        };
    }

    field!(created_at);
    field!(updated_at);
    field!(published_at, Option);
    field!(submitted_at, Option);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_release_json_maps_into_core_types() {
        // Trimmed from a real `GET /repos/{o}/{r}/releases/tags/{tag}` answer, unknown fields kept.
        let json = r#"{
            "url": "https://api.github.com/repos/o/r/releases/1",
            "id": 1, "tag_name": "v1.0.0", "name": null, "body": "notes",
            "draft": false, "prerelease": true,
            "html_url": "https://github.com/o/r/releases/tag/v1.0.0",
            "author": {"login": "octocat"},
            "assets": [
                {"id": 7, "name": "a.tgz", "size": 10, "state": "uploaded",
                 "browser_download_url": "https://github.com/o/r/releases/download/v1.0.0/a.tgz",
                 "content_type": "application/gzip"},
                {"id": 8, "name": "b.tgz", "size": 3, "state": "starter",
                 "browser_download_url": "u"},
                {"id": 9, "name": "c.tgz", "size": 0, "state": "new", "browser_download_url": "u"}
            ]
        }"#;
        let release: Release = serde_json::from_str::<GhRelease>(json)
            .expect("valid")
            .into();
        assert_eq!(release.id, 1);
        assert_eq!(release.tag, "v1.0.0");
        assert_eq!(release.name, None);
        assert_eq!(release.body.as_deref(), Some("notes"));
        assert!(release.prerelease && !release.draft);
        let states: Vec<_> = release.assets.iter().map(|a| a.state).collect();
        assert_eq!(
            states,
            [
                AssetState::Uploaded,
                AssetState::Uploading,
                AssetState::Uploading
            ]
        );
        assert_eq!(
            release.assets[0].download_url,
            "https://github.com/o/r/releases/download/v1.0.0/a.tgz"
        );
    }

    #[test]
    fn error_bodies_are_parsed_leniently() {
        let e = GhError::parse(
            r#"{"message":"Validation Failed","errors":[{"resource":"Release","code":"already_exists","field":"tag_name"}]}"#,
        );
        assert!(e.already_exists());
        assert_eq!(e.message, "Validation Failed");
        let e = GhError::parse("<html>502 Bad Gateway</html>");
        assert!(!e.already_exists());
        assert_eq!(e.message, "<html>502 Bad Gateway</html>");
    }
    #[test]
    fn github_workflow_run_json_maps_into_core_types() {
        // GitHub's documented `GET /repos/{o}/{r}/actions/runs/{id}` example, trimmed of nested
        // objects; the `path` carries an `@ref` as GitHub sends for some runs.
        let json = r#"{
            "id": 30433642,
            "name": "Build",
            "node_id": "MDEyOldvcmtmbG93IFJ1bjI2OTI4OQ==",
            "check_suite_id": 42,
            "head_branch": "main",
            "head_sha": "acb5820ced9479c074f688cc328bf03f341a511d",
            "path": ".github/workflows/build.yml@main",
            "run_number": 562,
            "event": "push",
            "display_title": "Update README.md",
            "status": "queued",
            "conclusion": null,
            "workflow_id": 159038,
            "url": "https://api.github.com/repos/octo-org/octo-repo/actions/runs/30433642",
            "html_url": "https://github.com/octo-org/octo-repo/actions/runs/30433642",
            "pull_requests": [],
            "created_at": "2020-01-22T19:33:08Z",
            "updated_at": "2020-01-22T19:33:08Z",
            "actor": {"login": "octocat", "id": 1},
            "run_attempt": 1,
            "run_started_at": "2020-01-22T19:33:08Z"
        }"#;
        let run: WorkflowRun = serde_json::from_str::<GhWorkflowRun>(json)
            .expect("valid")
            .into();
        assert_eq!(
            run,
            WorkflowRun {
                id: 30433642,
                workflow: "build.yml".into(),
                display_title: "Update README.md".into(),
                event: "push".into(),
                head_sha: "acb5820ced9479c074f688cc328bf03f341a511d".into(),
                head_branch: Some("main".into()),
                status: WorkflowRunStatus::Queued,
                conclusion: None,
                created_at_ms: 1_579_721_588_000,
                html_url: "https://github.com/octo-org/octo-repo/actions/runs/30433642".into(),
            }
        );
        let list = format!(r#"{{"total_count": 1, "workflow_runs": [{json}]}}"#);
        let page: GhWorkflowRuns = serde_json::from_str(&list).expect("valid");
        assert_eq!(page.total_count, 1);
        assert_eq!(page.workflow_runs.len(), 1);
        for (status, conclusion, expected) in [
            ("in_progress", None, WorkflowRunStatus::InProgress),
            ("completed", Some("failure"), WorkflowRunStatus::Completed),
            ("waiting", None, WorkflowRunStatus::Queued),
            ("requested", None, WorkflowRunStatus::Queued),
            ("pending", None, WorkflowRunStatus::Queued),
        ] {
            let mut gh: GhWorkflowRun = serde_json::from_str(json).expect("valid");
            gh.status = Some(status.into());
            gh.conclusion = conclusion.map(str::to_owned);
            assert_eq!(WorkflowRun::from(gh).status, expected, "{status}");
        }
    }

    #[test]
    fn github_pull_request_json_maps_into_core_types() {
        // GitHub's documented `GET /repos/{o}/{r}/pulls/{n}` example, trimmed of nested repos.
        let json = r#"{
            "url": "https://api.github.com/repos/octocat/Hello-World/pulls/1347",
            "id": 1,
            "node_id": "MDExOlB1bGxSZXF1ZXN0MQ==",
            "html_url": "https://github.com/octocat/Hello-World/pull/1347",
            "number": 1347,
            "state": "open",
            "locked": true,
            "title": "Amazing new feature",
            "user": {"login": "octocat", "id": 1, "type": "User", "site_admin": false},
            "body": "Please pull these awesome changes in!",
            "labels": [
                {"id": 208045946, "node_id": "MDU6TGFiZWwyMDgwNDU5NDY=",
                 "url": "https://api.github.com/repos/octocat/Hello-World/labels/bug",
                 "name": "bug", "description": "Something isn't working",
                 "color": "f29513", "default": true}
            ],
            "created_at": "2011-01-26T19:01:12Z",
            "head": {"label": "octocat:new-topic", "ref": "new-topic",
                     "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
                     "user": {"login": "octocat"}},
            "base": {"label": "octocat:master", "ref": "master",
                     "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
                     "user": {"login": "octocat"}},
            "draft": false,
            "merged": false,
            "mergeable": true
        }"#;
        let pr: PullRequest = serde_json::from_str::<GhPullRequest>(json)
            .expect("valid")
            .into();
        assert_eq!(
            pr,
            PullRequest {
                number: 1347,
                title: "Amazing new feature".into(),
                body: "Please pull these awesome changes in!".into(),
                head_ref: "new-topic".into(),
                head_sha: "6dcb09b5b57875f334f61aebed695e2e4193db5e".into(),
                base_ref: "master".into(),
                author: "octocat".into(),
                labels: vec!["bug".into()],
                draft: false,
                state: "open".into(),
                html_url: "https://github.com/octocat/Hello-World/pull/1347".into(),
                merged: false,
                mergeable: Some(true),
                base_sha: pr.base_sha.clone(),
            }
        );
        // A pull request without a description has `"body": null`.
        let no_body = json.replace(
            r#""body": "Please pull these awesome changes in!""#,
            r#""body": null"#,
        );
        let pr: PullRequest = serde_json::from_str::<GhPullRequest>(&no_body)
            .expect("valid")
            .into();
        assert_eq!(pr.body, "");
    }

    #[test]
    fn github_comment_and_permission_json_map_into_core_types() {
        // GitHub's documented issue comment example, trimmed.
        let json = r#"{
            "id": 1,
            "node_id": "MDEyOklzc3VlQ29tbWVudDE=",
            "url": "https://api.github.com/repos/octocat/Hello-World/issues/comments/1",
            "html_url": "https://github.com/octocat/Hello-World/issues/1347#issuecomment-1",
            "body": "Me too",
            "user": {"login": "octocat", "id": 1},
            "created_at": "2011-04-14T16:00:49Z",
            "updated_at": "2011-04-14T16:00:49Z",
            "author_association": "COLLABORATOR"
        }"#;
        let comment: Comment = serde_json::from_str::<GhComment>(json)
            .expect("valid")
            .into();
        assert_eq!(
            comment,
            Comment {
                id: 1,
                author: "octocat".into(),
                body: "Me too".into(),
                created_at_ms: 1_302_796_849_000,
                updated_at_ms: 1_302_796_849_000,
            }
        );
        let level = |json: &str| {
            serde_json::from_str::<GhPermission>(json)
                .expect("valid")
                .level()
        };
        assert_eq!(
            level(r#"{"permission": "admin", "role_name": "admin", "user": {"login": "octocat"}}"#),
            Permission::Admin
        );
        // The legacy field folds maintain into write and triage into read; the role is precise.
        assert_eq!(
            level(r#"{"permission": "write", "role_name": "maintain"}"#),
            Permission::Maintain
        );
        assert_eq!(
            level(r#"{"permission": "read", "role_name": "triage"}"#),
            Permission::Triage
        );
        assert_eq!(
            level(r#"{"permission": "write", "role_name": "release-manager"}"#),
            Permission::Write,
            "a custom role falls back to the legacy level"
        );
        assert_eq!(level(r#"{"permission": "none"}"#), Permission::None);
    }

    #[test]
    fn request_bodies_have_githubs_field_names() {
        let dispatch = GhWorkflowDispatch {
            git_ref: "main".into(),
            inputs: [("correlation_id".to_owned(), "c-1".to_owned())].into(),
            return_run_details: Some(true),
        };
        assert_eq!(
            serde_json::to_string(&dispatch).expect("serialises"),
            r#"{"ref":"main","inputs":{"correlation_id":"c-1"},"return_run_details":true}"#
        );
        let dispatch = GhRepositoryDispatch {
            event_type: "build_node".into(),
            client_payload: serde_json::json!({"ref": "main", "sha": "abc", "repo": "o/r"}),
        };
        assert_eq!(
            serde_json::to_string(&dispatch).expect("serialises"),
            r#"{"event_type":"build_node","client_payload":{"ref":"main","repo":"o/r","sha":"abc"}}"#
        );
        let new_ref = GhNewRef {
            full_name: "refs/heads/plan".into(),
            sha: "6dcb09b5b57875f334f61aebed695e2e4193db5e".into(),
        };
        assert_eq!(
            serde_json::to_string(&new_ref).expect("serialises"),
            r#"{"ref":"refs/heads/plan","sha":"6dcb09b5b57875f334f61aebed695e2e4193db5e"}"#
        );
        let update = GhReleaseUpdate::from(&ReleaseUpdate {
            draft: Some(false),
            ..ReleaseUpdate::default()
        });
        assert_eq!(
            serde_json::to_string(&update).expect("serialises"),
            r#"{"draft":false}"#,
            "fields left as they are are not sent"
        );
    }

    #[test]
    fn already_exists_answers_are_recognised() {
        let pr = GhError::parse(
            r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for octocat:new-topic."}],"documentation_url":"https://docs.github.com/rest/pulls/pulls#create-a-pull-request","status":"422"}"#,
        );
        assert!(pr.says_already_exists());
        assert_eq!(
            pr.describe(),
            "Validation Failed: A pull request already exists for octocat:new-topic."
        );
        let reference = GhError::parse(
            r#"{"message":"Reference already exists","documentation_url":"https://docs.github.com/rest/git/refs#create-a-reference","status":"422"}"#,
        );
        assert!(reference.says_already_exists());
        let other = GhError::parse(r#"{"message":"Unexpected inputs provided: [\"x\"]"}"#);
        assert!(!other.says_already_exists());
    }

    #[test]
    fn times_parse_and_format_like_github() {
        assert_eq!(
            parse_time_ms("2020-01-22T19:33:08Z"),
            Some(1_579_721_588_000)
        );
        assert_eq!(
            parse_time_ms("2020-01-22T19:33:08.250Z"),
            Some(1_579_721_588_250)
        );
        assert_eq!(
            parse_time_ms("2020-01-22T21:33:08+02:00"),
            Some(1_579_721_588_000)
        );
        assert_eq!(parse_time_ms("yesterday"), None);
        assert_eq!(parse_time_ms("2020-13-22T19:33:08Z"), None, "month 13");
        // A malformed time in an answer is an error naming the field, not 1970.
        let err = serde_json::from_str::<GhComment>(
            r#"{"id": 1, "created_at": "2020-13-22T19:33:08Z", "updated_at": "2020-01-22T19:33:08Z"}"#,
        )
        .expect_err("month 13");
        assert!(err.to_string().contains("`created_at`"), "{err}");
        let err = serde_json::from_str::<GhRelease>(
            r#"{"id": 1, "tag_name": "v1", "published_at": "yesterday"}"#,
        )
        .expect_err("not a time");
        assert!(err.to_string().contains("`published_at`"), "{err}");
        let draft: GhRelease =
            serde_json::from_str(r#"{"id": 1, "tag_name": "v1", "published_at": null}"#)
                .expect("null is a draft's");
        assert_eq!(draft.published_at, None);
        assert_eq!(parse_time_ms(""), None);
        assert_eq!(format_time(1_795_608_000_999), "2026-11-25T12:00:00Z");
        assert_eq!(
            parse_time_ms(&format_time(1_579_721_588_000)),
            Some(1_579_721_588_000)
        );
    }

    #[test]
    fn github_review_json_maps_into_core_types() {
        // GitHub's documented `GET /repos/{o}/{r}/pulls/{n}/reviews` item.
        let json = r#"{
            "id": 80,
            "node_id": "MDE3OlB1bGxSZXF1ZXN0UmV2aWV3ODA=",
            "user": {"login": "octocat", "id": 1, "type": "User", "site_admin": false},
            "body": "Here is the body for the review.",
            "state": "APPROVED",
            "html_url": "https://github.com/octocat/Hello-World/pull/12#pullrequestreview-80",
            "pull_request_url": "https://api.github.com/repos/octocat/Hello-World/pulls/12",
            "_links": {"html": {"href": "x"}, "pull_request": {"href": "y"}},
            "submitted_at": "2019-11-17T17:43:43Z",
            "commit_id": "ecdd80bb57125d7ba9641ffaa4d7d2c19d3f3091",
            "author_association": "COLLABORATOR"
        }"#;
        let review: Review = serde_json::from_str::<GhReview>(json)
            .expect("valid")
            .into();
        assert_eq!(
            review,
            Review {
                id: 80,
                author: "octocat".into(),
                state: ReviewState::Approved,
                commit_id: "ecdd80bb57125d7ba9641ffaa4d7d2c19d3f3091".into(),
                submitted_at_ms: 1_574_012_623_000,
                body: "Here is the body for the review.".into(),
            }
        );
        for (name, state) in [
            ("CHANGES_REQUESTED", ReviewState::ChangesRequested),
            ("COMMENTED", ReviewState::Commented),
            ("DISMISSED", ReviewState::Dismissed),
            ("PENDING", ReviewState::Pending),
            ("SOMETHING_NEW", ReviewState::Commented),
        ] {
            let mut gh: GhReview = serde_json::from_str(json).expect("valid");
            gh.state = name.into();
            assert_eq!(Review::from(gh).state, state, "{name}");
        }
        // A deleted reviewer is `null`; a pending review has no `submitted_at`.
        let ghost =
            r#"{"id": 81, "user": null, "body": "", "state": "PENDING", "commit_id": null}"#;
        let review: Review = serde_json::from_str::<GhReview>(ghost)
            .expect("valid")
            .into();
        assert_eq!((review.author.as_str(), review.submitted_at_ms), ("", 0));
        let submit = GhNewReview::submit(ReviewState::Approved, "lgtm").expect("submittable");
        assert_eq!(
            serde_json::to_string(&submit).expect("serialises"),
            r#"{"event":"APPROVE","body":"lgtm"}"#
        );
        assert_eq!(GhNewReview::submit(ReviewState::Dismissed, ""), None);
    }

    #[test]
    fn github_pull_commit_json_maps_accounts_not_emails() {
        // GitHub's documented `GET /repos/{o}/{r}/pulls/{n}/commits` item, trimmed; the second
        // commit's e-mails match no account, so `author` and `committer` are `null`.
        let json = r#"[{
            "url": "https://api.github.com/repos/octocat/Hello-World/commits/6dcb09b5b57875f334f61aebed695e2e4193db5e",
            "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
            "node_id": "MDY6Q29tbWl0NmRjYjA5YjViNTc4NzVmMzM0ZjYxYWViZWQ2OTVlMmU0MTkzZGI1ZQ==",
            "commit": {
                "author": {"name": "Monalisa Octocat", "email": "support@github.com", "date": "2011-04-14T16:00:49Z"},
                "committer": {"name": "Monalisa Octocat", "email": "support@github.com", "date": "2011-04-14T16:00:49Z"},
                "message": "Fix all the bugs",
                "tree": {"sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e"},
                "comment_count": 0
            },
            "author": {"login": "octocat", "id": 1, "type": "User"},
            "committer": {"login": "web-flow", "id": 19864447, "type": "User"},
            "parents": [{"sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e"}]
        }, {
            "sha": "7dcb09b5b57875f334f61aebed695e2e4193db5e",
            "commit": {"author": {"name": "x", "email": "x@example.com", "date": "2011-04-14T16:00:49Z"},
                       "committer": null, "message": "m"},
            "author": null,
            "committer": null
        }]"#;
        let commits: Vec<PullCommit> = serde_json::from_str::<Vec<GhPullCommit>>(json)
            .expect("valid")
            .into_iter()
            .map(PullCommit::from)
            .collect();
        assert_eq!(
            commits,
            [
                PullCommit {
                    sha: "6dcb09b5b57875f334f61aebed695e2e4193db5e".into(),
                    author: Some("octocat".into()),
                    committer: Some("web-flow".into()),
                },
                PullCommit {
                    sha: "7dcb09b5b57875f334f61aebed695e2e4193db5e".into(),
                    author: None,
                    committer: None,
                },
            ]
        );
    }

    #[test]
    fn github_pull_files_name_both_paths_of_a_rename() {
        // GitHub's documented `GET /repos/{o}/{r}/pulls/{n}/files` item, and a rename.
        let json = r#"[{
            "sha": "bbcd538c8e72b8c175046e27cc8f907076331401",
            "filename": "file1.txt",
            "status": "added",
            "additions": 103, "deletions": 21, "changes": 124,
            "blob_url": "https://github.com/octocat/Hello-World/blob/6dcb09b/file1.txt",
            "raw_url": "https://github.com/octocat/Hello-World/raw/6dcb09b/file1.txt",
            "contents_url": "https://api.github.com/repos/octocat/Hello-World/contents/file1.txt?ref=6dcb09b",
            "patch": "@@ -132,7 +132,7 @@ module Test @@ -1000,7 +1000,7 @@ module Test"
        }, {
            "sha": "cccd538c8e72b8c175046e27cc8f907076331401",
            "filename": "config/orchestrator.toml",
            "previous_filename": "orchestrator.toml",
            "status": "renamed",
            "additions": 0, "deletions": 0, "changes": 0
        }]"#;
        let paths: Vec<String> = serde_json::from_str::<Vec<GhPullFile>>(json)
            .expect("valid")
            .into_iter()
            .flat_map(GhPullFile::paths)
            .collect();
        assert_eq!(
            paths,
            ["file1.txt", "config/orchestrator.toml", "orchestrator.toml"]
        );
    }

    #[test]
    fn github_contents_json_decodes_wrapped_base64() {
        // The shape of GitHub's documented `GET /repos/{o}/{r}/contents/{path}` file answer,
        // with base64 wrapped in lines as GitHub sends it.
        let json = r#"{
            "type": "file",
            "encoding": "base64",
            "size": 33,
            "name": "README.md",
            "path": "README.md",
            "content": "IyBZb2dhIEJvYXJkCgpXb3Jr\nIGluIHByb2dyZXNzIQo=\n",
            "sha": "3d21ec53a331a6f037a91c368710b99387d012c1",
            "url": "https://api.github.com/repos/octokit/octokit.rb/contents/README.md",
            "git_url": "https://api.github.com/repos/octokit/octokit.rb/git/blobs/3d21ec53a331a6f037a91c368710b99387d012c1",
            "html_url": "https://github.com/octokit/octokit.rb/blob/master/README.md",
            "download_url": "https://raw.githubusercontent.com/octokit/octokit.rb/master/README.md",
            "_links": {"git": "x", "self": "y", "html": "z"}
        }"#;
        let content: GhContent = serde_json::from_str(json).expect("valid");
        assert_eq!(
            content.bytes("README.md").expect("decodes"),
            b"# Yoga Board\n\nWork in progress!\n"
        );
        // A corrupt answer is an error, never empty bytes.
        let corrupt: GhContent =
            serde_json::from_str(&json.replace("IyBZ", "I$BZ")).expect("valid");
        assert!(corrupt.bytes("README.md").is_err());
        let big: GhContent = serde_json::from_str(
            r#"{"type": "file", "encoding": "none", "content": "", "path": "big.bin"}"#,
        )
        .expect("valid");
        let err = big.bytes("big.bin at main").expect_err("not inlined");
        assert!(err.to_string().contains("big.bin at main"), "{err}");
        let link: GhContent =
            serde_json::from_str(r#"{"type": "symlink", "target": "/etc/passwd"}"#).expect("valid");
        assert!(link.bytes("l").is_err());
    }

    #[test]
    fn github_comparison_json_maps_into_core_types() {
        // GitHub's documented `GET /repos/{o}/{r}/compare/{basehead}` answer, trimmed.
        let json = r#"{
            "url": "https://api.github.com/repos/octocat/Hello-World/compare/master...topic",
            "base_commit": {"sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e"},
            "merge_base_commit": {"sha": "7dcb09b5b57875f334f61aebed695e2e4193db5e",
                                   "commit": {"message": "Fix all the bugs"}},
            "status": "behind",
            "ahead_by": 1,
            "behind_by": 2,
            "total_commits": 1,
            "commits": [],
            "files": []
        }"#;
        let comparison: Comparison = serde_json::from_str::<GhComparison>(json)
            .expect("valid")
            .into();
        assert_eq!(
            comparison,
            Comparison {
                ahead_by: 1,
                behind_by: 2,
                merge_base_sha: "7dcb09b5b57875f334f61aebed695e2e4193db5e".into(),
            }
        );
    }

    #[test]
    fn error_details_may_be_plain_strings() {
        // What GitHub answers to an author approving their own pull request.
        let e = GhError::parse(
            r#"{"message":"Unprocessable Entity","errors":["Review Can not approve your own pull request"],"documentation_url":"https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request","status":"422"}"#,
        );
        assert_eq!(
            e.describe(),
            "Unprocessable Entity: Review Can not approve your own pull request"
        );
    }
}
