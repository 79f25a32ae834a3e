//! The cluster changes a plan makes, as journaled steps: one [`Op`] per write, built from the
//! plan (apply) or its recorded before state (rollback), each with a read-only check.

use std::sync::Arc;

use async_trait::async_trait;

use super::{RECORD_AFTER_STEP, read_state};
use crate::cluster::{
    Cluster, ContainerResources, Hpa, WorkloadKind, WorkloadRef, WorkloadState, WriteOptions,
};
use crate::error::{Error, Result};
use crate::scale::{Action, ActionType, BeforeState, BeforeWorkload, ScalePlan};
use crate::step::{Check, Step, StepContext, StepOutput};

/// What to do to the cluster: one primitive each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Op {
    Scale(WorkloadRef, i32),
    Resources(WorkloadRef, Vec<ContainerResources>),
    ApplyHpa(Hpa),
    DeleteHpa { namespace: String, name: String },
    Undo(WorkloadRef, i64, Vec<ContainerResources>),
}

impl Op {
    pub(super) fn id(&self) -> String {
        match self {
            Op::Scale(w, _) => format!("scale:{}/{}", w.kind, w.name),
            Op::Resources(w, _) => format!("resources:{}/{}", w.kind, w.name),
            Op::ApplyHpa(h) => format!("hpa:{}", h.name),
            Op::DeleteHpa { name, .. } => format!("delete-hpa:{name}"),
            Op::Undo(w, _, _) => format!("undo:{}/{}", w.kind, w.name),
        }
    }

    pub(super) fn kubectl(&self) -> String {
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
    pub(super) async fn done(&self, cluster: &dyn Cluster) -> Result<bool> {
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

    pub(super) async fn run(&self, cluster: &dyn Cluster, options: WriteOptions) -> Result<()> {
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

pub(super) async fn live(cluster: &dyn Cluster, w: &WorkloadRef) -> Result<WorkloadState> {
    cluster.workload(w).await?.ok_or_else(|| Error::NotFound {
        what: w.to_string(),
    })
}

#[derive(Debug)]
pub(super) struct ClusterStep {
    pub(super) id: String,
    pub(super) op: Op,
    pub(super) cluster: Arc<dyn Cluster>,
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
pub(super) struct RecordAfterStep {
    pub(super) objects: BeforeState,
    pub(super) cluster: Arc<dyn Cluster>,
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

/// The workloads `ops` change (their replicas or pod template), in order, each once.
pub(super) fn changed_workloads(ops: &[Op]) -> Vec<WorkloadRef> {
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
pub(super) fn target_containers(
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
pub(super) async fn apply_ops(plan: &ScalePlan, cluster: &dyn Cluster) -> Result<Vec<Op>> {
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

pub(super) fn bad_action(action: &Action) -> Error {
    Error::invalid_input(format!(
        "plan action {:?} on {} lacks the fields its type needs",
        action.action, action.name
    ))
}

pub(super) fn recorded<'a>(plan: &'a ScalePlan, w: &WorkloadRef) -> Option<&'a BeforeWorkload> {
    plan.before
        .as_ref()?
        .workloads
        .iter()
        .find(|b| b.workload_ref() == *w)
}

/// The ops of restoring `before` exactly: HPAs first (so no autoscaler fights the restore), then
/// each Deployment's template (undo to its recorded revision), resources, replicas.
pub(super) fn rollback_ops(before: &BeforeState) -> Vec<Op> {
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
