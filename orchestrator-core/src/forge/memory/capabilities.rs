//! The forge capabilities of [`InMemoryForge`]: each method logs the request and applies injected
//! faults ([`InMemoryForge::begin`]), then reads or changes the shared state under one lock. The
//! behaviour lives with the state it concerns (`releases`, `workflows`, `collab`, `trust`); these
//! impls are the thin, uniform front the conformance suite drives.

use async_trait::async_trait;

use super::InMemoryForge;
use super::requests::ForgeOp;
use crate::error::{Error, Result};
use crate::forge::capabilities::{
    AccessForge, ContentForge, ForgeBackend, IssueForge, PullRequestForge, ReleaseForge,
    ReleaseWriteForge, WorkflowForge,
};
use crate::forge::types::{
    Comment, Comparison, Issue, NewPullRequest, NewRelease, Permission, PullCommit, PullRequest,
    Release, ReleaseAsset, ReleaseUpdate, RepoId, RequestStats, Review, ReviewState,
    WorkflowDispatch, WorkflowRun, WorkflowRunQuery,
};

impl ForgeBackend for InMemoryForge {
    fn backend(&self) -> &'static str {
        "in-memory"
    }

    fn request_stats(&self) -> RequestStats {
        self.lock().stats
    }
}

#[async_trait]
impl ReleaseForge for InMemoryForge {
    async fn release_by_tag(&self, repo: &RepoId, tag: &str) -> Result<Option<Release>> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::ReleaseByTag, repo, tag)?;
        Ok(state.release(repo, tag))
    }

    async fn list_releases(&self, repo: &RepoId) -> Result<Vec<Release>> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::ListReleases, repo, "")?;
        Ok(state.all_releases(repo))
    }

    async fn latest_release(&self, repo: &RepoId) -> Result<Option<Release>> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::LatestRelease, repo, "")?;
        Ok(state
            .all_releases(repo)
            .into_iter()
            .find(|r| !r.draft && !r.prerelease))
    }
}

#[async_trait]
impl ReleaseWriteForge for InMemoryForge {
    async fn create_release(&self, repo: &RepoId, release: &NewRelease) -> Result<Release> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::CreateRelease, repo, &release.tag)?;
        state.create_release(repo, release)
    }

    async fn upload_asset(
        &self,
        repo: &RepoId,
        release_id: u64,
        name: &str,
        content: &[u8],
    ) -> Result<ReleaseAsset> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::UploadAsset, repo, name)?;
        state.upload_asset(repo, release_id, name, content)
    }

    async fn update_release(
        &self,
        repo: &RepoId,
        release_id: u64,
        update: &ReleaseUpdate,
    ) -> Result<Release> {
        let mut state = self.lock();
        Self::begin(
            &mut state,
            ForgeOp::UpdateRelease,
            repo,
            &release_id.to_string(),
        )?;
        state.update_release(repo, release_id, update)
    }
}

#[async_trait]
impl WorkflowForge for InMemoryForge {
    async fn dispatch_workflow(&self, repo: &RepoId, dispatch: &WorkflowDispatch) -> Result<()> {
        let mut state = self.lock();
        let detail = format!("{}@{}", dispatch.workflow, dispatch.git_ref);
        Self::begin(&mut state, ForgeOp::DispatchWorkflow, repo, &detail)?;
        state.dispatch_workflow(repo, dispatch);
        Ok(())
    }

    async fn list_workflow_runs(
        &self,
        repo: &RepoId,
        query: &WorkflowRunQuery,
    ) -> Result<Vec<WorkflowRun>> {
        let mut state = self.lock();
        let detail = query.workflow.clone().unwrap_or_default();
        Self::begin(&mut state, ForgeOp::ListWorkflowRuns, repo, &detail)?;
        Ok(state.workflow_runs(repo, query))
    }

    async fn workflow_run(&self, repo: &RepoId, run_id: u64) -> Result<WorkflowRun> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::WorkflowRun, repo, &run_id.to_string())?;
        state.workflow_run(repo, run_id)
    }

    async fn repository_dispatch(
        &self,
        repo: &RepoId,
        event_type: &str,
        client_payload: &serde_json::Value,
    ) -> Result<()> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::RepositoryDispatch, repo, event_type)?;
        if event_type.is_empty() {
            return Err(Error::invalid_input(
                "a repository dispatch needs an event type",
            ));
        }
        state.repository_dispatch(repo, event_type, client_payload);
        Ok(())
    }
}

