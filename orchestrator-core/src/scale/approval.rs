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

use serde::Serialize;

use super::plan::ScalePlan;
use super::review::{PlanCommand, plan_marker_of};
use crate::error::{Error, Result};
use crate::forge::{
    Comment, Forge, Permission, PullCommit, PullRequest, RepoId, Review, ReviewState,
};

/// The login GitHub Actions' `GITHUB_TOKEN` acts as.
pub const DEFAULT_BOT: &str = "github-actions[bot]";

/// The policy file; a pull request that changes it is flagged and judged under the base's.
pub const POLICY_FILE: &str = "orchestrator.toml";

/// Where proposed plans live; the gate applies the one `plan.yaml` a pull request adds here.
pub const PLAN_ROOT: &str = "ops/plans/infra-scale/";

/// What must hold before a plan is applied, besides `open` (always required).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ApplyRequirements {
    /// A qualified approver's `APPROVED` review at the head commit.
    pub approved: bool,
    /// GitHub reports the pull request as mergeable (`mergeable == true`).
    pub mergeable: bool,
    /// The base branch has not moved past the plan's base (`behind_by == 0`).
    pub undiverged: bool,
}

impl ApplyRequirements {
    /// Only `open`.
    pub const NONE: Self = Self {
        approved: false,
        mergeable: false,
        undiverged: false,
    };

    /// Every requirement: the default.
    pub const ALL: Self = Self {
        approved: true,
        mergeable: true,
        undiverged: true,
    };

    /// Turns on the requirement named `name` (`open` is always on); `false` for an unknown name.
    pub fn enable(&mut self, name: &str) -> bool {
        match name {
            "open" => {}
            "approved" => self.approved = true,
            "mergeable" => self.mergeable = true,
            "undiverged" => self.undiverged = true,
            _ => return false,
        }
        true
    }
}

impl Default for ApplyRequirements {
    fn default() -> Self {
        Self::ALL
    }
}

/// Who may approve, request and unlock, and what an apply requires. Read only from a trusted
/// source (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalPolicy {
    /// The weakest repository permission that may approve or command (default: write).
    pub min_permission: Permission,
    /// When not empty, only these logins may approve or command (on top of the permission).
    pub allowed_users: Vec<String>,
    /// Whether the pull request's author and its commits' authors and committers may approve
    /// (default: no, the two-person rule).
    pub allow_self_approval: bool,
    /// Bot logins: their commands are ignored and their reviews never approve (a workflow token
    /// may be allowed to approve pull requests; a bot is not a second person).
    pub bot_logins: Vec<String>,
    /// What an apply requires besides `open`.
    pub requirements: ApplyRequirements,
    /// Logins who may roll back alone, without a second approver (default: nobody).
    pub emergency_rollback: Vec<String>,
}

impl Default for ApprovalPolicy {
    fn default() -> Self {
        Self {
            min_permission: Permission::Write,
            allowed_users: Vec::new(),
            allow_self_approval: false,
            bot_logins: vec![DEFAULT_BOT.to_owned()],
            requirements: ApplyRequirements::default(),
            emergency_rollback: Vec::new(),
        }
    }
}

impl ApprovalPolicy {
    /// Whether `login` is one of the bot logins.
    pub fn is_bot(&self, login: &str) -> bool {
        self.bot_logins
            .iter()
            .any(|b| b.eq_ignore_ascii_case(login))
    }

    /// Why `user` (whose permission is `permission`, re-read just now) may not command or
    /// approve, or `None`.
    pub fn standing_problem(&self, user: &str, permission: Permission) -> Option<String> {
        if self.is_bot(user) {
            return Some(format!("@{user} is a bot login"));
        }
        if permission < self.min_permission {
            return Some(format!(
                "@{user} has {} permission; {} or above is needed",
                level(permission),
                level(self.min_permission)
            ));
        }
        if !self.allowed_users.is_empty()
            && !self
                .allowed_users
                .iter()
                .any(|u| u.eq_ignore_ascii_case(user))
        {
            return Some(format!(
                "@{user} is not on the approvers list ({})",
                self.allowed_users.join(", ")
            ));
        }
        None
    }
}

