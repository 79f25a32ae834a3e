//! The forge's capability traits, and [`Forge`], the full forge that has them all. Why they are
//! split, and which feature needs which, is in the [parent module](super)'s docs.

use async_trait::async_trait;

use super::types::{
    Comment, Comparison, Issue, NewPullRequest, NewRelease, Permission, PullCommit, PullRequest,
    Release, ReleaseAsset, ReleaseUpdate, RepoId, RequestStats, Review, ReviewState,
    WorkflowDispatch, WorkflowRun, WorkflowRunQuery,
};
use crate::error::Result;

/// What every forge capability shares: a name for messages and the count of requests made, so a
/// feature holding any one capability can still say which backend failed and what it cost.
pub trait ForgeBackend: Send + Sync + std::fmt::Debug {
    /// The backend's name, for messages (`github`, `in-memory`).
    fn backend(&self) -> &'static str;

    /// Counts of the requests this backend made (or served), for reports and benchmarks. A
    /// backend that does not count answers [`RequestStats::default`].
    fn request_stats(&self) -> RequestStats;
}

/// Reading releases and their assets: what waiting for a release and reporting on it need.
#[async_trait]
pub trait ReleaseForge: ForgeBackend {
    /// The release for `tag`, or `None` when there is none yet (HTTP 404). Draft releases are
    /// returned too (with `draft: true`) when the backend can see them.
    async fn release_by_tag(&self, repo: &RepoId, tag: &str) -> Result<Option<Release>>;

    /// Every release of the repository, newest first (all pages).
    async fn list_releases(&self, repo: &RepoId) -> Result<Vec<Release>>;

    /// The latest published (non-draft, non-prerelease) release, or `None`.
    async fn latest_release(&self, repo: &RepoId) -> Result<Option<Release>>;
}

/// Making and editing releases: what writing release notes needs (and what CI does).
#[async_trait]
pub trait ReleaseWriteForge: ReleaseForge {
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

    /// Changes a release's title, notes, draft or prerelease flag; `NotFound` for an unknown id.
    async fn update_release(
        &self,
        repo: &RepoId,
        release_id: u64,
        update: &ReleaseUpdate,
    ) -> Result<Release>;
}

/// CI runs (GitHub Actions): starting workflows and following the runs they make.
#[async_trait]
pub trait WorkflowForge: ForgeBackend {
    /// Starts a `workflow_dispatch` run. GitHub answers with nothing to identify the run: callers
    /// correlate it (an input shown in the run's title, or event + head SHA + creation time).
    async fn dispatch_workflow(&self, repo: &RepoId, dispatch: &WorkflowDispatch) -> Result<()>;

    /// Workflow runs matching `query`, newest first (all pages).
    async fn list_workflow_runs(
        &self,
        repo: &RepoId,
        query: &WorkflowRunQuery,
    ) -> Result<Vec<WorkflowRun>>;

    /// One workflow run; `NotFound` if absent.
    async fn workflow_run(&self, repo: &RepoId, run_id: u64) -> Result<WorkflowRun>;

    /// Sends a `repository_dispatch` event with a JSON `client_payload`.
    async fn repository_dispatch(
        &self,
        repo: &RepoId,
        event_type: &str,
        client_payload: &serde_json::Value,
    ) -> Result<()>;
}

/// Branches and pull requests, with their labels, reviews, commits and files: what proposing a
/// change for review and reading the review's verdict need.
#[async_trait]
pub trait PullRequestForge: ForgeBackend {
    /// Creates branch `name` at commit `sha` (`AlreadyExists` if it exists).
    async fn create_branch(&self, repo: &RepoId, name: &str, sha: &str) -> Result<()>;

    /// Opens a pull request.
    async fn create_pull_request(&self, repo: &RepoId, pr: &NewPullRequest) -> Result<PullRequest>;

    /// One pull request; `NotFound` if absent.
    async fn pull_request(&self, repo: &RepoId, number: u64) -> Result<PullRequest>;

    /// Pull requests in `state` (`open`, `closed` or `all`), newest first (all pages).
    async fn list_pull_requests(&self, repo: &RepoId, state: &str) -> Result<Vec<PullRequest>>;