#[async_trait]
impl PullRequestForge for InMemoryForge {
    async fn create_branch(&self, repo: &RepoId, name: &str, sha: &str) -> Result<()> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::CreateBranch, repo, name)?;
        state.create_branch(repo, name, sha)
    }

    async fn create_pull_request(&self, repo: &RepoId, pr: &NewPullRequest) -> Result<PullRequest> {
        let mut state = self.lock();
        let detail = format!("{} -> {}", pr.head, pr.base);
        Self::begin(&mut state, ForgeOp::CreatePullRequest, repo, &detail)?;
        state.create_pull_request(repo, pr)
    }

    async fn pull_request(&self, repo: &RepoId, number: u64) -> Result<PullRequest> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::PullRequest, repo, &number.to_string())?;
        state.pull_request(repo, number)
    }

    async fn list_pull_requests(&self, repo: &RepoId, pr_state: &str) -> Result<Vec<PullRequest>> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::ListPullRequests, repo, pr_state)?;
        state.pull_requests(repo, pr_state)
    }

    async fn add_labels(&self, repo: &RepoId, number: u64, labels: &[String]) -> Result<()> {
        let mut state = self.lock();
        let detail = format!("#{number} {}", labels.join(","));
        Self::begin(&mut state, ForgeOp::AddLabels, repo, &detail)?;
        state.add_labels(repo, number, labels)
    }

    async fn remove_label(&self, repo: &RepoId, number: u64, label: &str) -> Result<()> {
        let mut state = self.lock();
        let detail = format!("#{number} {label}");
        Self::begin(&mut state, ForgeOp::RemoveLabel, repo, &detail)?;
        state.remove_label(repo, number, label);
        Ok(())
    }

    async fn list_reviews(&self, repo: &RepoId, number: u64) -> Result<Vec<Review>> {
        let mut state = self.lock();
        Self::begin(
            &mut state,
            ForgeOp::ListReviews,
            repo,
            &format!("#{number}"),
        )?;
        state.reviews(repo, number)
    }

    async fn create_review(
        &self,
        repo: &RepoId,
        number: u64,
        review_state: ReviewState,
        body: &str,
    ) -> Result<Review> {
        let mut state = self.lock();
        Self::begin(
            &mut state,
            ForgeOp::CreateReview,
            repo,
            &format!("#{number} {review_state:?}"),
        )?;
        let author = state.user();
        state.review(repo, number, &author, review_state, body)
    }

    async fn list_pull_commits(&self, repo: &RepoId, number: u64) -> Result<Vec<PullCommit>> {
        let mut state = self.lock();
        Self::begin(
            &mut state,
            ForgeOp::ListPullCommits,
            repo,
            &format!("#{number}"),
        )?;
        state.pull_commits(repo, number)
    }

    async fn list_pull_files(&self, repo: &RepoId, number: u64) -> Result<Vec<String>> {
        let mut state = self.lock();
        Self::begin(
            &mut state,
            ForgeOp::ListPullFiles,
            repo,
            &format!("#{number}"),
        )?;
        state.pull_files(repo, number)
    }
}

#[async_trait]
impl IssueForge for InMemoryForge {
    async fn create_issue(&self, repo: &RepoId, title: &str, body: &str) -> Result<Issue> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::CreateIssue, repo, title)?;
        state.create_issue(repo, title, body)
    }

    async fn issue(&self, repo: &RepoId, number: u64) -> Result<Issue> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::Issue, repo, &number.to_string())?;
        state.issue(repo, number)
    }

    async fn update_issue_body(&self, repo: &RepoId, number: u64, body: &str) -> Result<Issue> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::UpdateIssue, repo, &number.to_string())?;
        state.update_issue_body(repo, number, body)
    }

    async fn create_comment(&self, repo: &RepoId, number: u64, body: &str) -> Result<Comment> {
        let mut state = self.lock();
        Self::begin(
            &mut state,
            ForgeOp::CreateComment,
            repo,
            &format!("#{number}"),
        )?;
        let author = state.user();
        state.comment(repo, number, &author, body)
    }

    async fn list_comments(&self, repo: &RepoId, number: u64) -> Result<Vec<Comment>> {
        let mut state = self.lock();
        Self::begin(
            &mut state,
            ForgeOp::ListComments,
            repo,
            &format!("#{number}"),
        )?;
        state.comments(repo, number)
    }

    async fn comment(&self, repo: &RepoId, comment_id: u64) -> Result<Comment> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::Comment, repo, &comment_id.to_string())?;
        state.comment_by_id(repo, comment_id)
    }

    async fn update_comment(&self, repo: &RepoId, comment_id: u64, body: &str) -> Result<Comment> {
        let mut state = self.lock();
        Self::begin(
            &mut state,
            ForgeOp::UpdateComment,
            repo,
            &comment_id.to_string(),
        )?;
        let editor = state.user();
        state.edit_comment(repo, comment_id, &editor, body)
    }
}

#[async_trait]
impl ContentForge for InMemoryForge {
    async fn file_contents(
        &self,
        repo: &RepoId,
        path: &str,
        git_ref: &str,
    ) -> Result<Option<Vec<u8>>> {
        let mut state = self.lock();
        Self::begin(
            &mut state,
            ForgeOp::FileContents,
            repo,
            &format!("{path}@{git_ref}"),
        )?;
        state.file_contents(repo, path, git_ref)
    }

    async fn compare_commits(&self, repo: &RepoId, base: &str, head: &str) -> Result<Comparison> {
        let mut state = self.lock();
        Self::begin(
            &mut state,
            ForgeOp::CompareCommits,
            repo,
            &format!("{base}...{head}"),
        )?;
        state.compare(repo, base, head)
    }
}

#[async_trait]
impl AccessForge for InMemoryForge {
    async fn current_user(&self) -> Result<String> {
        let mut state = self.lock();
        // Not about a repository; the log still wants one.
        Self::begin(&mut state, ForgeOp::CurrentUser, &RepoId::new("-", "-"), "")?;
        Ok(state.user())
    }

    async fn permission(&self, repo: &RepoId, user: &str) -> Result<Permission> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::Permission, repo, user)?;
        Ok(state.permission(repo, user))
    }
}
