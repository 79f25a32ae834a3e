//! The scale flow as workflows: propose, apply and rollback behind the approval gate, and the
//! pull-request comment commands. Each runs its feature's journaled run (`scale::propose`,
//! `scale::review`) inside the driver's session, so the lock and the store are the session's.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use super::super::{Outcome, RunContext, Workflow, Workspace};
use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::forge::RepoId;
use crate::scale::ScalePlan;
use crate::scale::approval::{self, ApprovalPolicy, ApprovedPlan, GateAction, GateRequest};
use crate::scale::execute::{ExecuteReport, RolloutWait, ScaleExecutor};
use crate::scale::propose::{self, Proposal, ProposeRequest};
use crate::scale::review::{self, CommandOutcome, CommentEvent};
use crate::state::StateStore;

pub use crate::scale::review::{COMMAND_RUN_KIND, CommandParams};

/// Connects to the cluster a scale workflow changes, when it is about to (a refused command
/// connects to none).
#[async_trait]
pub trait ClusterConnector: Send + Sync + std::fmt::Debug {
    /// The cluster.
    async fn connect(&self) -> Result<Arc<dyn Cluster>>;

    /// The cluster a comment command on `event`'s pull request changes. One connector serves
    /// every command a service receives, so it is told which pull request this one is on (the
    /// binary's reads the kube context the pull request's plan names; the gate verifies the plan
    /// again before anything changes). By default [`ClusterConnector::connect`].
    async fn connect_for_comment(
        &self,
        workspace: &Workspace,
        event: &CommentEvent,
    ) -> Result<Arc<dyn Cluster>> {
        let _ = (workspace, event);
        self.connect().await
    }
}

/// A cluster already at hand (an in-memory one, a client the embedder built).
#[derive(Debug, Clone)]
pub struct ConnectedCluster(pub Arc<dyn Cluster>);

#[async_trait]
impl ClusterConnector for ConnectedCluster {
    async fn connect(&self) -> Result<Arc<dyn Cluster>> {
        Ok(self.0.clone())
    }
}

/// `orchestrator scale propose`: commit a plan to a branch and open its pull request, journaled
/// so a failed proposal resumes.
#[derive(Debug, Clone)]
pub struct ProposeWorkflow {
    /// The plan to propose.
    pub plan: ScalePlan,
    /// Where and how.
    pub request: ProposeRequest,
}

#[async_trait]
impl Workflow for ProposeWorkflow {
    /// The plan's hash: proposing has nothing to plan beyond the plan file.
    type Plan = String;
    type Report = Proposal;

    fn holder(&self) -> String {
        format!("scale propose {}", self.plan.hash())
    }

    async fn plan(&self, _: &Workspace, _: &dyn StateStore) -> Result<String> {
        Ok(self.plan.hash().to_owned())
    }

    async fn execute(&self, context: &RunContext<'_>, _: String) -> Result<Proposal> {
        let ws = context.workspace;
        // `propose` checks the credentials itself before its first effect.
        propose::propose_with(
            &context.runner(),
            ws.forge().await?,
            ws.vcs()?.clone(),
            &self.plan,
            &self.request,
        )
        .await
    }

    fn outcome(_: &Proposal) -> Outcome {
        Outcome::Succeeded
    }
}

/// `orchestrator scale apply|rollback --execute`: the approval gate, then the change.
///
/// Planning *is* the gate: it reads the pull request's approval from the forge and yields an
/// [`ApprovedPlan`] only for the plan the pull request adds, which must be [`Self::plan`]; the
/// driver plans again under the lock, so the approval is re-read right before the change. There
/// is no way through this workflow to an unapproved change.
#[derive(Debug, Clone)]
pub struct ScaleExecuteWorkflow {
    /// The plan the caller has (its local file): it must be the one the pull request adds.
    pub plan: ScalePlan,
    /// Where the plan file was read from (for messages).
    pub plan_file: PathBuf,
    /// The plan's repository and pull request.
    pub repo: RepoId,
    /// The pull request.
    pub number: u64,
    /// Apply or roll back.
    pub action: GateAction,
    /// Who may approve, from a trusted source.
    pub policy: ApprovalPolicy,
    /// The cluster to change, connected only once the gate has approved.
    pub cluster: Arc<dyn ClusterConnector>,
    /// How long to wait for rollouts (`None`: do not wait).
    pub rollout: Option<RolloutWait>,
    /// Rollback only: overwrite changes made after the apply.
    pub force: bool,
}

/// What an executed scale apply or rollback reports.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleExecution {
    /// What the gate approved.
    pub approved: ApprovedPlan,
    /// What the executor did.
    pub report: ExecuteReport,
}

#[async_trait]
impl Workflow for ScaleExecuteWorkflow {
    type Plan = ApprovedPlan;
    type Report = ScaleExecution;

    fn holder(&self) -> String {
        "scale apply/rollback".to_owned()
    }

    fn validate(&self, _: &Workspace) -> Result<()> {
        crate::scale::execute::check_force(self.action, self.force)
    }

