//! Applying and rolling back a [`ScalePlan`] against a [`Cluster`].
//!
//! Both are dry-run by default: every write goes to the server with `dryRun=All` and the seed's
//! `preview: kubectl ...` lines describe it for humans. Executing first checks the live state
//! against the plan's recorded `before` (any other value is drift and refuses, naming the field),
//! then runs one journaled [`Step`] per change on the [`Engine`] (each step's `check` reads the
//! cluster, so a re-run after a crash applies only what is missing), then reads every object back.
//!
//! An accepted write is not a running workload: after the changes, one more journaled step per
//! workload changed waits for its rollout ([`wait_for_rollout`], as `kubectl rollout status`
//! does), up to [`RolloutWait::timeout`]. A re-run after a timeout finds the changes journaled and
//! only checks the rollouts again.
//!
//! An executed apply also journals the state it left ([`RECORD_AFTER_STEP`]). Rollback restores
//! `before` only over that state: a field someone changed since the apply is named and the
//! rollback refused unless forced ([`ScaleExecutor::with_force`]), so a rollback never silently
//! undoes a later fix.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use super::approval::{ApprovedPlan, GateAction};
use super::plan::{ActionType, BeforeState, BeforeWorkload, ScalePlan};
use crate::cluster::{
    Cluster, ContainerResources, Hpa, RolloutProgress, RolloutStatus, WorkloadKind, WorkloadRef,
    WriteOptions,
};
use crate::engine::{
    CancelToken, Engine, EngineOptions, Observer, Plan, PlannedStep, SilentObserver, StepStatus,
};
use crate::error::{Error, Result};
use crate::state::{RunId, RunStatus, StateStore};
use crate::step::{Check, Step, StepContext, StepOutput};

mod drift;
mod ops;
mod rollout;
mod state;

#[allow(clippy::wildcard_imports)] // the private helpers of the split-out concepts
use self::{drift::*, ops::*, rollout::*};
pub use drift::check_drift;
pub use rollout::wait_for_rollout;
pub use state::{changed_since_apply, planned_after, read_state};

/// Run kind of journaled applies (key: the plan hash).
pub const APPLY_RUN_KIND: &str = "scale-apply";
/// Run kind of journaled rollbacks (key: the plan hash).
pub const ROLLBACK_RUN_KIND: &str = "scale-rollback";

/// What an apply ([`APPLY_RUN_KIND`]) or rollback ([`ROLLBACK_RUN_KIND`]) run records (see [`crate::workspace::params`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ExecuteParams {
    /// The plan's target.
    pub target: String,
    /// Its namespace.
    pub namespace: String,
    /// Its content hash (also the run's key).
    pub plan_hash: String,
}

impl crate::workspace::params::RunParams for ExecuteParams {
    const KIND: &'static str = APPLY_RUN_KIND;
    const VERSION: u32 = 1;
}

/// The journaled apply step whose output is the state the apply left (an [`BeforeState`]-shaped
/// record of the same objects).
pub const RECORD_AFTER_STEP: &str = "record-after";

/// Default of [`RolloutWait::timeout`]: kubectl's habit for a rollout is minutes, not seconds.
pub const DEFAULT_ROLLOUT_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Default of [`RolloutWait::poll_interval`].
pub const DEFAULT_ROLLOUT_POLL: Duration = Duration::from_secs(2);

/// How long and how often to wait for the rollouts after executing a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RolloutWait {
    /// Deadline of each workload's wait, from its start.
    pub timeout: Duration,
    /// Pause between status reads (never past the deadline: one last read happens at it).
    pub poll_interval: Duration,
}

impl Default for RolloutWait {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_ROLLOUT_TIMEOUT,
            poll_interval: DEFAULT_ROLLOUT_POLL,
        }
    }
}

