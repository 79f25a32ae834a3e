//! The `Forge` trait: what the orchestrator needs from GitHub (or a stand-in).
//!
//! Backends: [`InMemoryForge`] (core, with simulated CI and fault injection), `GitHubForge`
//! (`orchestrator-github`, octocrab). Every backend runs [`crate::conformance::forge`].

mod memory;
mod types;
mod url;

pub use memory::{
    CiBehaviour, CiRepo, CiSimulation, DEFAULT_BRANCH, DEFAULT_USER, Fault, FaultRule, ForgeOp,
    InMemoryForge, RepositoryDispatchRecord, RequestRecord, WorkflowSimulation, origin_tags,
};
pub use types::{
    AssetState, Comment, Comparison, Issue, NewPullRequest, NewRelease, Permission, PullCommit,
    PullRequest, Release, ReleaseAsset, ReleaseUpdate, RepoId, RequestStats, Review, ReviewState,
    WorkflowDispatch, WorkflowRun, WorkflowRunQuery, WorkflowRunStatus,
};
pub use url::redact_userinfo;

use async_trait::async_trait;

use crate::error::{Error, Result};

/// A code forge: releases and their assets, workflow runs and dispatches, pull requests, labels,
/// comments and permissions. The release methods are required; the others answer
/// [`Error::NotSupported`] until a backend implements them, so a partial backend (a read-only
/// mirror, an embedder's stub of its own forge) stays usable for the features it can serve.
#[async_trait]
pub trait Forge: Send + Sync + std::fmt::Debug {
    /// The backend's name, for messages (`github`, `in-memory`).
    fn backend(&self) -> &'static str;

    /// The release for `tag`, or `None` when there is none yet (HTTP 404). Draft releases are
    /// returned too (with `draft: true`) when the backend can see them.
    async fn release_by_tag(&self, repo: &RepoId, tag: &str) -> Result<Option<Release>>;

    /// Every release of the repository, newest first (all pages).
    async fn list_releases(&self, repo: &RepoId) -> Result<Vec<Release>>;

    /// Creates a release; `AlreadyExists` if one exists for the tag.
    async fn create_release(&self, repo: &RepoId, release: &NewRelease) -> Result<Release>;

    /// Uploads an asset to a release; `AlreadyExists` if an asset has that name.
    async fn upload_asset(
        &self,
        repo: &RepoId,
        release_id: u64,
        name: &str,
        content: &[u8],
    ) -> Result<ReleaseAsset>;

    /// The latest published (non-draft, non-prerelease) release, or `None`.
    async fn latest_release(&self, repo: &RepoId) -> Result<Option<Release>> {
        Err(not_supported(
            self.backend(),
            &format!("latest release of {repo}"),
        ))
    }

    /// Changes a release's title, notes, draft or prerelease flag.
    async fn update_release(
        &self,
        repo: &RepoId,
        release_id: u64,
        update: &ReleaseUpdate,
    ) -> Result<Release> {
        let _ = (release_id, update);
        Err(not_supported(
            self.backend(),
            &format!("updating releases of {repo}"),
        ))
    }

    /// Starts a `workflow_dispatch` run. GitHub answers with nothing to identify the run: callers
    /// correlate it (an input shown in the run's title, or event + head SHA + creation time).
    async fn dispatch_workflow(&self, repo: &RepoId, dispatch: &WorkflowDispatch) -> Result<()> {
        let _ = dispatch;
        Err(not_supported(
            self.backend(),
            &format!("workflow dispatch in {repo}"),
        ))
    }

    /// Workflow runs matching `query`, newest first (all pages).
    async fn list_workflow_runs(
        &self,
        repo: &RepoId,
        query: &WorkflowRunQuery,
    ) -> Result<Vec<WorkflowRun>> {
        let _ = query;
        Err(not_supported(
            self.backend(),
            &format!("workflow runs of {repo}"),
        ))
    }

    /// One workflow run; `NotFound` if absent.
    async fn workflow_run(&self, repo: &RepoId, run_id: u64) -> Result<WorkflowRun> {
        let _ = run_id;
        Err(not_supported(
            self.backend(),
            &format!("workflow runs of {repo}"),
        ))
    }

    /// Sends a `repository_dispatch` event with a JSON `client_payload`.
    async fn repository_dispatch(
        &self,
        repo: &RepoId,
        event_type: &str,
        client_payload: &serde_json::Value,
    ) -> Result<()> {
        let _ = (event_type, client_payload);
        Err(not_supported(
            self.backend(),
            &format!("repository dispatch to {repo}"),
        ))
    }

    /// Creates branch `name` at commit `sha` (`AlreadyExists` if it exists).
    async fn create_branch(&self, repo: &RepoId, name: &str, sha: &str) -> Result<()> {
        let _ = (name, sha);
        Err(not_supported(
            self.backend(),
            &format!("creating branches in {repo}"),
        ))
    }

    /// Opens a pull request.
    async fn create_pull_request(&self, repo: &RepoId, pr: &NewPullRequest) -> Result<PullRequest> {
        let _ = pr;
        Err(not_supported(
            self.backend(),
            &format!("pull requests in {repo}"),
        ))
    }

    /// One pull request; `NotFound` if absent.
    async fn pull_request(&self, repo: &RepoId, number: u64) -> Result<PullRequest> {
        let _ = number;
        Err(not_supported(
            self.backend(),
            &format!("pull requests in {repo}"),
        ))
    }

    /// Adds labels to an issue or pull request (existing ones are kept).
    async fn add_labels(&self, repo: &RepoId, number: u64, labels: &[String]) -> Result<()> {
        let _ = (number, labels);
        Err(not_supported(self.backend(), &format!("labels in {repo}")))
    }

