//! Branches, pull requests, labels, comments and permissions of [`InMemoryForge`], with the test
//! hooks that play the other people on a repository (their pushes, comments and permissions).

use super::{InMemoryForge, State};
use crate::error::{Error, Result};
use crate::forge::types::{
    Comment, Issue, NewPullRequest, Permission, PullCommit, PullRequest, RepoId,
};

/// The login [`InMemoryForge`] acts as until [`InMemoryForge::set_user`] changes it.
pub const DEFAULT_USER: &str = "orchestrator-bot";

impl InMemoryForge {
    /// The login the forge's "token" belongs to: the author of pull requests and comments made
    /// through the [`Forge`](crate::forge::Forge) methods.
    pub fn set_user(&self, login: &str) {
        self.lock().user = Some(login.to_owned());
    }

    /// Sets `user`'s permission on `repo` (everyone else has [`Permission::None`]).
    pub fn set_permission(&self, repo: &RepoId, user: &str, permission: Permission) {
        self.lock()
            .repo(repo)
            .permissions
            .insert(user.to_owned(), permission);
    }

    /// Someone pushed `new_head_sha` to pull request `number`'s head branch: the pull request
    /// (and the branch) now point at it, and its commit list gains `new_head_sha` with an author
    /// and committer that map to no forge account (an e-mail GitHub does not know). To name who
    /// pushed, use [`InMemoryForge::push_to_pull_request_as`]. `NotFound` for an unknown pull
    /// request.
    pub fn push_to_pull_request(
        &self,
        repo: &RepoId,
        number: u64,
        new_head_sha: &str,
    ) -> Result<()> {
        self.lock().push_commit(repo, number, new_head_sha, None)
    }

    /// `pusher` pushed `new_head_sha` to pull request `number`'s head branch: as
    /// [`InMemoryForge::push_to_pull_request`], and the new commit's author and committer are
    /// `pusher` (so the two-person rule can see them in [`PullRequestForge::list_pull_commits`]).
    ///
    /// [`PullRequestForge::list_pull_commits`]: crate::forge::PullRequestForge::list_pull_commits
    pub fn push_to_pull_request_as(
        &self,
        repo: &RepoId,
        number: u64,
        new_head_sha: &str,
        pusher: &str,
    ) -> Result<()> {
        self.lock()
            .push_commit(repo, number, new_head_sha, Some(pusher))
    }

    /// `author` comments on issue or pull request `number` (not logged as a request of ours).
    pub fn comment_as(
        &self,
        repo: &RepoId,
        number: u64,
        author: &str,
        body: &str,
    ) -> Result<Comment> {
        self.lock().comment(repo, number, author, body)
    }
}

pub(super) fn not_found(repo: &RepoId, number: u64) -> Error {
    Error::NotFound {
        what: format!("pull request #{number} of {repo}"),
    }
}

fn issue_not_found(repo: &RepoId, number: u64) -> Error {
    Error::NotFound {
        what: format!("issue #{number} of {repo}"),
    }
}

impl State {
    pub(super) fn user(&self) -> String {
        self.user.clone().unwrap_or_else(|| DEFAULT_USER.to_owned())
    }

    pub(super) fn create_branch(&mut self, repo: &RepoId, name: &str, sha: &str) -> Result<()> {
        let branches = &mut self.repo(repo).branches;
        if branches.contains_key(name) {
            return Err(Error::AlreadyExists {
                what: format!("branch {name} of {repo}"),
            });
        }
        branches.insert(name.to_owned(), sha.to_owned());
        Ok(())
    }

    /// Opens a pull request; `AlreadyExists` if an open one has the same head and base. The head
    /// branch need not be known: its SHA is then the fake one (see `set_branch_head`).
    pub(super) fn create_pull_request(
        &mut self,
        repo: &RepoId,
        new: &NewPullRequest,
    ) -> Result<PullRequest> {
        if new.title.trim().is_empty() || new.head.is_empty() || new.base.is_empty() {
            return Err(Error::invalid_input(
                "a pull request needs a title, a head and a base",
            ));
        }
        let head_sha = self.head_of(repo, &new.head);
        let base_sha = self.head_of(repo, &new.base);
        let author = self.user();
        let repo_state = self.repo(repo);
        if repo_state
            .pulls
            .values()
            .any(|p| p.state == "open" && p.head_ref == new.head && p.base_ref == new.base)
        {
            return Err(Error::AlreadyExists {
                what: format!(
                    "an open pull request of {repo} from {} into {}",
                    new.head, new.base
                ),
            });
        }
        repo_state.next_number += 1;
        let number = repo_state.next_number;
        let pr = PullRequest {
            number,
            title: new.title.clone(),
            body: new.body.clone(),
            head_ref: new.head.clone(),
            head_sha,
            base_ref: new.base.clone(),
            author,
            labels: Vec::new(),
            draft: new.draft,
            state: "open".into(),
            html_url: format!("memory://{repo}/pull/{number}"),
            merged: false,
            mergeable: Some(true),
            base_sha,
        };
        repo_state.pulls.insert(number, pr.clone());
        // The branch's commit, written and pushed by whoever opens the pull request.
        repo_state.pull_commits.insert(
            number,
            vec![PullCommit {
                sha: pr.head_sha.clone(),
                author: Some(pr.author.clone()),
                committer: Some(pr.author.clone()),
            }],
        );
        Ok(pr)
    }

