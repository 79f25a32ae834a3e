//! The gate in front of a scaling plan: [`verify`] re-reads from the forge, at the moment of
//! acting, every fact an apply or a rollback depends on, and only then hands out an
//! [`ApprovedPlan`], the one value [`super::execute::ScaleExecutor::apply`] and
//! [`super::execute::ScaleExecutor::rollback`] accept.
//!
//! Why it is built this way (round 1 trusted marker text in comments, and anyone with write access
//! can edit any comment, the bot's included):
//! - **An approval is a pull-request review** in state `APPROVED` whose `commit_id` is the pull
//!   request's current head, by a qualified approver, not superseded by a later
//!   `CHANGES_REQUESTED` or a dismissal. A review's author, verdict and commit are facts GitHub
//!   holds: they cannot be edited, and a push after approval leaves the review on the old commit.
//! - **Policy comes from a trusted source**: the caller passes the [`ApprovalPolicy`] read from the
//!   base branch ([`policy_at_base`]) or from a trusted checkout, never from the pull request's
//!   head. A pull request that changes the policy file is flagged and still judged under the old
//!   policy.
//! - **Two people**: no approver may be the pull request's author nor the author or committer of
//!   any of its commits; in the nightly flow the author is the bot, so this is what stops the
//!   human who pushed the plan from approving it.
//! - **Apply requirements** (like Atlantis's): `open` always (not closed, not merged), and the
//!   configured ones of `approved`, `mergeable` (GitHub says it merges cleanly) and `undiverged`
//!   (the base branch has not moved past the commit the plan was made on).
//! - **The plan is the one the pull request adds**, read through the forge at the head commit,
//!   exactly one `plan.yaml` under `ops/plans/infra-scale/`, whose hash matches the pull request
//!   description's marker; a plan file from anywhere else cannot ride on the approval.
//! - **Rollback needs two people too**: the requester and another qualified approver who also
//!   commented `/rollback-plan` (re-read by id: authored by them, unedited, exactly the command),
//!   unless the requester is on the `emergency_rollback` list.
//! - **Commands are re-read**: the comment that carried a command is fetched by id and must be
//!   authored by the requester, unedited, and say exactly the command.
//!
//! One concept a file: the policy and where it is read from (`policy.rs`); the facts the gate
//! checks, each a pure function of what the forge said (`evidence.rs`); what the gate hands out
//! (`approved.rs`); and [`verify`], the gate itself, here.

use crate::error::Result;
use crate::forge::{Forge, RepoId};

mod approved;
mod evidence;
mod policy;

pub use approved::{ApprovedPlan, GateAction, GateRequest};
pub use evidence::{
    Authorship, approvals_at_head, comment_problem, plan_of_pull_request, plan_path_of,
};
use evidence::{denied, short};
pub(crate) use policy::level;
pub use policy::{ApplyRequirements, ApprovalPolicy, policy_at_base};

/// The login GitHub Actions' `GITHUB_TOKEN` acts as.
pub const DEFAULT_BOT: &str = "github-actions[bot]";

/// The policy file; a pull request that changes it is flagged and judged under the base's.
pub const POLICY_FILE: &str = "orchestrator.toml";

/// Where proposed plans live; the gate applies the one `plan.yaml` a pull request adds here.
pub const PLAN_ROOT: &str = "ops/plans/infra-scale/";