/// One change (or one rollout wait) and how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionResult {
    /// The step id, e.g. `scale:Deployment/web`, `rollout:Deployment/web`.
    pub id: String,
    /// The equivalent kubectl command.
    pub command: String,
    /// `previewed` (dry-run accepted), `applied`, `already_done`, `verified`, `rolled_out`,
    /// `failed`.
    pub status: String,
    /// Details or the error.
    pub detail: String,
}

/// The seed's JSON summary `{ ok, executed, namespace, results }`, plus the plan hash and run.
#[derive(Debug, Clone, Serialize)]
pub struct ExecuteReport {
    /// Everything succeeded (and verified, when executed).
    pub ok: bool,
    /// False for a dry run.
    pub executed: bool,
    /// The plan's namespace.
    pub namespace: String,
    /// The plan's hash.
    pub plan_hash: String,
    /// The `preview: kubectl ...` lines (without the prefix).
    #[serde(skip)]
    pub previews: Vec<String>,
    /// Per change.
    pub results: Vec<ActionResult>,
    /// Per workload changed, its rollout wait (executed runs that wait only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rollouts: Vec<ActionResult>,
    /// The first failure, one line naming what failed (`None` when `ok`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The journaled run, when executed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<RunId>,
    /// An executed apply: the planned objects as the apply left them (read back after the
    /// changes, journaled as the step [`RECORD_AFTER_STEP`]). Rollback compares the live state
    /// with it and refuses to overwrite what changed since (see [`ScaleExecutor::with_force`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<BeforeState>,
}

impl ExecuteReport {
    /// Marks the report failed, keeping the first failure as its error line.
    fn fail(&mut self, error: String) {
        self.ok = false;
        self.error.get_or_insert(error);
    }
}

/// Applies and rolls back plans; executing takes an [`ApprovedPlan`] only. Embed through
/// [`crate::workspace::Workspace`] with [`crate::workspace::workflows::ScaleExecuteWorkflow`] to
/// get the workspace lock and the gate in one call.
#[derive(Debug, Clone)]
pub struct ScaleExecutor {
    cluster: Arc<dyn Cluster>,
    store: Arc<dyn StateStore>,
    observer: Arc<dyn Observer>,
    cancel: CancelToken,
    rollout: Option<RolloutWait>,
    force: bool,
    applied: Option<BeforeState>,
}

impl ScaleExecutor {
    /// An executor over the given backends; executing waits for rollouts with
    /// [`RolloutWait::default`].
    pub fn new(cluster: Arc<dyn Cluster>, store: Arc<dyn StateStore>) -> Self {
        Self {
            cluster,
            store,
            observer: Arc::new(SilentObserver),
            cancel: CancelToken::new(),
            rollout: Some(RolloutWait::default()),
            force: false,
            applied: None,
        }
    }

    /// Lets an executed rollback overwrite changes made after the apply (`--force`); without it,
    /// such a rollback is refused naming each changed field.
    pub fn with_force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    /// The state the apply left, when the caller has it from elsewhere (the apply's report posted
    /// on the PR). Without it, rollback takes the one journaled by the latest apply of the plan in
    /// this executor's store, else derives it from the plan ([`planned_after`]).
    pub fn with_applied_state(mut self, after: Option<BeforeState>) -> Self {
        self.applied = after;
        self
    }

    /// The state the latest journaled apply of `plan` left, if this store has one.
    pub async fn journaled_after(&self, plan: &ScalePlan) -> Result<Option<BeforeState>> {
        for run in self
            .store
            .runs(Some(APPLY_RUN_KIND), Some(plan.hash()), 20)
            .await?
        {
            let recorded = self
                .store
                .journal(run.id)
                .await?
                .into_iter()
                .rev()
                .find_map(|r| match r.entry {
                    crate::state::JournalEntry::StepSucceeded { step, data, .. }
                        if step == RECORD_AFTER_STEP =>
                    {
                        serde_json::from_value::<BeforeState>(data).ok()
                    }
                    _ => None,
                });
            if recorded.is_some() {
                return Ok(recorded);
            }
        }
        Ok(None)
    }

