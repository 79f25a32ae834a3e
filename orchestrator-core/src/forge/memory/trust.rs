//! The facts a trusted approval is read from, in [`InMemoryForge`]: comments by id and their edit
//! time, reviews bound to a commit, a pull request's commits and files, file contents at a ref,
//! comparisons, and a pull request's state (closed, merged, mergeable). The test hooks here play
//! the other people: a maintainer who reviews, someone with write access who edits a comment or
//! pushes to the branch, GitHub closing or merging a pull request.
//!
//! The rules GitHub enforces are kept where a forgery test depends on them: only the author or
//! someone with write access may edit a comment, and an edit moves `updated_at`; a review is
//! given at the pull request's current head and cannot be edited into another verdict; a pull
//! request's author cannot approve or request changes on it.

use super::collab::not_found;
use super::{InMemoryForge, RepoState, State};
use crate::error::{Error, Result};
use crate::forge::types::{
    Comment, Comparison, Permission, PullCommit, PullRequest, RepoId, Review, ReviewState,
};

impl InMemoryForge {
    /// `editor` replaces the text of comment `comment_id` (as GitHub allows the author and anyone
    /// with write access, the bot's comments included). Its `updated_at_ms` moves past its
    /// `created_at_ms`, as GitHub's `updated_at` does. `NotFound` for an unknown comment,
    /// `PermissionDenied` for an editor with less than write access who did not write it.
    pub fn edit_comment_as(
        &self,
        repo: &RepoId,
        comment_id: u64,
        editor: &str,
        body: &str,
    ) -> Result<Comment> {
        self.lock().edit_comment(repo, comment_id, editor, body)
    }

    /// `author` submits a review of pull request `number` in `state` at its current head
    /// (`commit_id` is the head now; a later push does not move it). A pull request's author
    /// cannot approve or request changes on it (`Conflict`, GitHub's 422); `Dismissed` is not a
    /// verdict one submits (use [`InMemoryForge::dismiss_review`]).
    pub fn review_as(
        &self,
        repo: &RepoId,
        number: u64,
        author: &str,
        state: ReviewState,
        body: &str,
    ) -> Result<Review> {
        self.lock().review(repo, number, author, state, body)
    }

    /// A maintainer dismisses review `review_id` of pull request `number`: its state becomes
    /// `Dismissed` (GitHub dismisses approvals and change requests only: `Conflict` otherwise).
    pub fn dismiss_review(&self, repo: &RepoId, number: u64, review_id: u64) -> Result<Review> {
        let mut state = self.lock();
        let review = state
            .repo(repo)
            .reviews
            .get_mut(&number)
            .and_then(|reviews| reviews.iter_mut().find(|r| r.id == review_id))
            .ok_or_else(|| Error::NotFound {
                what: format!("review {review_id} of pull request #{number} of {repo}"),
            })?;
        if !matches!(
            review.state,
            ReviewState::Approved | ReviewState::ChangesRequested
        ) {
            return Err(Error::Conflict {
                message: format!("review {review_id} is {:?}, not dismissable", review.state),
            });
        }
        review.state = ReviewState::Dismissed;
        Ok(review.clone())
    }

    /// The paths pull request `number` adds, changes or removes, as
    /// [`PullRequestForge::list_pull_files`](crate::forge::PullRequestForge::list_pull_files)
    /// reports them (empty until set). `NotFound` for an unknown pull request.
    pub fn set_pull_files(&self, repo: &RepoId, number: u64, paths: &[&str]) -> Result<()> {
        let mut state = self.lock();
        let repo_state = state.repo(repo);
        if !repo_state.pulls.contains_key(&number) {
            return Err(not_found(repo, number));
        }
        repo_state
            .pull_files
            .insert(number, paths.iter().map(|p| (*p).to_owned()).collect());
        Ok(())
    }

    /// Stores `path` with `bytes` at `git_ref` (a branch name or a commit SHA). Reading at a
    /// branch also finds files stored at its head commit, and reading at a commit finds files
    /// stored under the branch that points at it.
    pub fn set_file(&self, repo: &RepoId, git_ref: &str, path: &str, bytes: &[u8]) {
        self.lock()
            .repo(repo)
            .files
            .insert((git_ref.to_owned(), path.to_owned()), bytes.to_vec());
    }

    /// GitHub closes pull request `number`, merged or not. `NotFound` for an unknown one.
    pub fn close_pull_request(&self, repo: &RepoId, number: u64, merged: bool) -> Result<()> {
        let mut state = self.lock();
        let pr = state
            .repo(repo)
            .pulls
            .get_mut(&number)
            .ok_or_else(|| not_found(repo, number))?;
        pr.state = "closed".into();
        pr.merged = merged;
        Ok(())
    }