    async fn plan(&self, workspace: &Workspace, _: &dyn StateStore) -> Result<ApprovedPlan> {
        let forge = workspace.forge().await?;
        let requester = forge.current_user().await?;
        let verified = approval::verify(
            forge.as_ref(),
            &GateRequest {
                repo: &self.repo,
                number: self.number,
                action: self.action,
                requester: &requester,
                command_comment: None,
                policy: &self.policy,
            },
        )
        .await?;
        if verified.plan().hash() != self.plan.hash() {
            return Err(Error::PermissionDenied {
                message: format!(
                    "{} is plan {}, but pull request #{} adds {} ({}): --execute applies only \
                     the plan the pull request adds",
                    self.plan_file.display(),
                    self.plan.hash(),
                    self.number,
                    verified.plan_path(),
                    verified.plan().hash()
                ),
            });
        }
        Ok(verified)
    }

    async fn execute(
        &self,
        context: &RunContext<'_>,
        approved: ApprovedPlan,
    ) -> Result<ScaleExecution> {
        let ws = context.workspace;
        ws.announce(&format!(
            "approved by {} for plan {} at {}",
            approved
                .approved_by()
                .unwrap_or_else(|| "policy (no approver needed)".to_owned()),
            approved.plan().hash(),
            approved.head_sha()
        ));
        let executor = ScaleExecutor::new(self.cluster.connect().await?, context.store.clone())
            .with_rollout_wait(self.rollout)
            .with_force(self.force)
            .with_observer(ws.observer().clone())
            .with_cancel(ws.cancel_token().clone());
        // The change, then its record on the pull request, each a journaled step (as for a
        // comment command), so a crash between them posts the record once on resume.
        let report = review::execute_approved(
            &context.runner(),
            ws.forge().await?,
            approved.clone(),
            executor,
        )
        .await?;
        Ok(ScaleExecution { approved, report })
    }

    fn outcome(report: &ScaleExecution) -> Outcome {
        if report.report.ok {
            Outcome::Succeeded
        } else {
            Outcome::Failed
        }
    }
}

/// Where the `[scale]` approval policy is read from. Never the pull request's own files: a
/// change under review must not be able to loosen the rules that review it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicySource {
    /// `orchestrator.toml` on the pull request's base branch, read through the forge.
    BaseBranch,
    /// The workspace's own config: only for a trusted checkout of the default branch.
    Checkout,
}

/// The `[scale]` section that governs pull request `number`: from `source`, with the rollout
/// wait always the workspace's (the wait is not policy: the invoker's config may set it).
pub async fn trusted_scale_config(
    workspace: &Workspace,
    repo: &RepoId,
    number: u64,
    source: PolicySource,
) -> Result<crate::scale::config::ScaleConfig> {
    let local = workspace.config().scale.clone();
    Ok(match source {
        PolicySource::Checkout => local,
        PolicySource::BaseBranch => {
            let forge = workspace.forge().await?;
            let pr = forge.pull_request(repo, number).await?;
            crate::scale::config::ScaleConfig {
                policy: approval::policy_at_base(forge.as_ref(), repo, &pr.base_ref).await?,
                rollout_wait: local.rollout_wait,
            }
        }
    })
}

/// `orchestrator pr-command`: one comment command on a plan pull request (`/apply-plan`,
/// `/rollback-plan`, `/unlock-plan`, `/approve-plan`), acted on under the workspace lock as a
/// journaled run of its own ([`crate::scale::review::run_command`]): the change (itself journaled
/// step by step in its own run), the reply and the label are its steps. Callers normally go
/// through [`crate::scale::review::run_comment_command`], which decides the policy and whether a
/// cluster is needed before running this.
#[derive(Debug, Clone)]
pub struct CommentCommandWorkflow {
    /// The comment event.
    pub event: CommentEvent,
    /// Who may approve, from a trusted source.
    pub policy: ApprovalPolicy,
    /// The cluster `/apply-plan` and `/rollback-plan` change (`None` when the command does not
    /// act on one).
    pub cluster: Option<Arc<dyn ClusterConnector>>,
    /// How long to wait for rollouts.
    pub rollout: Option<RolloutWait>,
}

#[async_trait]
impl Workflow for CommentCommandWorkflow {
    /// The journal key (`owner/name#number`).
    type Plan = String;
    type Report = CommandOutcome;

    fn holder(&self) -> String {
        format!("pr-command {}#{}", self.event.repo, self.event.number)
    }

    async fn plan(&self, _: &Workspace, _: &dyn StateStore) -> Result<String> {
        Ok(format!("{}#{}", self.event.repo, self.event.number))
    }

    async fn execute(&self, context: &RunContext<'_>, _: String) -> Result<CommandOutcome> {
        let ws = context.workspace;
        let executor = match &self.cluster {
            Some(cluster) => Some(
                ScaleExecutor::new(
                    cluster.connect_for_comment(ws, &self.event).await?,
                    context.store.clone(),
                )
                .with_rollout_wait(self.rollout)
                .with_observer(ws.observer().clone())
                .with_cancel(ws.cancel_token().clone()),
            ),
            None => None,
        };
        review::run_command(
            &context.runner(),
            ws.forge().await?,
            &self.event,
            &self.policy,
            executor,
        )
        .await
    }

    fn outcome(report: &CommandOutcome) -> Outcome {
        match report {
            CommandOutcome::Executed { ok: true, .. } | CommandOutcome::Unlocked { .. } => {
                Outcome::Succeeded
            }
            CommandOutcome::Executed { ok: false, .. } => Outcome::Failed,
            _ => Outcome::Unchanged,
        }
    }
}
