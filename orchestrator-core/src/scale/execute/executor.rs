//! [`ScaleExecutor`]: previews, applies and rolls back a plan, journaled on the shared run
//! scaffolding ([`JournaledRunner`]), so a scale change opens, resumes and runs its journal the
//! way a release or a publish does.

use std::collections::HashSet;
use std::sync::Arc;

use super::ops::{ClusterStep, Op, RecordAfterStep, apply_ops, changed_workloads, rollback_ops};
use super::report::{ActionResult, ExecuteReport};
use super::rollout::RolloutStep;
use super::{
    APPLY_RUN_KIND, ExecuteParams, RECORD_AFTER_STEP, RollbackParams, RolloutWait,
    changed_since_apply, check_drift, planned_after, read_state, verify_before,
};
use crate::cluster::{Cluster, WriteOptions};
use crate::engine::{
    CancelToken, EngineOptions, Observer, Plan, PlannedStep, RunReport, StepStatus,
};
use crate::error::{Error, Result};
use crate::scale::approval::{ApprovedPlan, GateAction};
use crate::scale::{Action, BeforeState, ScalePlan};
use crate::state::{RunStatus, StateStore};
use crate::workspace::params::RunParams;
use crate::workspace::{JournaledRunner, RunStart, journaled_output};

/// Applies and rolls back plans; executing takes an [`ApprovedPlan`] only. Embed through
/// [`crate::workspace::Workspace`] with [`crate::workspace::workflows::ScaleExecuteWorkflow`] to
/// get the workspace lock and the gate in one call.
#[derive(Debug, Clone)]
pub struct ScaleExecutor {
    cluster: Arc<dyn Cluster>,
    runner: JournaledRunner,
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
            runner: JournaledRunner::new(store),
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

    /// How to wait for the rollouts after executing; `None` reports success once the cluster
    /// shows every change, without waiting for the pods.
    pub fn with_rollout_wait(mut self, rollout: Option<RolloutWait>) -> Self {
        self.rollout = rollout;
        self
    }