/// A permission level as GitHub spells it.
pub(crate) fn level(permission: Permission) -> &'static str {
    match permission {
        Permission::None => "no",
        Permission::Read => "read",
        Permission::Triage => "triage",
        Permission::Write => "write",
        Permission::Maintain => "maintain",
        Permission::Admin => "admin",
    }
}

/// Reads the `[scale]` policy of `orchestrator.toml` at `base_ref` through the forge (the
/// defaults when the base has no such file): the trusted source when no trusted checkout is at
/// hand.
pub async fn policy_at_base(
    forge: &dyn Forge,
    repo: &RepoId,
    base_ref: &str,
) -> Result<ApprovalPolicy> {
    match forge.file_contents(repo, POLICY_FILE, base_ref).await? {
        None => Ok(ApprovalPolicy::default()),
        Some(bytes) => {
            let text = String::from_utf8(bytes).map_err(|_| {
                Error::invalid_input(format!("{repo}@{base_ref}:{POLICY_FILE} is not UTF-8"))
            })?;
            Ok(super::config::ScaleConfig::from_toml(
                &text,
                &format!("{repo}@{base_ref}:{POLICY_FILE}"),
            )?
            .policy)
        }
    }
}

/// Which effect the gate opens for. (Reading one back from a journal approves nothing: only
/// [`verify`] makes an [`ApprovedPlan`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateAction {
    /// Apply the plan.
    Apply,
    /// Restore the plan's recorded before state.
    Rollback,
}

impl GateAction {
    /// The comment command that asks for it.
    pub fn command(self) -> PlanCommand {
        match self {
            GateAction::Apply => PlanCommand::ApplyPlan,
            GateAction::Rollback => PlanCommand::RollbackPlan,
        }
    }
}

/// What to verify.
#[derive(Debug, Clone)]
pub struct GateRequest<'a> {
    /// The repository.
    pub repo: &'a RepoId,
    /// The plan's pull request.
    pub number: u64,
    /// Apply or roll back.
    pub action: GateAction,
    /// Who asks (the commenter, or the token's user for a local `--execute`).
    pub requester: &'a str,
    /// The comment that carried the command, re-read by id; `None` for a local invocation.
    pub command_comment: Option<u64>,
    /// The policy, from a trusted source.
    pub policy: &'a ApprovalPolicy,
}

/// A plan the gate has verified for one action: only [`verify`] makes one, so an embedder cannot
/// hand the executor an unreviewed plan. It records facts as of the verification: verify right
/// before executing, and do not keep one for later (a push or a dismissal after it is not seen).
#[derive(Debug, Clone, Serialize)]
pub struct ApprovedPlan {
    plan: ScalePlan,
    action: GateAction,
    repo: RepoId,
    number: u64,
    head_sha: String,
    plan_path: String,
    requester: String,
    approvers: Vec<String>,
    policy_changed: bool,
}

impl ApprovedPlan {
    /// The plan, as read from the pull request's head.
    pub fn plan(&self) -> &ScalePlan {
        &self.plan
    }

    /// What it is approved for.
    pub fn action(&self) -> GateAction {
        self.action
    }

    /// The repository.
    pub fn repo(&self) -> &RepoId {
        &self.repo
    }

    /// The pull request.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The head commit it was verified at.
    pub fn head_sha(&self) -> &str {
        &self.head_sha
    }

    /// The plan's path in the repository.
    pub fn plan_path(&self) -> &str {
        &self.plan_path
    }

    /// Who asked.
    pub fn requester(&self) -> &str {
        &self.requester
    }

    /// The qualified approvers whose approval counted (empty when no approval was required, or
    /// for an emergency rollback).
    pub fn approvers(&self) -> &[String] {
        &self.approvers
    }

    /// The pull request changes the policy file: it was judged under the base's policy.
    pub fn policy_changed(&self) -> bool {
        self.policy_changed
    }
}

fn denied(message: String) -> Error {
    Error::PermissionDenied { message }
}

fn short(sha: &str) -> &str {
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