    /// What GitHub says about merging pull request `number` cleanly (`None`: still computing).
    pub fn set_mergeable(&self, repo: &RepoId, number: u64, mergeable: Option<bool>) -> Result<()> {
        let mut state = self.lock();
        let pr = state
            .repo(repo)
            .pulls
            .get_mut(&number)
            .ok_or_else(|| not_found(repo, number))?;
        pr.mergeable = mergeable;
        Ok(())
    }

    /// Scripts what comparing `base` with `head` answers, over the derived answer (see
    /// [`ContentForge::compare_commits`](crate::forge::ContentForge::compare_commits) on this
    /// backend: a pull request's head is behind by one when its base branch moved since it was
    /// opened).
    pub fn set_comparison(&self, repo: &RepoId, base: &str, head: &str, comparison: Comparison) {
        self.lock()
            .repo(repo)
            .comparisons
            .insert((base.to_owned(), head.to_owned()), comparison);
    }
}

impl RepoState {
    /// Whether `git_ref` (a branch's short name or a commit) names something this repository
    /// has: the default branch, a branch or its commit, a ref files were stored under, or a pull
    /// request's head or base.
    fn knows_ref(&self, git_ref: &str) -> bool {
        git_ref == crate::forge::DEFAULT_BRANCH
            || self.branches.contains_key(git_ref)
            || self.branches.values().any(|sha| sha == git_ref)
            || self.files.keys().any(|(r, _)| r == git_ref)
            || self.pulls.values().any(|pr| {
                pr.head_sha == git_ref || pr.head_ref == git_ref || pr.base_ref == git_ref
            })
    }
}

impl State {
    /// Appends a commit to pull request `number` and moves its head (and head branch) there.
    pub(super) fn push_commit(
        &mut self,
        repo: &RepoId,
        number: u64,
        sha: &str,
        pusher: Option<&str>,
    ) -> Result<()> {
        let repo_state = self.repo(repo);
        let pr = repo_state
            .pulls
            .get_mut(&number)
            .ok_or_else(|| not_found(repo, number))?;
        pr.head_sha = sha.to_owned();
        let branch = pr.head_ref.clone();
        repo_state.branches.insert(branch, sha.to_owned());
        repo_state
            .pull_commits
            .entry(number)
            .or_default()
            .push(PullCommit {
                sha: sha.to_owned(),
                author: pusher.map(str::to_owned),
                committer: pusher.map(str::to_owned),
            });
        Ok(())
    }

    fn comment_mut(&mut self, repo: &RepoId, comment_id: u64) -> Result<&mut Comment> {
        self.repo(repo)
            .comments
            .values_mut()
            .flatten()
            .find(|c| c.id == comment_id)
            .ok_or_else(|| Error::NotFound {
                what: format!("comment {comment_id} of {repo}"),
            })
    }

    pub(super) fn comment_by_id(&mut self, repo: &RepoId, comment_id: u64) -> Result<Comment> {
        self.comment_mut(repo, comment_id).map(|c| c.clone())
    }

    pub(super) fn edit_comment(
        &mut self,
        repo: &RepoId,
        comment_id: u64,
        editor: &str,
        body: &str,
    ) -> Result<Comment> {
        let permission = self.permission(repo, editor);
        let comment = self.comment_mut(repo, comment_id)?;
        if !comment.author.eq_ignore_ascii_case(editor) && permission < Permission::Write {
            return Err(Error::PermissionDenied {
                message: format!(
                    "{editor} may not edit comment {comment_id} of {repo} (needs write access)"
                ),
            });
        }
        comment.body = body.to_owned();
        // Strictly later than creation even within one millisecond: an edit must show.
        comment.updated_at_ms = crate::state::now_ms().max(comment.created_at_ms + 1);
        Ok(comment.clone())
    }

    /// Reviews of pull request `number`, oldest first; a pending review is visible to its author
    /// only (the token's user), as on GitHub.
    pub(super) fn reviews(&mut self, repo: &RepoId, number: u64) -> Result<Vec<Review>> {
        self.pull_request(repo, number)?;
        let me = self.user();
        Ok(self
            .repo(repo)
            .reviews
            .get(&number)
            .into_iter()
            .flatten()
            .filter(|r| r.state != ReviewState::Pending || r.author.eq_ignore_ascii_case(&me))
            .cloned()
            .collect())
    }

    pub(super) fn review(
        &mut self,
        repo: &RepoId,
        number: u64,
        author: &str,
        state: ReviewState,
        body: &str,
    ) -> Result<Review> {
        let pr = self.pull_request(repo, number)?;
        match state {
            ReviewState::Dismissed => {
                return Err(Error::invalid_input(
                    "a review is dismissed after it is submitted, not submitted as dismissed",
                ));
            }
            ReviewState::Approved | ReviewState::ChangesRequested
                if pr.author.eq_ignore_ascii_case(author) =>
            {
                return Err(Error::Conflict {
                    message: format!(
                        "{author} opened pull request #{number} of {repo} and cannot approve or \
                         request changes on it"
                    ),
                });
            }
            _ => {}
        }
        let id = self.fresh_id();
        let review = Review {
            id,
            author: author.to_owned(),
            state,
            commit_id: pr.head_sha,
            submitted_at_ms: if state == ReviewState::Pending {
                0
            } else {
                crate::state::now_ms()
            },
            body: body.to_owned(),
        };
        self.repo(repo)
            .reviews
            .entry(number)
            .or_default()
            .push(review.clone());
        Ok(review)
    }

