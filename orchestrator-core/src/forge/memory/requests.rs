//! The request log of [`InMemoryForge`]: every operation is counted and recorded (with the fault,
//! if one was injected), so tests and benchmarks can assert what a feature asked of the forge and
//! how often, the way the GitHub adapter's counters and the mock server's `/_mock/stats` do.

use super::{InMemoryForge, State};
use crate::error::Result;
use crate::forge::types::RepoId;

/// The operations of [`InMemoryForge`], for fault rules and the request log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ForgeOp {
    /// [`ReleaseForge::release_by_tag`](crate::forge::ReleaseForge::release_by_tag).
    ReleaseByTag,
    /// [`ReleaseForge::list_releases`](crate::forge::ReleaseForge::list_releases).
    ListReleases,
    /// [`ReleaseWriteForge::create_release`](crate::forge::ReleaseWriteForge::create_release).
    CreateRelease,
    /// [`ReleaseWriteForge::upload_asset`](crate::forge::ReleaseWriteForge::upload_asset).
    UploadAsset,
    /// [`ReleaseForge::latest_release`](crate::forge::ReleaseForge::latest_release).
    LatestRelease,
    /// [`ReleaseWriteForge::update_release`](crate::forge::ReleaseWriteForge::update_release).
    UpdateRelease,
    /// [`WorkflowForge::dispatch_workflow`](crate::forge::WorkflowForge::dispatch_workflow).
    DispatchWorkflow,
    /// [`WorkflowForge::list_workflow_runs`](crate::forge::WorkflowForge::list_workflow_runs).
    ListWorkflowRuns,
    /// [`WorkflowForge::workflow_run`](crate::forge::WorkflowForge::workflow_run).
    WorkflowRun,
    /// [`WorkflowForge::repository_dispatch`](crate::forge::WorkflowForge::repository_dispatch).
    RepositoryDispatch,
    /// [`PullRequestForge::create_branch`](crate::forge::PullRequestForge::create_branch).
    CreateBranch,
    /// `create_pull_request` of [`PullRequestForge`](crate::forge::PullRequestForge).
    CreatePullRequest,
    /// [`PullRequestForge::pull_request`](crate::forge::PullRequestForge::pull_request).
    PullRequest,
    /// [`PullRequestForge::add_labels`](crate::forge::PullRequestForge::add_labels).
    AddLabels,
    /// [`PullRequestForge::remove_label`](crate::forge::PullRequestForge::remove_label).
    RemoveLabel,
    /// [`IssueForge::create_comment`](crate::forge::IssueForge::create_comment).
    CreateComment,
    /// [`IssueForge::list_comments`](crate::forge::IssueForge::list_comments).
    ListComments,
    /// [`AccessForge::permission`](crate::forge::AccessForge::permission).
    Permission,
    /// [`IssueForge::create_issue`](crate::forge::IssueForge::create_issue).
    CreateIssue,
    /// [`IssueForge::issue`](crate::forge::IssueForge::issue).
    Issue,
    /// [`IssueForge::update_issue_body`](crate::forge::IssueForge::update_issue_body).
    UpdateIssue,
    /// [`IssueForge::comment`](crate::forge::IssueForge::comment).
    Comment,
    /// [`IssueForge::update_comment`](crate::forge::IssueForge::update_comment).
    UpdateComment,
    /// [`PullRequestForge::list_reviews`](crate::forge::PullRequestForge::list_reviews).
    ListReviews,
    /// [`PullRequestForge::create_review`](crate::forge::PullRequestForge::create_review).
    CreateReview,
    /// [`PullRequestForge::list_pull_commits`](crate::forge::PullRequestForge::list_pull_commits).
    ListPullCommits,
    /// [`PullRequestForge::list_pull_files`](crate::forge::PullRequestForge::list_pull_files).
    ListPullFiles,
    /// `list_pull_requests` of [`PullRequestForge`](crate::forge::PullRequestForge).
    ListPullRequests,
    /// [`ContentForge::file_contents`](crate::forge::ContentForge::file_contents).
    FileContents,
    /// [`ContentForge::compare_commits`](crate::forge::ContentForge::compare_commits).
    CompareCommits,
    /// [`AccessForge::current_user`](crate::forge::AccessForge::current_user).
    CurrentUser,
}

/// One request as the forge saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// The operation.
    pub op: ForgeOp,
    /// The repository.
    pub repo: RepoId,
    /// The tag, release id or asset name involved.
    pub detail: String,
    /// `None` on success, else the error message.
    pub error: Option<String>,
}

impl InMemoryForge {
    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.lock().log.clone()
    }

    /// How many requests of `op` for `repo` were made.
    pub fn count(&self, op: ForgeOp, repo: &RepoId) -> usize {
        self.lock()
            .log
            .iter()
            .filter(|r| r.op == op && &r.repo == repo)
            .count()
    }

    /// Logs the request and applies fault rules; the error, if any, is what the caller returns.
    /// Every capability method starts here, so no operation escapes the log or the faults.
    pub(super) fn begin(state: &mut State, op: ForgeOp, repo: &RepoId, detail: &str) -> Result<()> {
        state.stats.requests += 1;
        state.stats.rate_limited += 1;
        let error = state.injected_fault(op, repo);
        state.log.push(RequestRecord {
            op,
            repo: repo.clone(),
            detail: detail.to_owned(),
            error: error.as_ref().map(ToString::to_string),
        });
        error.map_or(Ok(()), Err)
    }
}
