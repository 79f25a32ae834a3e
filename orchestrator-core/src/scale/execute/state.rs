//! The live state of a plan's objects, what an apply leaves, and what changed since.

use std::collections::BTreeSet;

use super::drift::describe_hpa;
use super::ops::{live, target_containers};
use crate::cluster::{Cluster, ContainerResources, WorkloadRef};
use crate::error::{Error, Result};
use crate::scale::{Action, ActionType, BeforeHpa, BeforeState, BeforeWorkload, ScalePlan};

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
        hpas.push(BeforeHpa {
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
            .find_map(Action::hpa_object)
        {
            h.hpa = Some(planned);
        }
    }
    after
}

pub(super) fn before_containers(before: &BeforeState, r: &WorkloadRef) -> Vec<ContainerResources> {
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
                let keys: BTreeSet<&String> = al.keys().chain(ll.keys()).collect();
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