/// Verifies everything `request` depends on, re-read from the forge now, and returns the plan
/// approved for that action. Every refusal is `PermissionDenied` with one message naming each
/// problem found (the requester's, the pull request's, each reviewer's).
pub async fn verify(forge: &dyn Forge, request: &GateRequest<'_>) -> Result<ApprovedPlan> {
    let (repo, number, policy) = (request.repo, request.number, request.policy);
    let command = request.action.command();
    let pr = forge.pull_request(repo, number).await?;

    // The requester, and the comment that carried the command.
    let permission = forge.permission(repo, request.requester).await?;
    if let Some(problem) = policy.standing_problem(request.requester, permission) {
        return Err(denied(problem));
    }
    if let Some(id) = request.command_comment {
        let comment = forge.comment(repo, id).await?;
        if let Some(problem) = comment_problem(&comment, request.requester, command) {
            return Err(denied(problem));
        }
    }

    // The pull request's state.
    if request.action == GateAction::Apply {
        if pr.merged {
            return Err(denied(format!(
                "pull request #{number} is merged: a plan is applied before it merges, from an \
                 open pull request"
            )));
        }
        if pr.state != "open" {
            return Err(denied(format!(
                "pull request #{number} is {}: only an open pull request's plan is applied",
                pr.state
            )));
        }
    }

    let files = forge.list_pull_files(repo, number).await?;
    let policy_changed = files.iter().any(|f| f == POLICY_FILE);
    let (plan_path, plan) = plan_of_pull_request(forge, repo, &pr, &files).await?;

    let mut problems = Vec::new();
    if request.action == GateAction::Apply {
        if policy.requirements.mergeable {
            match pr.mergeable {
                Some(true) => {}
                Some(false) => problems.push(format!(
                    "pull request #{number} is not mergeable (conflicts or failing required checks)"
                )),
                None => problems.push(format!(
                    "GitHub has not yet computed whether pull request #{number} is mergeable; try \
                     again in a moment"
                )),
            }
        }
        if policy.requirements.undiverged {
            let comparison = forge
                .compare_commits(repo, &pr.base_ref, &pr.head_sha)
                .await?;
            if comparison.behind_by > 0 {
                problems.push(format!(
                    "{} has moved {} commit(s) past this plan's base: rebase and plan again",
                    pr.base_ref, comparison.behind_by
                ));
            }
        }
    }

    let commits = forge.list_pull_commits(repo, number).await?;
    let authorship = Authorship {
        pull_request: &pr,
        commits: &commits,
    };
    let approvers = match request.action {
        GateAction::Apply if policy.requirements.approved => {
            let reviews = forge.list_reviews(repo, number).await?;
            let (candidates, mut reasons) = approvals_at_head(&reviews, &pr.head_sha);
            let qualified =
                qualified(forge, repo, policy, &authorship, candidates, &mut reasons).await?;
            if qualified.is_empty() {
                problems.push(format!(
                    "no qualified approval at the head {}: approve with a pull-request review \
                     (\"Approve\") by someone with {} access who neither opened nor pushed to \
                     this pull request{}",
                    short(&pr.head_sha),
                    level(policy.min_permission),
                    if reasons.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", reasons.join("; "))
                    }
                ));
            }
            qualified
        }
        GateAction::Apply => Vec::new(),
        GateAction::Rollback => {
            if policy
                .emergency_rollback
                .iter()
                .any(|l| l.eq_ignore_ascii_case(request.requester))
            {
                Vec::new()
            } else {
                let comments = forge.list_comments(repo, number).await?;
                let mut reasons = Vec::new();
                let mut seconds = Vec::new();
                for c in &comments {
                    if c.author.eq_ignore_ascii_case(request.requester)
                        || super::review::parse_command(&c.body) != Some(command)
                        || seconds
                            .iter()
                            .any(|s: &String| s.eq_ignore_ascii_case(&c.author))
                    {
                        continue;
                    }
                    // Re-read by id: the list is what we act on, but be exact about the facts.
                    let reread = forge.comment(repo, c.id).await?;
                    match comment_problem(&reread, &c.author, command) {
                        Some(problem) => reasons.push(problem),
                        None => seconds.push(c.author.clone()),
                    }
                }
                let qualified =
                    qualified(forge, repo, policy, &authorship, seconds, &mut reasons).await?;
                if qualified.is_empty() {
                    problems.push(format!(
                        "a rollback needs a second person: another qualified approver must also \
                         comment /{} (unedited){}",
                        command.as_str(),
                        if reasons.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", reasons.join("; "))
                        }
                    ));
                }
                qualified
            }
        }
    };
    if !problems.is_empty() {
        let flag = if policy_changed {
            format!(" [this pull request changes {POLICY_FILE}; it was judged under the base's]")
        } else {
            String::new()
        };
        return Err(denied(format!("{}{flag}", problems.join("; "))));
    }
    Ok(ApprovedPlan {
        plan,
        action: request.action,
        repo: repo.clone(),
        number,
        head_sha: pr.head_sha,
        plan_path,
        requester: request.requester.to_owned(),
        approvers,
        policy_changed,
    })
}

/// The `candidates` who pass the two-person rule and the policy (permission re-read now); the
/// others' reasons are appended to `reasons`.
async fn qualified(
    forge: &dyn Forge,
    repo: &RepoId,
    policy: &ApprovalPolicy,
    authorship: &Authorship<'_>,
    candidates: Vec<String>,
    reasons: &mut Vec<String>,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for user in candidates {
        if !policy.allow_self_approval
            && let Some(why) = authorship.involvement(&user)
        {
            reasons.push(format!("{why}, so cannot approve it"));
            continue;
        }
        let permission = forge.permission(repo, &user).await?;
        match policy.standing_problem(&user, permission) {
            Some(problem) => reasons.push(problem),
            None => out.push(user),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
