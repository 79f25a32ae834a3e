//! Drift: the live state must be the plan's recorded before state, or an apply refuses.

use std::collections::BTreeSet;

use super::ops::target_containers;
use crate::cluster::{Cluster, ContainerResources, Hpa, WorkloadRef};
use crate::error::{Error, Result};
use crate::scale::{Action, ActionType, BeforeState, ScalePlan};

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
                        let keys: BTreeSet<&String> = rec.keys().chain(cur.keys()).collect();
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
            .find_map(Action::hpa_object);
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
pub(super) async fn within_hpa_bounds(
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

pub(super) fn fmt_opt(v: Option<i64>) -> String {
    v.map_or_else(|| "none".into(), |v| v.to_string())
}

pub(super) fn describe_hpa(h: Option<&Hpa>) -> String {
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