    /// Sends progress to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.runner.observer = observer;
        self
    }

    /// Stops when `cancel` is cancelled.
    pub fn with_cancel(mut self, cancel: CancelToken) -> Self {
        self.runner.cancel = cancel;
        self
    }

    /// The store this executor journals in.
    pub fn store(&self) -> &Arc<dyn StateStore> {
        self.runner.store()
    }

    /// The state the latest journaled apply of `plan` left, if this store has one.
    pub async fn journaled_after(&self, plan: &ScalePlan) -> Result<Option<BeforeState>> {
        let store = self.runner.store();
        for run in store
            .runs(Some(APPLY_RUN_KIND), Some(plan.hash()), 20)
            .await?
        {
            let recorded = journaled_output(store.as_ref(), run.id, RECORD_AFTER_STEP)
                .await?
                .and_then(|data| serde_json::from_value::<BeforeState>(data).ok());
            if recorded.is_some() {
                return Ok(recorded);
            }
        }
        Ok(None)
    }

    /// Previews the plan: a server-side dry run, nothing changes.
    pub async fn preview(&self, plan: &ScalePlan) -> Result<ExecuteReport> {
        self.apply_plan(plan, false).await
    }

    /// Previews a rollback of the plan: a server-side dry run, nothing changes.
    pub async fn preview_rollback(&self, plan: &ScalePlan) -> Result<ExecuteReport> {
        self.rollback_plan(plan, false).await
    }

    /// Applies a plan the gate approved ([`crate::scale::approval::verify`] is the only way to
    /// get an [`ApprovedPlan`]): checks drift first, verifies by reading back and waits for the
    /// rollouts.
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
        let mut report = if execute {
            self.execute(plan, &ops, GateAction::Apply).await?
        } else {
            self.dry_run(plan, &ops).await
        };
        // The seed's preview lines describe the actions as the plan states them.
        report.previews = plan.actions.iter().map(Action::kubectl).collect();
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
        if !execute {
            return Ok(self.dry_run(plan, &rollback_ops(before)).await);
        }
        if !self.force {
            self.refuse_changes_since_apply(plan, before).await?;
        }
        let mut report = self
            .execute(plan, &rollback_ops(before), GateAction::Rollback)
            .await?;
        if report.ok {
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

    /// Refuses a rollback over fields changed since the apply (see [`changed_since_apply`]).
    async fn refuse_changes_since_apply(
        &self,
        plan: &ScalePlan,
        before: &BeforeState,
    ) -> Result<()> {
        let after = match &self.applied {
            Some(after) => after.clone(),
            None => match self.journaled_after(plan).await? {
                Some(after) => after,
                None => planned_after(plan, before),
            },
        };
        let live = read_state(before, self.cluster.as_ref()).await?;
        let changed = changed_since_apply(before, &after, &live);
        if changed.is_empty() {
            return Ok(());
        }
        Err(Error::Conflict {
            message: format!(
                "changed since the apply: {}; rollback would overwrite it: look at who changed \
                 it, then pass --force to restore the before state anyway",
                changed.join("; ")
            ),
        })
    }

    /// The server-side dry run of `ops`: nothing is journaled or changed.
    async fn dry_run(&self, plan: &ScalePlan, ops: &[Op]) -> ExecuteReport {
        let mut report = ExecuteReport::new(&plan.context.namespace, plan.hash(), false);
        report.previews = ops.iter().map(Op::kubectl).collect();
        for op in ops {
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
        report
    }

    /// Runs `ops` as journaled steps (then, for an apply, the record of the state it left, and
    /// the rollout waits) in the unfinished run of this plan and direction, or a new one.
    async fn execute(
        &self,
        plan: &ScalePlan,
        ops: &[Op],
        action: GateAction,
    ) -> Result<ExecuteReport> {
        let mut steps: Vec<PlannedStep> = Vec::new();
        let mut seen = HashSet::new();
        for op in ops {
            let mut id = op.id();
            let mut n = 1;
            while !seen.insert(id.clone()) {
                n += 1;
                id = format!("{}#{n}", op.id());
            }
            let after = last_step(&steps);
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
        let record_after = match (&plan.before, action) {
            (Some(before), GateAction::Apply) if !ops.is_empty() => Some(before.clone()),
            _ => None,
        };
        let extra = usize::from(record_after.is_some());
        if let Some(objects) = record_after {
            let after = last_step(&steps);
            steps.push(PlannedStep {
                step: Arc::new(RecordAfterStep {
                    objects,
                    cluster: self.cluster.clone(),
                }),
                after,
            });
        }
        // The changes form one chain; the rollouts are waited for side by side after all of it.
        if let Some(wait) = self.rollout {
            let last_change = last_step(&steps);
            for w in changed_workloads(ops) {
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
        let waits = steps.len() - ops.len() - extra;
        let engine_plan = Plan::new(steps)?;
        let run = self.runner.open(self.start(plan, action).await?).await?;
        let options = EngineOptions {
            concurrency: waits.max(1),
            ..EngineOptions::default()
        };
        let outcome = self.runner.run(&engine_plan, run, options).await?;
        let mut report = ExecuteReport::new(&plan.context.namespace, plan.hash(), true);
        report.previews = ops.iter().map(Op::kubectl).collect();
        report.run_id = Some(run);
        self.read_outcome(plan, ops, extra, &outcome, &mut report)
            .await?;
        Ok(report)
    }

    /// The unfinished run of this plan in this direction (its journal says what is done), else
    /// a new one.
    async fn start(&self, plan: &ScalePlan, action: GateAction) -> Result<RunStart> {
        let params = ExecuteParams {
            target: plan.metadata.target.clone(),
            namespace: plan.context.namespace.clone(),
            plan_hash: plan.hash().to_owned(),
        };
        match action {
            GateAction::Apply => self.resume_or_new(plan.hash(), params).await,
            GateAction::Rollback => {
                self.resume_or_new(plan.hash(), RollbackParams(params))
                    .await
            }
        }
    }

    async fn resume_or_new<P: RunParams>(&self, key: &str, params: P) -> Result<RunStart> {
        let unfinished = self.runner.store().resumable(P::KIND, key).await?;
        RunStart::resume_or_new(unfinished.map(|r| r.id), key, || params)
    }

    /// Fills `report` from the engine's: each change read back from the cluster, the recorded
    /// after state, each rollout; the first failure becomes the report's error.
    async fn read_outcome(
        &self,
        plan: &ScalePlan,
        ops: &[Op],
        extra: usize,
        outcome: &RunReport,
        report: &mut ExecuteReport,
    ) -> Result<()> {
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
        for (step, op) in changes.iter().zip(ops) {
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
        Ok(())
    }
}

/// The id of the last step planned so far, as the `after` of the next one in a chain.
fn last_step(steps: &[PlannedStep]) -> Vec<String> {
    steps
        .last()
        .map(|s| vec![s.step.id().to_owned()])
        .unwrap_or_default()
}
