//! The facts the gate checks, each a function of what the forge said: a command comment
//! unedited and exactly the command, the two-person rule, the standing approvals at the head,
//! and the one plan the pull request adds.

use crate::error::{Error, Result};
use crate::forge::{Comment, Forge, PullCommit, PullRequest, RepoId, Review, ReviewState};
use crate::scale::ScalePlan;
use crate::scale::review::{PlanCommand, plan_marker_of};

use super::PLAN_ROOT;

/// A refusal by the gate.
pub(super) fn denied(message: String) -> Error {
    Error::PermissionDenied { message }
}

/// A commit as people read it: its first 12 hex digits.
pub(super) fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// Whether `comment` is exactly `command`, written by `author` and never edited.
pub fn comment_problem(comment: &Comment, author: &str, command: PlanCommand) -> Option<String> {
    if !comment.author.eq_ignore_ascii_case(author) {
        return Some(format!(
            "comment {} was written by @{}, not @{author}",
            comment.id, comment.author
        ));
    }
    if comment.updated_at_ms != comment.created_at_ms {
        return Some(format!(
            "comment {} by @{author} was edited after it was posted (anyone with write access \
             can edit a comment, so an edited command proves nothing): post a new one",
            comment.id
        ));
    }
    if !comment
        .body
        .trim()
        .eq_ignore_ascii_case(&format!("/{}", command.as_str()))
    {
        return Some(format!(
            "comment {} does not say exactly /{}",
            comment.id,
            command.as_str()
        ));
    }
    None
}

/// The facts about a pull request the two-person rule reads.
#[derive(Debug, Clone)]
pub struct Authorship<'a> {
    /// The pull request.
    pub pull_request: &'a PullRequest,
    /// Its commits.
    pub commits: &'a [PullCommit],
}

impl Authorship<'_> {
    /// Why `user` wrote or pushed part of the change, or `None`.
    pub fn involvement(&self, user: &str) -> Option<String> {
        if self.pull_request.author.eq_ignore_ascii_case(user) {
            return Some(format!("@{user} opened this pull request"));
        }
        self.commits.iter().find_map(|c| {
            let is = |login: &Option<String>| {
                login
                    .as_deref()
                    .is_some_and(|l| l.eq_ignore_ascii_case(user))
            };
            match (is(&c.author), is(&c.committer)) {
                (true, true) => Some(format!("@{user} wrote and pushed commit {}", short(&c.sha))),
                (true, false) => Some(format!("@{user} wrote commit {}", short(&c.sha))),
                (false, true) => Some(format!(
                    "@{user} committed (pushed) commit {}",
                    short(&c.sha)
                )),
                (false, false) => None,
            }
        })
    }
}

/// The reviewers whose standing verdict is an approval of `head_sha`, and why each other
/// reviewer's review does not count. Pure: the latest `APPROVED`, `CHANGES_REQUESTED` or
/// `DISMISSED` review of each reviewer is their verdict (comment-only and pending reviews do not
/// change it, as on GitHub).
pub fn approvals_at_head(reviews: &[Review], head_sha: &str) -> (Vec<String>, Vec<String>) {
    let mut verdicts: Vec<&Review> = Vec::new();
    for review in reviews {
        if !matches!(
            review.state,
            ReviewState::Approved | ReviewState::ChangesRequested | ReviewState::Dismissed
        ) {
            continue;
        }
        match verdicts
            .iter_mut()
            .find(|v| v.author.eq_ignore_ascii_case(&review.author))
        {
            Some(slot) => *slot = review,
            None => verdicts.push(review),
        }
    }
    let mut approvers = Vec::new();
    let mut problems = Vec::new();
    for v in verdicts {
        match v.state {
            ReviewState::Approved if v.commit_id == head_sha => approvers.push(v.author.clone()),
            ReviewState::Approved => problems.push(format!(
                "@{} approved commit {}, but the head is now {} (pushed after approval)",
                v.author,
                short(&v.commit_id),
                short(head_sha)
            )),
            ReviewState::ChangesRequested => {
                problems.push(format!("@{} requested changes", v.author));
            }
            _ => problems.push(format!("@{}'s approval was dismissed", v.author)),
        }
    }
    (approvers, problems)
}

/// The one `plan.yaml` a pull request adds under [`PLAN_ROOT`], or why not.
pub fn plan_path_of(files: &[String]) -> Result<String> {
    let plans: Vec<&String> = files
        .iter()
        .filter(|f| f.starts_with(PLAN_ROOT) && f.ends_with("/plan.yaml"))
        .collect();
    match plans.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(denied(format!(
            "the pull request adds no {PLAN_ROOT}<target>/plan.yaml: there is no plan to apply"
        ))),
        many => Err(denied(format!(
            "the pull request changes {} plans ({}): one plan per pull request",
            many.len(),
            many.iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Reads and checks the plan a pull request adds, at its head: exactly one `plan.yaml`, valid,
/// its hash the one the description's plan marker records.
pub async fn plan_of_pull_request(
    forge: &dyn Forge,
    repo: &RepoId,
    pr: &PullRequest,
    files: &[String],
) -> Result<(String, ScalePlan)> {
    let path = plan_path_of(files)?;
    let bytes = forge
        .file_contents(repo, &path, &pr.head_sha)
        .await?
        .ok_or_else(|| {
            denied(format!(
                "{path} does not exist at the head {} (the pull request deletes it)",
                short(&pr.head_sha)
            ))
        })?;
    let origin = format!("{path}@{}", short(&pr.head_sha));
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::invalid_input(format!("{origin}: not UTF-8")))?;
    let plan = ScalePlan::from_yaml(&text, &origin)?;
    let Some((marked_hash, marked_path)) = plan_marker_of(&pr.body) else {
        return Err(denied(format!(
            "pull request #{} has no plan marker in its description: it was not proposed by \
             `orchestrator scale propose`",
            pr.number
        )));
    };
    if marked_hash != plan.hash() || marked_path != path {
        return Err(denied(format!(
            "{path} at the head is plan {}, but the description proposes {marked_hash} at \
             {marked_path}: the plan changed after it was proposed; propose it again",
            plan.hash()
        )));
    }
    Ok((path, plan))
}
