//! What the gate hands out: an [`ApprovedPlan`] for one [`GateAction`], which only
//! [`super::verify`] makes (its fields are private to the gate), and the [`GateRequest`] it
//! verifies.

use serde::{Deserialize, Serialize};

use crate::forge::RepoId;
use crate::scale::ScalePlan;
use crate::scale::review::PlanCommand;

use super::ApprovalPolicy;

/// Which effect the gate opens for. (Reading one back from a journal approves nothing: only
/// [`verify`](super::verify) makes an [`ApprovedPlan`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// A plan the gate has verified for one action: only [`verify`](super::verify) makes one, so an
/// embedder cannot hand the executor an unreviewed plan. It records facts as of the
/// verification: verify right before executing, and do not keep one for later (a push or a
/// dismissal after it is not seen).
#[derive(Debug, Clone, Serialize)]
pub struct ApprovedPlan {
    pub(super) plan: ScalePlan,
    pub(super) action: GateAction,
    pub(super) repo: RepoId,
    pub(super) number: u64,
    pub(super) head_sha: String,
    pub(super) plan_path: String,
    pub(super) requester: String,
    pub(super) approvers: Vec<String>,
    pub(super) policy_changed: bool,
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

    /// The approvers as people read them (`@maint, @lead`), or `None` when no approval counted
    /// (none was required, or an emergency rollback).
    pub fn approved_by(&self) -> Option<String> {
        (!self.approvers.is_empty()).then(|| {
            self.approvers
                .iter()
                .map(|a| format!("@{a}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
    }

    /// The pull request changes the policy file: it was judged under the base's policy.
    pub fn policy_changed(&self) -> bool {
        self.policy_changed
    }
}
