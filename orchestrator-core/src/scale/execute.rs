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

/// What to do to the cluster: one primitive each.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Scale(WorkloadRef, i32),
    Resources(WorkloadRef, Vec<ContainerResources>),
    ApplyHpa(Hpa),
    DeleteHpa { namespace: String, name: String },
    Undo(WorkloadRef, i64, Vec<ContainerResources>),
}

impl Op {
    fn id(&self) -> String {
        match self {
            Op::Scale(w, _) => format!("scale:{}/{}", w.kind, w.name),
            Op::Resources(w, _) => format!("resources:{}/{}", w.kind, w.name),
            Op::ApplyHpa(h) => format!("hpa:{}", h.name),
            Op::DeleteHpa { name, .. } => format!("delete-hpa:{name}"),
            Op::Undo(w, _, _) => format!("undo:{}/{}", w.kind, w.name),
        }
    }

    fn kubectl(&self) -> String {
        match self {
            Op::Scale(w, n) => format!(
                "kubectl -n {} scale {}/{} --replicas={n}",
                w.namespace,
                w.kind.kubectl(),
                w.name
            ),
            Op::Resources(w, containers) => containers
                .iter()
                .map(|c| {
                    let list = |l: &crate::cluster::ResourceList| {
                        l.iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(",")
                    };
                    format!(
                        "kubectl -n {} set resources {}/{} -c {} --requests {} --limits {}",
                        w.namespace,
                        w.kind.kubectl(),
                        w.name,
                        c.name,
                        list(&c.requests),
                        list(&c.limits)
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
            Op::ApplyHpa(h) => format!(
                "kubectl -n {} autoscale {} {} --min={} --max={}{}",
                h.namespace,
                h.target_kind.kubectl(),
                h.target_name,
                h.min_replicas,
                h.max_replicas,
                h.target_cpu_percent
                    .map(|c| format!(" --cpu-percent={c}"))
                    .unwrap_or_default()
            ),
            Op::DeleteHpa { namespace, name } => {
                format!("kubectl -n {namespace} delete hpa {name}")
            }
            Op::Undo(w, rev, _) => format!(
                "kubectl -n {} rollout undo {}/{} --to-revision={rev}",
                w.namespace,
                w.kind.kubectl(),
                w.name
            ),
        }
    }

    /// Whether the cluster already shows this op's effect.
    async fn done(&self, cluster: &dyn Cluster) -> Result<bool> {
        Ok(match self {
            Op::Scale(w, n) => live(cluster, w).await?.replicas == *n,
            Op::Resources(w, containers) | Op::Undo(w, _, containers) => {
                let live = live(cluster, w).await?;
                containers
                    .iter()
                    .all(|c| live.containers.iter().any(|l| l == c))
            }
            Op::ApplyHpa(h) => cluster.hpa(&h.namespace, &h.name).await?.as_ref() == Some(h),
            Op::DeleteHpa { namespace, name } => cluster.hpa(namespace, name).await?.is_none(),
        })
    }

    async fn run(&self, cluster: &dyn Cluster, options: WriteOptions) -> Result<()> {
        match self {
            Op::Scale(w, n) => cluster.scale(w, *n, options).await,
            Op::Resources(w, containers) => cluster.set_resources(w, containers, options).await,
            Op::ApplyHpa(h) => cluster.apply_hpa(h, options).await,
            Op::DeleteHpa { namespace, name } => cluster.delete_hpa(namespace, name, options).await,
            Op::Undo(w, rev, containers) => {
                match cluster.undo_to_revision(w, *rev, options).await {
                    // The ReplicaSet of that revision was garbage-collected (revisionHistoryLimit):
                    // the recorded resources are still exact, so set them.
                    Err(Error::NotFound { .. }) => {
                        cluster.set_resources(w, containers, options).await
                    }
                    other => other,
                }
            }
        }
    }
}

async fn live(cluster: &dyn Cluster, w: &WorkloadRef) -> Result<crate::cluster::WorkloadState> {
    cluster.workload(w).await?.ok_or_else(|| Error::NotFound {
        what: w.to_string(),
    })
}

#[derive(Debug)]
struct ClusterStep {
    id: String,
    op: Op,
    cluster: Arc<dyn Cluster>,
}

#[async_trait]
impl Step for ClusterStep {
    fn id(&self) -> &str {
        &self.id
    }

    fn describe(&self) -> String {
        self.op.kubectl()
    }

    async fn check(&self, _: &StepContext) -> Result<Check> {
        Ok(if self.op.done(self.cluster.as_ref()).await? {
            Check::Done("the cluster already shows it".into())
        } else {
            Check::Pending(self.op.kubectl())
        })
    }

    async fn apply(&self, _: &StepContext) -> Result<StepOutput> {
        self.op
            .run(self.cluster.as_ref(), WriteOptions::default())
            .await?;
        Ok(StepOutput::summary(self.op.kubectl()))
    }
}

/// Reads the planned objects once the changes are made: the state the apply left, journaled as
/// this step's output so a later rollback can tell what changed since.
#[derive(Debug)]
struct RecordAfterStep {
    objects: BeforeState,
    cluster: Arc<dyn Cluster>,
}

#[async_trait]
impl Step for RecordAfterStep {
    fn id(&self) -> &str {
        RECORD_AFTER_STEP
    }

    fn describe(&self) -> String {
        "record the state the apply left (what rollback compares against)".into()
    }

    async fn check(&self, _: &StepContext) -> Result<Check> {
        // Reading is cheap and the record is only useful if journaled: always take it.
        Ok(Check::Pending("read the planned objects back".into()))
    }

    async fn apply(&self, _: &StepContext) -> Result<StepOutput> {
        let after = read_state(&self.objects, self.cluster.as_ref()).await?;
        Ok(StepOutput {
            summary: "recorded the state the apply left".into(),
            data: serde_json::to_value(&after).map_err(|e| {
                Error::invalid_input(format!("the after state does not serialize: {e}"))
            })?,
        })
    }
}

/// The live state of the objects `objects` names (same workloads and HPAs).
pub async fn read_state(objects: &BeforeState, cluster: &dyn Cluster) -> Result<BeforeState> {
    let mut workloads = Vec::new();
    for w in &objects.workloads {
        let state = live(cluster, &w.workload_ref()).await?;
        workloads.push(BeforeWorkload {
            kind: w.kind,
            name: w.name.clone(),
            namespace: w.namespace.clone(),
            replicas: state.replicas,
            revision: state.revision,
            containers: state.containers,
        });
    }
    let mut hpas = Vec::new();
    for h in &objects.hpas {
        hpas.push(super::plan::BeforeHpa {
            name: h.name.clone(),
            namespace: h.namespace.clone(),
            hpa: cluster.hpa(&h.namespace, &h.name).await?,
        });
    }
    Ok(BeforeState { workloads, hpas })
}

/// The state an apply of `plan` leaves, derived from the plan alone: `before` with the planned
/// replicas, resources and HPAs. What rollback compares against when no apply of this plan was
/// journaled here (another machine applied it).
pub fn planned_after(plan: &ScalePlan, before: &BeforeState) -> BeforeState {
    let mut after = before.clone();
    for w in &mut after.workloads {
        let r = w.workload_ref();
        if let Some(to) = plan
            .actions
            .iter()
            .find(|a| a.action == ActionType::ScaleWorkload && a.workload().as_ref() == Some(&r))
            .and_then(|a| a.to)
        {
            w.replicas = to;
        }
        w.containers = target_containers(plan, &w.containers, &r);
        // The revision a template change makes is the cluster's to choose: unknown here.
        if w.containers != before_containers(before, &r) {
            w.revision = None;
        }
    }
    for h in &mut after.hpas {
        if let Some(planned) = plan
            .actions
            .iter()
            .filter(|a| a.action == ActionType::ApplyHpa && a.name == h.name)
            .find_map(super::plan::Action::hpa_object)
        {
            h.hpa = Some(planned);
        }
    }
    after
}

fn before_containers(before: &BeforeState, r: &WorkloadRef) -> Vec<ContainerResources> {
    before
        .workloads
        .iter()
        .find(|w| w.workload_ref() == *r)
        .map(|w| w.containers.clone())
        .unwrap_or_default()
}

/// The fields changed since the apply: each one whose live value is neither what the apply left
/// (`after`) nor what rollback restores (`before`, e.g. a rollback half done). Replicas an HPA
/// moved within its bounds (as the apply left it) are the autoscaler's, not a later change.
pub fn changed_since_apply(
    before: &BeforeState,
    after: &BeforeState,
    live: &BeforeState,
) -> Vec<String> {
    let mut changed = Vec::new();
    for ((b, a), l) in before
        .workloads
        .iter()
        .zip(&after.workloads)
        .zip(&live.workloads)
    {
        let r = b.workload_ref();
        let autoscaled = after.hpas.iter().filter_map(|h| h.hpa.as_ref()).any(|h| {
            h.target_kind == r.kind
                && h.target_name == r.name
                && (h.min_replicas..=h.max_replicas).contains(&l.replicas)
        });
        if l.replicas != a.replicas && l.replicas != b.replicas && !autoscaled {
            changed.push(format!(
                "{r} replicas: the apply left {}, now {}",
                a.replicas, l.replicas
            ));
        }
        for lc in &l.containers {
            let ac = a.containers.iter().find(|c| c.name == lc.name);
            let bc = b.containers.iter().find(|c| c.name == lc.name);
            let (Some(ac), Some(bc)) = (ac, bc) else {
                changed.push(format!("{r} container {}: added since the apply", lc.name));
                continue;
            };
            for (field, al, bl, ll) in [
                ("requests", &ac.requests, &bc.requests, &lc.requests),
                ("limits", &ac.limits, &bc.limits, &lc.limits),
            ] {
                let keys: std::collections::BTreeSet<&String> =
                    al.keys().chain(ll.keys()).collect();
                for key in keys {
                    let (av, bv, lv) = (al.get(key), bl.get(key), ll.get(key));
                    if lv != av && lv != bv {
                        let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| "none".into());
                        changed.push(format!(
                            "{r} container {} {field}.{key}: the apply left {}, now {}",
                            lc.name,
                            show(av),
                            show(lv)
                        ));
                    }
                }
            }
        }
    }
    for ((b, a), l) in before.hpas.iter().zip(&after.hpas).zip(&live.hpas) {
        if l.hpa != a.hpa && l.hpa != b.hpa {
            changed.push(format!(
                "HorizontalPodAutoscaler {}: the apply left {}, now {}",
                l.name,
                describe_hpa(a.hpa.as_ref()),
                describe_hpa(l.hpa.as_ref())
            ));
        }
    }
    changed
}

/// Waits for one workload's rollout.
#[derive(Debug)]
struct RolloutStep {
    id: String,
    workload: WorkloadRef,
    wait: RolloutWait,
    cluster: Arc<dyn Cluster>,
}

#[async_trait]
impl Step for RolloutStep {
    fn id(&self) -> &str {
        &self.id
    }

    fn describe(&self) -> String {
        format!(
            "kubectl -n {} rollout status {}/{} --timeout={}s",
            self.workload.namespace,
            self.workload.kind.kubectl(),
            self.workload.name,
            self.wait.timeout.as_secs_f64()
        )
    }

    async fn check(&self, _: &StepContext) -> Result<Check> {
        let status = rollout_status(self.cluster.as_ref(), &self.workload).await?;
        Ok(match status.progress() {
            RolloutProgress::Complete => Check::Done(rolled_out(&status)),
            RolloutProgress::Progressing(missing) | RolloutProgress::Failed(missing) => {
                Check::Pending(missing)
            }
        })
    }

    async fn apply(&self, ctx: &StepContext) -> Result<StepOutput> {
        let status =
            wait_for_rollout(self.cluster.as_ref(), &self.workload, &self.wait, ctx).await?;
        Ok(StepOutput::summary(rolled_out(&status)))
    }
}

fn rolled_out(status: &RolloutStatus) -> String {
    format!(
        "rolled out: {} of {} replicas available",
        status.available_replicas, status.desired_replicas
    )
}

async fn rollout_status(cluster: &dyn Cluster, w: &WorkloadRef) -> Result<RolloutStatus> {
    cluster
        .rollout_status(w)
        .await?
        .ok_or_else(|| Error::NotFound {
            what: w.to_string(),
        })
}

/// Polls the workload's rollout status every [`RolloutWait::poll_interval`] until it is complete
/// ([`RolloutStatus::progress`]). Errors: [`Error::RolloutFailed`] as soon as the controller gives
/// up, [`Error::Timeout`] naming what was still missing once [`RolloutWait::timeout`] has passed,
/// [`Error::Cancelled`] when the run is stopped. Transient read errors are retried until the
/// deadline.
pub async fn wait_for_rollout(
    cluster: &dyn Cluster,
    workload: &WorkloadRef,
    wait: &RolloutWait,
    ctx: &StepContext,
) -> Result<RolloutStatus> {
    let deadline = tokio::time::Instant::now() + wait.timeout;
    let mut missing;
    loop {
        match rollout_status(cluster, workload).await {
            Ok(status) => match status.progress() {
                RolloutProgress::Complete => return Ok(status),
                RolloutProgress::Failed(reason) => {
                    return Err(Error::RolloutFailed {
                        workload: workload.to_string(),
                        reason,
                    });
                }
                RolloutProgress::Progressing(now) => {
                    ctx.progress(format!("waiting: {now}"));
                    missing = now;
                }
            },
            Err(e) if e.is_retriable() => {
                ctx.progress(format!("{e}; retrying"));
                missing = format!("a status read ({e})");
            }
            Err(e) => return Err(e),
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Err(Error::Timeout {
                what: format!("{workload} to roll out"),
                missing: vec![missing],
                waited: wait.timeout,
            });
        }
        ctx.sleep(wait.poll_interval.min(deadline - now)).await?;
    }
}

/// The workloads `ops` change (their replicas or pod template), in order, each once.
fn changed_workloads(ops: &[Op]) -> Vec<WorkloadRef> {
    let mut out: Vec<WorkloadRef> = Vec::new();
    for op in ops {
        if let Op::Scale(w, _) | Op::Resources(w, _) | Op::Undo(w, _, _) = op
            && !out.contains(w)
        {
            out.push(w.clone());
        }
    }
    out
}

/// The resources a plan wants for a workload: its recorded (or live) containers with the plan's
/// requests and limits written over them.
fn target_containers(
    plan: &ScalePlan,
    base: &[ContainerResources],
    w: &WorkloadRef,
) -> Vec<ContainerResources> {
    let mut containers = base.to_vec();
    for action in plan
        .actions
        .iter()
        .filter(|a| a.action == ActionType::UpdateResources && a.workload().as_ref() == Some(w))
    {
        // The named container only; an action without one comes from a plan written before
        // containers were named, which meant (and was approved as) every container.
        for c in containers
            .iter_mut()
            .filter(|c| action.container.as_ref().is_none_or(|n| *n == c.name))
        {
            if let Some(r) = &action.requests {
                r.overlay(&mut c.requests);
            }
            if let Some(l) = &action.limits {
                l.overlay(&mut c.limits);
            }
        }
    }
    containers
}

/// The ops of applying the plan, in plan order.
async fn apply_ops(plan: &ScalePlan, cluster: &dyn Cluster) -> Result<Vec<Op>> {
    let mut ops = Vec::new();
    for action in &plan.actions {
        match action.action {
            ActionType::ScaleWorkload => {
                let w = action.workload().ok_or_else(|| bad_action(action))?;
                ops.push(Op::Scale(w, action.to.ok_or_else(|| bad_action(action))?));
            }
            ActionType::UpdateResources => {
                let w = action.workload().ok_or_else(|| bad_action(action))?;
                let base = match recorded(plan, &w) {
                    Some(b) => b.containers.clone(),
                    None => live(cluster, &w).await?.containers,
                };
                let target = target_containers(plan, &base, &w);
                if !ops
                    .iter()
                    .any(|o| matches!(o, Op::Resources(x, _) if *x == w))
                {
                    ops.push(Op::Resources(w, target));
                }
            }
            ActionType::ApplyHpa => {
                ops.push(Op::ApplyHpa(
                    action.hpa_object().ok_or_else(|| bad_action(action))?,
                ));
            }
        }
    }
    Ok(ops)
}

fn bad_action(action: &super::plan::Action) -> Error {
    Error::invalid_input(format!(
        "plan action {:?} on {} lacks the fields its type needs",
        action.action, action.name
    ))
}

fn recorded<'a>(plan: &'a ScalePlan, w: &WorkloadRef) -> Option<&'a BeforeWorkload> {
    plan.before
        .as_ref()?
        .workloads
        .iter()
        .find(|b| b.workload_ref() == *w)
}