    /// Removes a label; removing an absent label is not an error.
    async fn remove_label(&self, repo: &RepoId, number: u64, label: &str) -> Result<()> {
        let _ = (number, label);
        Err(not_supported(self.backend(), &format!("labels in {repo}")))
    }

    /// Comments on an issue or pull request.
    async fn create_comment(&self, repo: &RepoId, number: u64, body: &str) -> Result<Comment> {
        let _ = (number, body);
        Err(not_supported(
            self.backend(),
            &format!("comments in {repo}"),
        ))
    }

    /// Comments of an issue or pull request, oldest first (all pages).
    async fn list_comments(&self, repo: &RepoId, number: u64) -> Result<Vec<Comment>> {
        let _ = number;
        Err(not_supported(
            self.backend(),
            &format!("comments in {repo}"),
        ))
    }

    /// Opens an issue.
    async fn create_issue(&self, repo: &RepoId, title: &str, body: &str) -> Result<Issue> {
        let _ = (title, body);
        Err(not_supported(self.backend(), &format!("issues in {repo}")))
    }

    /// One issue; `NotFound` if absent. A pull request's number reads as its issue, as on GitHub.
    async fn issue(&self, repo: &RepoId, number: u64) -> Result<Issue> {
        let _ = number;
        Err(not_supported(self.backend(), &format!("issues in {repo}")))
    }

    /// Replaces an issue's body (title and everything else unchanged); `NotFound` if absent.
    async fn update_issue_body(&self, repo: &RepoId, number: u64, body: &str) -> Result<Issue> {
        let _ = (number, body);
        Err(not_supported(self.backend(), &format!("issues in {repo}")))
    }

    /// A user's permission on the repository (`None` for strangers).
    async fn permission(&self, repo: &RepoId, user: &str) -> Result<Permission> {
        let _ = user;
        Err(not_supported(
            self.backend(),
            &format!("permissions in {repo}"),
        ))
    }

    /// One comment by id, re-read from the forge (its author and edit time are facts the forge
    /// holds, unlike its text); `NotFound` if absent.
    async fn comment(&self, repo: &RepoId, comment_id: u64) -> Result<Comment> {
        let _ = comment_id;
        Err(not_supported(
            self.backend(),
            &format!("comments in {repo}"),
        ))
    }

    /// Replaces a comment's text (GitHub lets anyone with write access do this to any comment);
    /// `NotFound` if absent.
    async fn update_comment(&self, repo: &RepoId, comment_id: u64, body: &str) -> Result<Comment> {
        let _ = (comment_id, body);
        Err(not_supported(
            self.backend(),
            &format!("comments in {repo}"),
        ))
    }

    /// The reviews of a pull request, oldest first (all pages).
    async fn list_reviews(&self, repo: &RepoId, number: u64) -> Result<Vec<Review>> {
        let _ = number;
        Err(not_supported(self.backend(), &format!("reviews in {repo}")))
    }

    /// Submits a review as the token's user at the pull request's current head (`state` is
    /// `Approved`, `ChangesRequested` or `Commented`).
    async fn create_review(
        &self,
        repo: &RepoId,
        number: u64,
        state: ReviewState,
        body: &str,
    ) -> Result<Review> {
        let _ = (number, state, body);
        Err(not_supported(self.backend(), &format!("reviews in {repo}")))
    }

    /// The commits of a pull request, oldest first (all pages).
    async fn list_pull_commits(&self, repo: &RepoId, number: u64) -> Result<Vec<PullCommit>> {
        let _ = number;
        Err(not_supported(
            self.backend(),
            &format!("pull request commits in {repo}"),
        ))
    }

    /// The paths a pull request adds, changes or removes (all pages).
    async fn list_pull_files(&self, repo: &RepoId, number: u64) -> Result<Vec<String>> {
        let _ = number;
        Err(not_supported(
            self.backend(),
            &format!("pull request files in {repo}"),
        ))
    }

    /// Pull requests in `state` (`open`, `closed` or `all`), newest first (all pages).
    async fn list_pull_requests(&self, repo: &RepoId, state: &str) -> Result<Vec<PullRequest>> {
        let _ = state;
        Err(not_supported(
            self.backend(),
            &format!("pull requests in {repo}"),
        ))
    }

    /// A file's bytes at `git_ref` (a branch, tag or commit), or `None` when the file does not
    /// exist there. How policy is read from the base branch rather than from a PR's head.
    async fn file_contents(
        &self,
        repo: &RepoId,
        path: &str,
        git_ref: &str,
    ) -> Result<Option<Vec<u8>>> {
        let _ = (path, git_ref);
        Err(not_supported(
            self.backend(),
            &format!("file contents in {repo}"),
        ))
    }

    /// How `head` compares with `base` (commits or branches).
    async fn compare_commits(&self, repo: &RepoId, base: &str, head: &str) -> Result<Comparison> {
        let _ = (base, head);
        Err(not_supported(
            self.backend(),
            &format!("comparing commits in {repo}"),
        ))
    }

    /// The login the credentials act as (`GET /user`).
    async fn current_user(&self) -> Result<String> {
        Err(not_supported(self.backend(), "reading the current user"))
    }

    /// Counts of the requests this backend made (or served), for reports and benchmarks.
    fn request_stats(&self) -> RequestStats {
        RequestStats::default()
    }
}

/// A workflow's file name as runs report it: `release.yml` for `.github/workflows/release.yml`
/// too (a workflow may be configured by path).
pub fn workflow_file(workflow: &str) -> &str {
    workflow.rsplit('/').next().unwrap_or(workflow)
}

/// Helper for backends: the `NotSupported` error for a capability.
pub fn not_supported(backend: &str, what: &str) -> Error {
    Error::NotSupported {
        backend: backend.to_owned(),
        what: what.to_owned(),
    }
}