    /// Adds labels to an issue or pull request (existing ones are kept).
    async fn add_labels(&self, repo: &RepoId, number: u64, labels: &[String]) -> Result<()>;

    /// Removes a label; removing an absent label is not an error.
    async fn remove_label(&self, repo: &RepoId, number: u64, label: &str) -> Result<()>;

    /// The reviews of a pull request, oldest first (all pages).
    async fn list_reviews(&self, repo: &RepoId, number: u64) -> Result<Vec<Review>>;

    /// Submits a review as the token's user at the pull request's current head (`state` is
    /// `Approved`, `ChangesRequested` or `Commented`).
    async fn create_review(
        &self,
        repo: &RepoId,
        number: u64,
        state: ReviewState,
        body: &str,
    ) -> Result<Review>;

    /// The commits of a pull request, oldest first (all pages).
    async fn list_pull_commits(&self, repo: &RepoId, number: u64) -> Result<Vec<PullCommit>>;

    /// The paths a pull request adds, changes or removes (all pages).
    async fn list_pull_files(&self, repo: &RepoId, number: u64) -> Result<Vec<String>>;
}

/// Issues and the comments on issues and pull requests (GitHub keeps both in one numbering).
#[async_trait]
pub trait IssueForge: ForgeBackend {
    /// Opens an issue.
    async fn create_issue(&self, repo: &RepoId, title: &str, body: &str) -> Result<Issue>;

    /// One issue; `NotFound` if absent. A pull request's number reads as its issue, as on GitHub.
    async fn issue(&self, repo: &RepoId, number: u64) -> Result<Issue>;

    /// Replaces an issue's body (title and everything else unchanged); `NotFound` if absent.
    async fn update_issue_body(&self, repo: &RepoId, number: u64, body: &str) -> Result<Issue>;

    /// Comments on an issue or pull request.
    async fn create_comment(&self, repo: &RepoId, number: u64, body: &str) -> Result<Comment>;

    /// Comments of an issue or pull request, oldest first (all pages).
    async fn list_comments(&self, repo: &RepoId, number: u64) -> Result<Vec<Comment>>;

    /// One comment by id, re-read from the forge (its author and edit time are facts the forge
    /// holds, unlike its text); `NotFound` if absent.
    async fn comment(&self, repo: &RepoId, comment_id: u64) -> Result<Comment>;

    /// Replaces a comment's text (GitHub lets anyone with write access do this to any comment);
    /// `NotFound` if absent.
    async fn update_comment(&self, repo: &RepoId, comment_id: u64, body: &str) -> Result<Comment>;
}

/// Repository contents as the forge holds them: how policy is read from a trusted ref rather than
/// from a change under review, and how an approval is bound to what it approved.
#[async_trait]
pub trait ContentForge: ForgeBackend {
    /// A file's bytes at `git_ref` (a branch, tag or commit), or `None` when the file does not
    /// exist there. How policy is read from the base branch rather than from a PR's head.
    async fn file_contents(
        &self,
        repo: &RepoId,
        path: &str,
        git_ref: &str,
    ) -> Result<Option<Vec<u8>>>;

    /// How `head` compares with `base` (commits or branches).
    async fn compare_commits(&self, repo: &RepoId, base: &str, head: &str) -> Result<Comparison>;
}

/// Who acts and what they may do: the token's user and a user's permission on a repository.
#[async_trait]
pub trait AccessForge: ForgeBackend {
    /// The login the credentials act as (`GET /user`).
    async fn current_user(&self) -> Result<String>;

    /// A user's permission on the repository (`None` for strangers).
    async fn permission(&self, repo: &RepoId, user: &str) -> Result<Permission>;
}

/// The full forge: every capability. What the CLI builds and the workflows hold as
/// `Arc<dyn Forge>`; implemented for every type that implements each capability trait, so a
/// backend never implements it by hand.
pub trait Forge:
    ReleaseWriteForge + WorkflowForge + PullRequestForge + IssueForge + ContentForge + AccessForge
{
}

impl<T> Forge for T where
    T: ReleaseWriteForge
        + WorkflowForge
        + PullRequestForge
        + IssueForge
        + ContentForge
        + AccessForge
        + ?Sized
{
}