/// The ops of restoring `before` exactly: HPAs first (so no autoscaler fights the restore), then
/// each Deployment's template (undo to its recorded revision), resources, replicas.
fn rollback_ops(before: &BeforeState) -> Vec<Op> {
    let mut ops = Vec::new();
    for h in &before.hpas {
        ops.push(match &h.hpa {
            Some(hpa) => Op::ApplyHpa(hpa.clone()),
            None => Op::DeleteHpa {
                namespace: h.namespace.clone(),
                name: h.name.clone(),
            },
        });
    }
    for w in &before.workloads {
        let r = w.workload_ref();
        if let (WorkloadKind::Deployment, Some(rev)) = (w.kind, w.revision) {
            ops.push(Op::Undo(r.clone(), rev, w.containers.clone()));
        }
        ops.push(Op::Resources(r.clone(), w.containers.clone()));
        ops.push(Op::Scale(r, w.replicas));
    }
    ops
}

/// Refuses when the live state is neither the recorded before state nor already the planned
/// state (a half-applied plan resumes), naming every field that drifted, not only the first.
///
/// A workload's replicas are not drift while an HPA manages it and they lie within its bounds
/// (the HPA as recorded, or as it is now): the autoscaler moves them all the time, and a plan for
/// such a workload acts on the HPA.
pub async fn check_drift(plan: &ScalePlan, cluster: &dyn Cluster) -> Result<()> {
    let before = plan.before.as_ref().ok_or_else(|| {
        Error::invalid_input(
            "the plan has no recorded before state (planned without a cluster): it can be \
             previewed but not executed; run `orchestrator scale plan --cluster ...` again",
        )
    })?;
    let mut drifted: Vec<String> = Vec::new();
    let mut drift = |what: String, recorded: String, live: String, planned: Option<String>| {
        drifted.push(format!(
            "{what}: the plan recorded {recorded}, the cluster has {live}{}",
            planned
                .map(|p| format!(" (planned {p})"))
                .unwrap_or_default()
        ));
    };
    for b in &before.workloads {
        let r = b.workload_ref();
        let Some(state) = cluster.workload(&r).await? else {
            drift(r.to_string(), "it".into(), "none".into(), None);
            continue;
        };
        let planned_replicas = plan
            .actions
            .iter()
            .find(|a| a.action == ActionType::ScaleWorkload && a.workload().as_ref() == Some(&r))
            .and_then(|a| a.to);
        if state.replicas != b.replicas
            && Some(state.replicas) != planned_replicas
            && !within_hpa_bounds(plan, before, cluster, &r, state.replicas).await?
        {
            drift(
                format!("{r} replicas"),
                b.replicas.to_string(),
                state.replicas.to_string(),
                planned_replicas.map(|p| p.to_string()),
            );
        }
        let target = target_containers(plan, &b.containers, &r);
        if state.containers != b.containers && state.containers != target {
            let names = |cs: &[ContainerResources]| cs.iter().map(|c| c.name.clone()).collect();
            let (recorded_names, live_names): (Vec<String>, Vec<String>) =
                (names(&b.containers), names(&state.containers));
            if recorded_names != live_names {
                drift(
                    format!("{r} containers"),
                    format!("{recorded_names:?}"),
                    format!("{live_names:?}"),
                    None,
                );
            } else {
                for ((recorded, now), planned) in
                    b.containers.iter().zip(&state.containers).zip(&target)
                {
                    for (field, rec, cur, plan_list) in [
                        (
                            "requests",
                            &recorded.requests,
                            &now.requests,
                            &planned.requests,
                        ),
                        ("limits", &recorded.limits, &now.limits, &planned.limits),
                    ] {
                        let keys: std::collections::BTreeSet<&String> =
                            rec.keys().chain(cur.keys()).collect();
                        for key in keys {
                            let (a, l, p) = (rec.get(key), cur.get(key), plan_list.get(key));
                            if a != l && l != p {
                                drift(
                                    format!("{r} container {} {field}.{key}", recorded.name),
                                    a.cloned().unwrap_or_else(|| "none".into()),
                                    l.cloned().unwrap_or_else(|| "none".into()),
                                    p.cloned(),
                                );
                            }
                        }
                    }
                }
            }
        }
        if state.containers == b.containers && state.revision != b.revision {
            drift(
                format!("{r} revision"),
                fmt_opt(b.revision),
                fmt_opt(state.revision),
                None,
            );
        }
    }
    for h in &before.hpas {
        let now = cluster.hpa(&h.namespace, &h.name).await?;
        let planned = plan
            .actions
            .iter()
            .filter(|a| a.action == ActionType::ApplyHpa && a.name == h.name)
            .find_map(super::plan::Action::hpa_object);
        if now != h.hpa && now != planned {
            drift(
                format!("HorizontalPodAutoscaler {} (ns: {})", h.name, h.namespace),
                describe_hpa(h.hpa.as_ref()),
                describe_hpa(now.as_ref()),
                planned.as_ref().map(|p| describe_hpa(Some(p))),
            );
        }
    }
    if drifted.is_empty() {
        return Ok(());
    }
    Err(Error::Conflict {
        message: format!(
            "drift: {}; refusing to apply a plan made for another state: plan again",
            drifted.join("; ")
        ),
    })
}

