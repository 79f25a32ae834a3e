//! Data types shared by every forge backend.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A repository on the forge, `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RepoId {
    /// The owner (user or organisation).
    pub owner: String,
    /// The repository name.
    pub name: String,
}

impl RepoId {
    /// A repository id from its parts.
    pub fn new(owner: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            owner: owner.into(),
            name: name.into(),
        }
    }
}

impl FromStr for RepoId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let valid = |part: &str| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        match s.split_once('/') {
            Some((owner, name)) if valid(owner) && valid(name) => Ok(Self::new(owner, name)),
            _ => Err(Error::invalid_input(format!(
                "invalid repository {s:?}: expected owner/name"
            ))),
        }
    }
}

impl fmt::Display for RepoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// Upload state of a release asset, as GitHub reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AssetState {
    /// Fully uploaded.
    Uploaded,
    /// Created but still uploading (GitHub's `starter`/`new`).
    Uploading,
}

/// One asset of a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseAsset {
    /// The forge's id.
    pub id: u64,
    /// The file name.
    pub name: String,
    /// Size in bytes so far.
    pub size: u64,
    /// Upload state.
    pub state: AssetState,
    /// Where to download it.
    pub download_url: String,
}

/// A release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// The forge's id.
    pub id: u64,
    /// The tag it belongs to.
    pub tag: String,
    /// Its title.
    pub name: Option<String>,
    /// Release notes.
    pub body: Option<String>,
    /// Still a draft (not published).
    pub draft: bool,
    /// Marked as a prerelease.
    pub prerelease: bool,
    /// The web page.
    pub html_url: String,
    /// Its assets.
    pub assets: Vec<ReleaseAsset>,
    /// When it was published, ms since the Unix epoch (`None` for drafts, or when unknown).
    #[serde(default)]
    pub published_at_ms: Option<i64>,
}

impl Release {
    /// Applies the fields `update` sets, as a forge does: publishing a draft dates it, and
    /// turning a release back into a draft undates it.
    pub fn apply_update(&mut self, update: &ReleaseUpdate) {
        if let Some(name) = &update.name {
            self.name = Some(name.clone());
        }
        if let Some(body) = &update.body {
            self.body = Some(body.clone());
        }
        if let Some(draft) = update.draft {
            if self.draft && !draft {
                self.published_at_ms = Some(crate::state::now_ms());
            } else if draft {
                self.published_at_ms = None;
            }
            self.draft = draft;
        }
        if let Some(prerelease) = update.prerelease {
            self.prerelease = prerelease;
        }
    }
}

/// What [`super::ReleaseWriteForge::create_release`] needs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NewRelease {
    /// The tag (created on the forge at `target` if absent).
    pub tag: String,
    /// The commit-ish to tag when the tag does not exist.
    pub target: Option<String>,
    /// Title.
    pub name: Option<String>,
    /// Release notes.
    pub body: Option<String>,
    /// Create as a draft.
    pub draft: bool,
    /// Mark as prerelease.
    pub prerelease: bool,
}

/// Request counts of a forge backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RequestStats {
    /// Every request sent (or served).
    pub requests: u64,
    /// Requests that counted against the rate limit (everything but `304 Not Modified`).
    pub rate_limited: u64,
    /// `304 Not Modified` answers to conditional requests.
    pub not_modified: u64,
    /// Requests retried after a transient error or a rate limit.
    pub retries: u64,
}

/// Changes to an existing release ([`super::ReleaseWriteForge::update_release`]); `None` leaves a
/// field as is.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReleaseUpdate {
    /// New title.
    pub name: Option<String>,
    /// New release notes.
    pub body: Option<String>,
    /// Publish (`false`) or turn back into a draft (`true`).
    pub draft: Option<bool>,
    /// Mark or unmark as prerelease.
    pub prerelease: Option<bool>,
}

/// A `workflow_dispatch` request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WorkflowDispatch {
    /// The workflow file name (`release.yml`) or id.
    pub workflow: String,
    /// The branch or tag the run uses.
    pub git_ref: String,
    /// Inputs, as strings (GitHub's form).
    pub inputs: std::collections::BTreeMap<String, String>,
}

/// Where a workflow run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowRunStatus {
    /// Waiting for a runner (also GitHub's `requested`, `waiting`, `pending`).
    Queued,
    /// Running.
    InProgress,
    /// Finished; see the conclusion.
    Completed,
}