    pub(super) fn pull_request(&self, repo: &RepoId, number: u64) -> Result<PullRequest> {
        self.repos
            .get(repo)
            .and_then(|r| r.pulls.get(&number))
            .cloned()
            .ok_or_else(|| not_found(repo, number))
    }

    pub(super) fn add_labels(
        &mut self,
        repo: &RepoId,
        number: u64,
        labels: &[String],
    ) -> Result<()> {
        let pr = self
            .repo(repo)
            .pulls
            .get_mut(&number)
            .ok_or_else(|| not_found(repo, number))?;
        for label in labels {
            if !pr.labels.contains(label) {
                pr.labels.push(label.clone());
            }
        }
        Ok(())
    }

    /// Removing a label the pull request lacks, or from an unknown number, is fine (GitHub's
    /// `404` for both cannot be told apart by a client).
    pub(super) fn remove_label(&mut self, repo: &RepoId, number: u64, label: &str) {
        if let Some(pr) = self.repo(repo).pulls.get_mut(&number) {
            pr.labels.retain(|l| l != label);
        }
    }

    pub(super) fn comment(
        &mut self,
        repo: &RepoId,
        number: u64,
        author: &str,
        body: &str,
    ) -> Result<Comment> {
        let repo_state = self.repo(repo);
        if !repo_state.pulls.contains_key(&number) && !repo_state.issues.contains_key(&number) {
            return Err(issue_not_found(repo, number));
        }
        let id = self.fresh_id();
        let now = crate::state::now_ms();
        let comment = Comment {
            id,
            author: author.to_owned(),
            body: body.to_owned(),
            created_at_ms: now,
            updated_at_ms: now,
        };
        self.repo(repo)
            .comments
            .entry(number)
            .or_default()
            .push(comment.clone());
        Ok(comment)
    }

    pub(super) fn comments(&self, repo: &RepoId, number: u64) -> Result<Vec<Comment>> {
        let repo_state = self
            .repos
            .get(repo)
            .ok_or_else(|| issue_not_found(repo, number))?;
        if !repo_state.pulls.contains_key(&number) && !repo_state.issues.contains_key(&number) {
            return Err(issue_not_found(repo, number));
        }
        Ok(repo_state
            .comments
            .get(&number)
            .cloned()
            .unwrap_or_default())
    }

    /// Opens an issue; it shares the number sequence with pull requests, as on GitHub.
    pub(super) fn create_issue(&mut self, repo: &RepoId, title: &str, body: &str) -> Result<Issue> {
        if title.trim().is_empty() {
            return Err(Error::invalid_input("an issue needs a title"));
        }
        let repo_state = self.repo(repo);
        repo_state.next_number += 1;
        let number = repo_state.next_number;
        let issue = Issue {
            number,
            title: title.to_owned(),
            body: body.to_owned(),
            state: "open".into(),
            html_url: format!("memory://{repo}/issues/{number}"),
        };
        repo_state.issues.insert(number, issue.clone());
        Ok(issue)
    }

    /// An issue, or a pull request read as its issue.
    pub(super) fn issue(&self, repo: &RepoId, number: u64) -> Result<Issue> {
        let repo_state = self
            .repos
            .get(repo)
            .ok_or_else(|| issue_not_found(repo, number))?;
        if let Some(issue) = repo_state.issues.get(&number) {
            return Ok(issue.clone());
        }
        repo_state
            .pulls
            .get(&number)
            .map(|pr| Issue {
                number,
                title: pr.title.clone(),
                body: pr.body.clone(),
                state: pr.state.clone(),
                html_url: pr.html_url.clone(),
            })
            .ok_or_else(|| issue_not_found(repo, number))
    }

    pub(super) fn update_issue_body(
        &mut self,
        repo: &RepoId,
        number: u64,
        body: &str,
    ) -> Result<Issue> {
        let repo_state = self.repo(repo);
        if let Some(issue) = repo_state.issues.get_mut(&number) {
            issue.body = body.to_owned();
        } else if let Some(pr) = repo_state.pulls.get_mut(&number) {
            pr.body = body.to_owned();
        } else {
            return Err(issue_not_found(repo, number));
        }
        self.issue(repo, number)
    }

    pub(super) fn permission(&self, repo: &RepoId, user: &str) -> Permission {
        self.repos
            .get(repo)
            .and_then(|r| r.permissions.get(user))
            .copied()
            .unwrap_or(Permission::None)
    }
}