    pub(super) fn pull_commits(&self, repo: &RepoId, number: u64) -> Result<Vec<PullCommit>> {
        self.pull_request(repo, number)?;
        Ok(self
            .repos
            .get(repo)
            .and_then(|r| r.pull_commits.get(&number))
            .cloned()
            .unwrap_or_default())
    }

    pub(super) fn pull_files(&self, repo: &RepoId, number: u64) -> Result<Vec<String>> {
        self.pull_request(repo, number)?;
        Ok(self
            .repos
            .get(repo)
            .and_then(|r| r.pull_files.get(&number))
            .cloned()
            .unwrap_or_default())
    }

    /// Pull requests in `state` (`open`, `closed`, `all`), newest first.
    pub(super) fn pull_requests(&self, repo: &RepoId, state: &str) -> Result<Vec<PullRequest>> {
        if !matches!(state, "open" | "closed" | "all") {
            return Err(Error::invalid_input(format!(
                "pull request state {state:?} is not one of open, closed, all"
            )));
        }
        Ok(self
            .repos
            .get(repo)
            .map(|r| {
                r.pulls
                    .values()
                    .rev()
                    .filter(|p| state == "all" || p.state == state)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The file at `git_ref`, looked up under the ref as given, then the commit a branch of that
    /// name points at, then any branch pointing at that commit.
    pub(super) fn file_contents(
        &self,
        repo: &RepoId,
        path: &str,
        git_ref: &str,
    ) -> Result<Option<Vec<u8>>> {
        // An unknown repository reads as no file, as GitHub's plain 404 does.
        let Some(repo_state) = self.repos.get(repo) else {
            return Ok(None);
        };
        let git_ref = git_ref
            .strip_prefix("refs/heads/")
            .unwrap_or(git_ref)
            .to_owned();
        // An unknown ref is not a missing file (GitHub: 404 "No commit found for the ref"): a
        // policy read at a mistyped or deleted ref must fail, never read as "no policy".
        if !repo_state.knows_ref(&git_ref) {
            return Err(Error::NotFound {
                what: format!("ref {git_ref} of {repo}"),
            });
        }
        let mut refs = vec![git_ref.clone()];
        refs.extend(repo_state.branches.get(&git_ref).cloned());
        refs.extend(
            repo_state
                .branches
                .iter()
                .filter(|(_, sha)| **sha == git_ref)
                .map(|(branch, _)| branch.clone()),
        );
        Ok(refs
            .into_iter()
            .find_map(|r| repo_state.files.get(&(r, path.to_owned())).cloned()))
    }

    /// A scripted comparison, else one derived from the pull request whose head is `head`: ahead
    /// by its commits, behind by one when `base` (a branch or a commit) is no longer the commit
    /// the pull request was opened on. Two refs at one commit compare equal. Anything else is
    /// `NotFound`, as GitHub answers for an unknown commit.
    pub(super) fn compare(&self, repo: &RepoId, base: &str, head: &str) -> Result<Comparison> {
        let repo_state = self.repos.get(repo);
        if let Some(scripted) =
            repo_state.and_then(|r| r.comparisons.get(&(base.to_owned(), head.to_owned())))
        {
            return Ok(scripted.clone());
        }
        let branch = |r: &str| {
            repo_state
                .and_then(|s| s.branches.get(r.strip_prefix("refs/heads/").unwrap_or(r)))
                .cloned()
        };
        let head_sha = branch(head).unwrap_or_else(|| head.to_owned());
        if let Some(pr) = repo_state.and_then(|r| {
            r.pulls
                .values()
                .rev()
                .find(|p| p.head_sha == head_sha || p.head_ref == head)
        }) {
            // A base branch never set has the fake commit the pull request was opened on.
            let base_sha = branch(base).unwrap_or_else(|| {
                if base == pr.base_ref {
                    self.head_of(repo, base)
                } else {
                    base.to_owned()
                }
            });
            let ahead = repo_state
                .and_then(|r| r.pull_commits.get(&pr.number))
                .map_or(0, Vec::len);
            return Ok(Comparison {
                ahead_by: ahead as u64,
                behind_by: u64::from(base_sha != pr.base_sha),
                merge_base_sha: pr.base_sha.clone(),
            });
        }
        let base_sha = branch(base).unwrap_or_else(|| base.to_owned());
        if base_sha == head_sha {
            return Ok(Comparison {
                ahead_by: 0,
                behind_by: 0,
                merge_base_sha: base_sha,
            });
        }
        Err(Error::NotFound {
            what: format!("comparison {base}...{head} of {repo}"),
        })
    }
}