/// Whether `replicas` lies within the bounds of an HPA that manages `w`: as recorded at plan
/// time, or as it is now.
async fn within_hpa_bounds(
    plan: &ScalePlan,
    before: &BeforeState,
    cluster: &dyn Cluster,
    w: &WorkloadRef,
    replicas: i32,
) -> Result<bool> {
    let manages =
        |h: &Hpa| h.namespace == w.namespace && h.target_kind == w.kind && h.target_name == w.name;
    // The planned HPA counts only once it is live (a half-applied plan resuming): before that,
    // no autoscaler can have moved the replicas within its bounds.
    let mut hpas: Vec<Hpa> = before.hpas.iter().filter_map(|h| h.hpa.clone()).collect();
    let names: Vec<String> = before
        .hpas
        .iter()
        .map(|h| h.name.clone())
        .chain(
            plan.actions
                .iter()
                .filter(|a| a.action == ActionType::ApplyHpa)
                .map(|a| a.name.clone()),
        )
        .chain(std::iter::once(w.name.clone()))
        .collect();
    for name in names {
        if let Some(live) = cluster.hpa(&w.namespace, &name).await? {
            hpas.push(live);
        }
    }
    Ok(hpas
        .iter()
        .filter(|h| manages(h))
        .any(|h| (h.min_replicas..=h.max_replicas).contains(&replicas)))
}

