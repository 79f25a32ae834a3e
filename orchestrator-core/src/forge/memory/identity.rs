//! Acting as a named user in [`InMemoryForge`]: the [`Forge`](crate::forge::Forge) methods act as
//! the one "token" user ([`InMemoryForge::set_user`]), but a server that serves many users from
//! one forge (the mock GitHub, where each request's token decides who acts) needs the pull
//! requests it opens and the reviews it lists to be seen as a given login, without changing who
//! the token user is for everyone else.

use super::collab::not_found;
use super::{InMemoryForge, State};
use crate::error::{Error, Result};
use crate::forge::types::{NewPullRequest, PullRequest, RepoId, Review};

impl InMemoryForge {
    /// `author` opens a pull request (as [`PullRequestForge::create_pull_request`] does for the
    /// token's user): they are its author, which the two-person rule and self-approval refusals
    /// read.
    ///
    /// [`PullRequestForge::create_pull_request`]:
    ///     crate::forge::PullRequestForge::create_pull_request
    pub fn create_pull_request_as(
        &self,
        repo: &RepoId,
        new: &NewPullRequest,
        author: &str,
    ) -> Result<PullRequest> {
        as_user(&mut self.lock(), author, |state| {
            state.create_pull_request(repo, new)
        })
    }

    /// The reviews of pull request `number` as `viewer` sees them (a pending review is visible
    /// to its author only, as on GitHub).
    pub fn reviews_seen_by(&self, repo: &RepoId, number: u64, viewer: &str) -> Result<Vec<Review>> {
        as_user(&mut self.lock(), viewer, |state| {
            state.reviews(repo, number)
        })
    }

    /// The issue or pull request comment `comment_id` belongs to (`None` for an unknown one):
    /// where a comment fetched by id links to.
    pub fn comment_issue(&self, repo: &RepoId, comment_id: u64) -> Option<u64> {
        self.lock().repos.get(repo).and_then(|r| {
            r.comments
                .iter()
                .find(|(_, comments)| comments.iter().any(|c| c.id == comment_id))
                .map(|(number, _)| *number)
        })
    }

    /// Reopens closed pull request `number`; `Conflict` for a merged one (GitHub cannot reopen
    /// those), `NotFound` for an unknown one.
    pub fn reopen_pull_request(&self, repo: &RepoId, number: u64) -> Result<()> {
        let mut state = self.lock();
        let pr = state
            .repo(repo)
            .pulls
            .get_mut(&number)
            .ok_or_else(|| not_found(repo, number))?;
        if pr.merged {
            return Err(Error::Conflict {
                message: format!("pull request #{number} of {repo} is merged; it cannot reopen"),
            });
        }
        pr.state = "open".into();
        Ok(())
    }

    /// Retitles pull request `number`; `InvalidInput` for a blank title.
    pub fn set_pull_title(&self, repo: &RepoId, number: u64, title: &str) -> Result<()> {
        if title.trim().is_empty() {
            return Err(Error::invalid_input("a pull request needs a title"));
        }
        let mut state = self.lock();
        let pr = state
            .repo(repo)
            .pulls
            .get_mut(&number)
            .ok_or_else(|| not_found(repo, number))?;
        title.clone_into(&mut pr.title);
        Ok(())
    }
}

/// Runs `f` with `login` as the token's user, then puts the previous one back.
fn as_user<T>(state: &mut State, login: &str, f: impl FnOnce(&mut State) -> T) -> T {
    let previous = state.user.replace(login.to_owned());
    let result = f(state);
    state.user = previous;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forge::{AccessForge, PullRequestForge, ReviewState};

    #[tokio::test]
    async fn a_pull_request_opened_as_someone_is_theirs_and_the_token_user_stays() {
        let forge = InMemoryForge::new();
        forge.set_user("bot");
        let repo = RepoId::new("acme", "app");
        let new = NewPullRequest {
            title: "t".into(),
            head: "plan".into(),
            base: "main".into(),
            ..NewPullRequest::default()
        };
        let pr = forge
            .create_pull_request_as(&repo, &new, "alice")
            .expect("opens");
        assert_eq!(pr.author, "alice");
        assert_eq!(forge.current_user().await.expect("user"), "bot");
        // Her own approval is refused as the author's; a pending review shows to her only.
        assert!(
            forge
                .review_as(&repo, pr.number, "alice", ReviewState::Approved, "")
                .is_err()
        );
        forge
            .review_as(&repo, pr.number, "bob", ReviewState::Pending, "draft")
            .expect("pending");
        assert_eq!(
            forge
                .reviews_seen_by(&repo, pr.number, "bob")
                .expect("reviews")
                .len(),
            1
        );
        assert!(
            forge
                .reviews_seen_by(&repo, pr.number, "alice")
                .expect("reviews")
                .is_empty()
        );
        let comment = forge
            .comment_as(&repo, pr.number, "bob", "hi")
            .expect("comments");
        assert_eq!(forge.comment_issue(&repo, comment.id), Some(pr.number));
        assert_eq!(forge.comment_issue(&repo, comment.id + 100), None);
    }

    #[tokio::test]
    async fn a_closed_pull_request_reopens_unless_merged() {
        let forge = InMemoryForge::new();
        let repo = RepoId::new("acme", "app");
        let new = NewPullRequest {
            title: "t".into(),
            head: "plan".into(),
            base: "main".into(),
            ..NewPullRequest::default()
        };
        let pr = forge.create_pull_request(&repo, &new).await.expect("opens");
        forge
            .close_pull_request(&repo, pr.number, false)
            .expect("closes");
        forge
            .reopen_pull_request(&repo, pr.number)
            .expect("reopens");
        forge
            .set_pull_title(&repo, pr.number, "t2")
            .expect("retitles");
        let again = forge.pull_request(&repo, pr.number).await.expect("reads");
        assert_eq!((again.state.as_str(), again.title.as_str()), ("open", "t2"));
        forge
            .close_pull_request(&repo, pr.number, true)
            .expect("merges");
        assert!(matches!(
            forge.reopen_pull_request(&repo, pr.number),
            Err(Error::Conflict { .. })
        ));
        assert!(forge.set_pull_title(&repo, pr.number, " ").is_err());
    }
}