    /// How to wait for the rollouts after executing; `None` reports success once the cluster
    /// shows every change, without waiting for the pods.
    pub fn with_rollout_wait(mut self, rollout: Option<RolloutWait>) -> Self {
        self.rollout = rollout;
        self
    }

    /// Sends progress to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self
    }

    /// Stops when `cancel` is cancelled.
    pub fn with_cancel(mut self, cancel: CancelToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// Previews the plan: a server-side dry run, nothing changes.
    pub async fn preview(&self, plan: &ScalePlan) -> Result<ExecuteReport> {
        self.apply_plan(plan, false).await
    }

    /// Previews a rollback of the plan: a server-side dry run, nothing changes.
    pub async fn preview_rollback(&self, plan: &ScalePlan) -> Result<ExecuteReport> {
        self.rollback_plan(plan, false).await
    }

    /// Applies a plan the gate approved ([`super::approval::verify`] is the only way to get an
    /// [`ApprovedPlan`]): checks drift first, verifies by reading back and waits for the rollouts.
    pub async fn apply(&self, approved: &ApprovedPlan) -> Result<ExecuteReport> {
        if approved.action() != GateAction::Apply {
            return Err(Error::PermissionDenied {
                message: "this plan was approved for a rollback, not an apply".into(),
            });
        }
        self.apply_plan(approved.plan(), true).await
    }

    /// Restores the before state of a plan the gate approved for a rollback.
    pub async fn rollback(&self, approved: &ApprovedPlan) -> Result<ExecuteReport> {
        if approved.action() != GateAction::Rollback {
            return Err(Error::PermissionDenied {
                message: "this plan was approved for an apply, not a rollback".into(),
            });
        }
        self.rollback_plan(approved.plan(), true).await
    }

    /// Applies the plan: a server-side dry run unless `execute`; executing checks drift first,
    /// verifies by reading back and waits for the rollouts. Crate-private: outside the crate an
    /// execution needs an [`ApprovedPlan`].
    pub(crate) async fn apply_plan(
        &self,
        plan: &ScalePlan,
        execute: bool,
    ) -> Result<ExecuteReport> {
        if execute {
            check_drift(plan, self.cluster.as_ref()).await?;
        }
        let ops = apply_ops(plan, self.cluster.as_ref()).await?;
        let mut report = self.run(plan, ops, execute, APPLY_RUN_KIND).await?;
        // The seed's preview lines describe the actions as the plan states them.
        report.previews = plan
            .actions
            .iter()
            .map(super::plan::Action::kubectl)
            .collect();
        Ok(report)
    }

    /// Restores the plan's recorded before state exactly: a server-side dry run unless `execute`;
    /// executing waits for the rollouts and then checks the whole before state. Crate-private:
    /// outside the crate an execution needs an [`ApprovedPlan`].
    pub(crate) async fn rollback_plan(
        &self,
        plan: &ScalePlan,
        execute: bool,
    ) -> Result<ExecuteReport> {
        let before = plan.before.as_ref().ok_or_else(|| {
            Error::invalid_input(
                "the plan has no recorded before state (planned without a cluster): there is \
                 nothing exact to roll back to",
            )
        })?;
        if execute && !self.force {
            let after = match &self.applied {
                Some(after) => after.clone(),
                None => match self.journaled_after(plan).await? {
                    Some(after) => after,
                    None => planned_after(plan, before),
                },
            };
            let live = read_state(before, self.cluster.as_ref()).await?;
            let changed = changed_since_apply(before, &after, &live);
            if !changed.is_empty() {
                return Err(Error::Conflict {
                    message: format!(
                        "changed since the apply: {}; rollback would overwrite it: look at who \
                         changed it, then pass --force to restore the before state anyway",
                        changed.join("; ")
                    ),
                });
            }
        }
        let ops = rollback_ops(before);
        let mut report = self.run(plan, ops, execute, ROLLBACK_RUN_KIND).await?;
        if execute && report.ok {
            // Verify the whole before state, not only each op.
            if let Err(e) = verify_before(before, self.cluster.as_ref()).await {
                report.fail(format!("verify: {e}"));
                report.results.push(ActionResult {
                    id: "verify".into(),
                    command: "read back".into(),
                    status: "failed".into(),
                    detail: e.to_string(),
                });
            }
        }
        Ok(report)
    }

    async fn run(
        &self,
        plan: &ScalePlan,
        ops: Vec<Op>,
        execute: bool,
        kind: &str,
    ) -> Result<ExecuteReport> {
        let mut report = ExecuteReport {
            ok: true,
            executed: execute,
            namespace: plan.context.namespace.clone(),
            plan_hash: plan.hash().to_owned(),
            previews: ops.iter().map(Op::kubectl).collect(),
            results: Vec::new(),
            rollouts: Vec::new(),
            error: None,
            run_id: None,
            after: None,
        };
        if !execute {
            for op in &ops {
                // What the cluster already shows needs no write (a rollback preview before any
                // apply, a re-run): say so instead of previewing a write that would fail.
                let outcome = match op.done(self.cluster.as_ref()).await {
                    Ok(true) => Ok(true),
                    Ok(false) => op
                        .run(self.cluster.as_ref(), WriteOptions::dry_run())
                        .await
                        .map(|()| false),
                    Err(e) => Err(e),
                };
                let (status, detail) = match outcome {
                    Ok(true) => ("already_done", "the cluster already shows it".to_owned()),
                    Ok(false) => ("previewed", "accepted by a server-side dry run".to_owned()),
                    Err(e) => {
                        report.fail(format!("{}: {e}", op.id()));
                        ("failed", e.to_string())
                    }
                };
                report.results.push(ActionResult {
                    id: op.id(),
                    command: op.kubectl(),
                    status: status.into(),
                    detail,
                });
            }
            return Ok(report);
        }
        let mut steps: Vec<PlannedStep> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for op in &ops {
            let mut id = op.id();
            let mut n = 1;
            while !seen.insert(id.clone()) {
                n += 1;
                id = format!("{}#{n}", op.id());
            }
            let after = steps
                .last()
                .map(|s| vec![s.step.id().to_owned()])
                .unwrap_or_default();
            steps.push(PlannedStep {
                step: Arc::new(ClusterStep {
                    id,
                    op: op.clone(),
                    cluster: self.cluster.clone(),
                }),
                after,
            });
        }
        // An apply records the state it left, once every change is made.
        let record_after = kind == APPLY_RUN_KIND && plan.before.is_some() && !ops.is_empty();
        if record_after {
            let after = steps
                .last()
                .map(|s| vec![s.step.id().to_owned()])
                .unwrap_or_default();
            steps.push(PlannedStep {
                step: Arc::new(RecordAfterStep {
                    objects: plan.before.clone().expect("checked above"),
                    cluster: self.cluster.clone(),
                }),
                after,
            });
        }
        // The changes form one chain; the rollouts are waited for side by side after all of it.
        if let Some(wait) = self.rollout {
            let last_change: Vec<String> = steps
                .last()
                .map(|s| vec![s.step.id().to_owned()])
                .unwrap_or_default();
            for w in changed_workloads(&ops) {
                steps.push(PlannedStep {
                    step: Arc::new(RolloutStep {
                        id: format!("rollout:{}/{}", w.kind, w.name),
                        workload: w,
                        wait,
                        cluster: self.cluster.clone(),
                    }),
                    after: last_change.clone(),
                });
            }
        }
        let extra = usize::from(record_after);
        let waits = steps.len() - ops.len() - extra;
        let engine_plan = Plan::new(steps)?;
        let run = match self.store.resumable(kind, plan.hash()).await? {
            Some(run) => {
                self.store.set_status(run.id, RunStatus::Running).await?;
                run.id
            }
            None => {
                let params = crate::workspace::params::encode(&ExecuteParams {
                    target: plan.metadata.target.clone(),
                    namespace: plan.context.namespace.clone(),
                    plan_hash: plan.hash().to_owned(),
                })?;
                self.store.begin_run(kind, plan.hash(), &params).await?
            }
        };
        report.run_id = Some(run);
        let engine = Engine::new(
            self.store.clone(),
            EngineOptions {
                concurrency: waits.max(1),
                ..EngineOptions::default()
            },
        )
        .with_observer(self.observer.clone())
        .with_cancel(self.cancel.clone());
        let outcome = engine.run(&engine_plan, run).await?;
        let (changes, rest) = outcome.steps.split_at(ops.len());
        let (recorded, rollouts) = rest.split_at(extra);
        if let Some(step) = recorded.first() {
            if step.status.is_done() {
                report.after = match serde_json::from_value(step.data.clone()) {
                    Ok(after) => Some(after),
                    // Journaled by an earlier attempt of this run: the journal holds it.
                    Err(_) => self.journaled_after(plan).await?,
                };
            } else if step.status == StepStatus::Failed {
                report.fail(format!("{}: {}", step.id, step.summary));
            }
        }
        for (step, op) in changes.iter().zip(&ops) {
            let mut status = match step.status {
                StepStatus::Succeeded => "applied",
                StepStatus::AlreadyDone => "already_done",
                _ => "failed",
            }
            .to_owned();
            let mut detail = step.summary.clone();
            if step.status.is_done() {
                match op.done(self.cluster.as_ref()).await {
                    Ok(true) => status = "verified".into(),
                    Ok(false) => {
                        status = "failed".into();
                        detail = "read back: the cluster does not show the change".into();
                    }
                    Err(e) => {
                        status = "failed".into();
                        detail = format!("read back: {e}");
                    }
                }
            }
            if status == "failed" && !matches!(step.status, StepStatus::Blocked { .. }) {
                report.fail(format!("{}: {detail}", step.id));
            }
            report.results.push(ActionResult {
                id: step.id.clone(),
                command: op.kubectl(),
                status,
                detail,
            });
        }
        for step in rollouts {
            let status = if step.status.is_done() {
                "rolled_out"
            } else {
                if step.status == StepStatus::Failed {
                    // The wait's own error names the workload and what was missing.
                    report.fail(step.summary.clone());
                }
                "failed"
            };
            report.rollouts.push(ActionResult {
                id: step.id.clone(),
                command: step.description.clone(),
                status: status.into(),
                detail: step.summary.clone(),
            });
        }
        if outcome.status != RunStatus::Succeeded {
            report.fail(format!(
                "the run ended {}; run the same command again to continue it",
                outcome.status.as_str()
            ));
        }
        Ok(report)
    }
}

/// Checks that the cluster holds exactly `before` (replicas, containers, HPAs), naming the first
/// difference.
pub async fn verify_before(before: &BeforeState, cluster: &dyn Cluster) -> Result<()> {
    for b in &before.workloads {
        let r = b.workload_ref();
        let state = live(cluster, &r).await?;
        if state.replicas != b.replicas {
            return Err(Error::Conflict {
                message: format!(
                    "{r} replicas: expected {}, found {}",
                    b.replicas, state.replicas
                ),
            });
        }
        if state.containers != b.containers {
            return Err(Error::Conflict {
                message: format!(
                    "{r} containers: expected {:?}, found {:?}",
                    b.containers, state.containers
                ),
            });
        }
    }
    for h in &before.hpas {
        let now = cluster.hpa(&h.namespace, &h.name).await?;
        if now != h.hpa {
            return Err(Error::Conflict {
                message: format!(
                    "HPA {}: expected {}, found {}",
                    h.name,
                    describe_hpa(h.hpa.as_ref()),
                    describe_hpa(now.as_ref())
                ),
            });
        }
    }
    Ok(())
}