fn fmt_opt(v: Option<i64>) -> String {
    v.map_or_else(|| "none".into(), |v| v.to_string())
}

fn describe_hpa(h: Option<&Hpa>) -> String {
    match h {
        None => "no HPA".into(),
        Some(h) => format!(
            "min {} max {} cpu {}",
            h.min_replicas,
            h.max_replicas,
            h.target_cpu_percent
                .map_or_else(|| "-".into(), |c| format!("{c}%"))
        ),
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
    pub fn journaled_after(&self, plan: &ScalePlan) -> Result<Option<BeforeState>> {
        for run in self
            .store
            .runs(Some(APPLY_RUN_KIND), Some(plan.hash()), 20)?
        {
            let recorded =
                self.store
                    .journal(run.id)?
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
                None => match self.journaled_after(plan)? {
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
        let run = match self.store.resumable(kind, plan.hash())? {
            Some(run) => {
                self.store.set_status(run.id, RunStatus::Running)?;
                run.id
            }
            None => {
                let params = crate::workspace::params::encode(&ExecuteParams {
                    target: plan.metadata.target.clone(),
                    namespace: plan.context.namespace.clone(),
                    plan_hash: plan.hash().to_owned(),
                })?;
                self.store.begin_run(kind, plan.hash(), &params)?
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
                    Err(_) => self.journaled_after(plan)?,
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