/// A workflow run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowRun {
    /// The forge's id.
    pub id: u64,
    /// The workflow file name (`release.yml`).
    pub workflow: String,
    /// The run's title (GitHub's `display_title`, which a workflow's `run-name` can fill with its
    /// inputs: how a dispatched run is correlated).
    pub display_title: String,
    /// What triggered it (`workflow_dispatch`, `push`, `repository_dispatch`...).
    pub event: String,
    /// The commit it ran on.
    pub head_sha: String,
    /// The branch it ran on.
    pub head_branch: Option<String>,
    /// Where it stands.
    pub status: WorkflowRunStatus,
    /// `success`, `failure`, `cancelled`... once completed.
    pub conclusion: Option<String>,
    /// Creation time, ms since the Unix epoch.
    pub created_at_ms: i64,
    /// The web page.
    pub html_url: String,
}

/// Which workflow runs to list ([`super::WorkflowForge::list_workflow_runs`]); empty fields match
/// all.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WorkflowRunQuery {
    /// Only this workflow file.
    pub workflow: Option<String>,
    /// Only runs triggered by this event.
    pub event: Option<String>,
    /// Only runs on this commit.
    pub head_sha: Option<String>,
    /// Only runs created at or after this time (ms since the epoch).
    pub created_after_ms: Option<i64>,
}

/// A pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    /// Its number.
    pub number: u64,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// The head branch.
    pub head_ref: String,
    /// The head commit (a new push changes it).
    pub head_sha: String,
    /// The base branch.
    pub base_ref: String,
    /// Who opened it.
    pub author: String,
    /// Its labels.
    pub labels: Vec<String>,
    /// A draft.
    pub draft: bool,
    /// `open` or `closed`.
    pub state: String,
    /// The web page.
    pub html_url: String,
    /// Merged into its base (then `state` is `closed`).
    #[serde(default)]
    pub merged: bool,
    /// Whether GitHub can merge it cleanly; `None` while GitHub is still computing it.
    #[serde(default)]
    pub mergeable: Option<bool>,
    /// The base branch's commit the pull request was last compared with.
    #[serde(default)]
    pub base_sha: String,
}

/// An issue (a tracking issue whose body a monitor keeps up to date, say).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// Its number.
    pub number: u64,
    /// Title.
    pub title: String,
    /// Body (Markdown; empty when it has none).
    pub body: String,
    /// `open` or `closed`.
    pub state: String,
    /// The web page.
    pub html_url: String,
}

/// What [`super::PullRequestForge::create_pull_request`] needs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NewPullRequest {
    /// Title.
    pub title: String,
    /// Body (Markdown).
    pub body: String,
    /// The branch with the changes.
    pub head: String,
    /// The branch to merge into.
    pub base: String,
    /// Open as a draft.
    pub draft: bool,
}

/// An issue or pull-request comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    /// The forge's id.
    pub id: u64,
    /// Who wrote it.
    pub author: String,
    /// Its text.
    pub body: String,
    /// Creation time, ms since the Unix epoch.
    pub created_at_ms: i64,
    /// Last edit time, ms since the Unix epoch (equal to `created_at_ms` for an unedited
    /// comment: anyone with write access can edit any comment, so an edited one proves nothing).
    #[serde(default)]
    pub updated_at_ms: i64,
}

/// The state of a pull-request review, as GitHub reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReviewState {
    /// Approved (at [`Review::commit_id`]).
    Approved,
    /// Changes requested.
    ChangesRequested,
    /// A comment-only review.
    Commented,
    /// An approval or change request later dismissed.
    Dismissed,
    /// Started, not submitted.
    Pending,
}

/// A pull-request review: who, what verdict, and the exact commit it was given for. Its author,
/// state and commit cannot be edited after submission, which is why an approval is proven by a
/// review rather than by comment text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// The forge's id.
    pub id: u64,
    /// The reviewer.
    pub author: String,
    /// The verdict.
    pub state: ReviewState,
    /// The head commit the review was submitted at.
    pub commit_id: String,
    /// Submission time, ms since the Unix epoch (0 for a pending review).
    pub submitted_at_ms: i64,
    /// The review's text (may be empty).
    pub body: String,
}

/// One commit of a pull request, with the forge accounts its author and committer map to
/// (`None` when the e-mail matches no account).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullCommit {
    /// The commit.
    pub sha: String,
    /// The forge login of its author.
    pub author: Option<String>,
    /// The forge login of its committer (usually who pushed it).
    pub committer: Option<String>,
}

/// How `head` compares with `base` (GitHub's compare API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    /// Commits on `head` not on `base`.
    pub ahead_by: u64,
    /// Commits on `base` not on `head` (the base moved on).
    pub behind_by: u64,
    /// Their merge base.
    pub merge_base_sha: String,
}

/// A user's permission on a repository, weakest first (GitHub's collaborator permission levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// No access.
    None,
    /// Read.
    Read,
    /// Triage.
    Triage,
    /// Write (push).
    Write,
    /// Maintain.
    Maintain,
    /// Admin.
    Admin,
}
