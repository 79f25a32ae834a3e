//! Planning: a validated request and the live state become a [`ScalePlan`] with its actions,
//! risks and notes. Pure apart from reading the cluster.

use super::before::read_before;
use super::{
    API_VERSION, Action, ActionType, Assumptions, BeforeState, BeforeWorkload, DETECT, From,
    HpaValues, PlanContext, PlanMetadata, RISKY_REPLICAS, ResourceValues, ScalePlan, ScaleTarget,
};
use crate::cluster::{Cluster, WorkloadKind};
use crate::error::{Error, Result};
use crate::scale::request::ScaleRequest;

impl ScalePlan {
    /// Builds the plan from a validated request and, when given, the live state read from
    /// `cluster`. Pure apart from those reads; `created_at` is passed in so snapshots are stable.
    pub async fn build(
        request: &ScaleRequest,
        cluster: Option<&dyn Cluster>,
        created_at: &str,
    ) -> Result<Self> {
        let before = match cluster {
            Some(cluster) => Some(read_before(request, cluster).await?),
            None => None,
        };
        if let (Some(c), Some(before)) = (&request.container, &before) {
            for r in &request.resources {
                let w = before
                    .workloads
                    .iter()
                    .find(|w| w.name == r.name)
                    .expect("read_before read every --workload");
                if !w.containers.iter().any(|x| &x.name == c) {
                    return Err(Error::invalid_input(format!(
                        "-c {c}: {}/{} has no container {c} (it has {})",
                        w.kind,
                        w.name,
                        w.containers
                            .iter()
                            .map(|x| x.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
        }
        Ok(Self::from_parts(request, before, created_at))
    }

    /// Builds the plan from a request and an already-read before state.
    pub fn from_parts(
        request: &ScaleRequest,
        before: Option<BeforeState>,
        created_at: &str,
    ) -> Self {
        let ns = &request.namespace;
        let mut actions = Vec::new();
        let mut risks = Vec::new();
        let mut notes = Vec::new();
        let mut hints = Vec::new();
        for w in &request.workloads {
            let live = before.as_ref().and_then(|b| {
                b.workloads
                    .iter()
                    .find(|bw| bw.kind == w.kind && bw.name == w.name)
            });
            actions.push(Action {
                action: ActionType::ScaleWorkload,
                kind: w.kind.to_string(),
                name: w.name.clone(),
                namespace: ns.clone(),
                from: Some(live.map_or_else(
                    || From::Detect(DETECT.to_owned()),
                    |l| From::Replicas(l.replicas),
                )),
                to: Some(w.replicas),
                reason: Some("requested_scale".into()),
                requests: None,
                limits: None,
                container: None,
                hpa: None,
                scale_target_ref: None,
            });
            if w.replicas > RISKY_REPLICAS {
                risks.push(format!(
                    "{}/{}: {} replicas requested (above {RISKY_REPLICAS}): check capacity and budget",
                    w.kind, w.name, w.replicas
                ));
            }
            let existing_hpa = before.as_ref().and_then(|b| {
                b.hpas
                    .iter()
                    .find(|h| h.name == w.name)
                    .and_then(|h| h.hpa.as_ref())
            });
            match (request.hpa, existing_hpa) {
                (Some(hpa), _) => notes.push(format!(
                    "{}/{}: its replicas are the autoscaler's once HPA {} applies (min {}, max {}, \
                     cpu {}%): the plan acts on the HPA; {} replicas is only where it starts",
                    w.kind, w.name, w.name, hpa.min, hpa.max, hpa.cpu, w.replicas
                )),
                (None, Some(h)) => notes.push(format!(
                    "{}/{}: managed by HPA {} (min {}, max {}): the autoscaler moves its replicas \
                     within those bounds{}; pass --hpa to change the bounds instead",
                    w.kind,
                    w.name,
                    h.name,
                    h.min_replicas,
                    h.max_replicas,
                    if (h.min_replicas..=h.max_replicas).contains(&w.replicas) {
                        String::new()
                    } else {
                        format!(", so it will move {} replicas back inside them", w.replicas)
                    }
                )),
                (None, None) => {}
            }
            if w.kind == WorkloadKind::Deployment {
                hints.push(match live.and_then(|l| l.revision) {
                    Some(rev) => format!(
                        "kubectl rollout undo deployment/{} -n {ns} --to-revision={rev}",
                        w.name
                    ),
                    None => format!("kubectl rollout undo deployment/{} -n {ns}", w.name),
                });
            }
        }
        for r in &request.resources {
            let w = request
                .workloads
                .iter()
                .find(|w| w.name == r.name)
                .expect("the request validated that --req/--lim name a --workload");
            let live = before.as_ref().and_then(|b| {
                b.workloads
                    .iter()
                    .find(|bw| bw.kind == w.kind && bw.name == w.name)
            });
            let container = request.container.clone().or_else(|| {
                live.and_then(|l| l.containers.first())
                    .map(|c| c.name.clone())
            });
            let action = Action {
                action: ActionType::UpdateResources,
                kind: w.kind.to_string(),
                name: w.name.clone(),
                namespace: ns.clone(),
                from: None,
                to: None,
                reason: None,
                requests: ResourceValues::from_quantities(&r.requests),
                limits: ResourceValues::from_quantities(&r.limits),
                container,
                hpa: None,
                scale_target_ref: None,
            };
            match (&action.container, live) {
                (None, _) => notes.push(format!(
                    "{}/{}: no -c and no cluster read: plan with --cluster to pick its first \
                     container (the plan cannot execute without the before state anyway)",
                    w.kind, w.name
                )),
                (Some(c), Some(live)) if live.containers.len() > 1 => notes.push(format!(
                    "{}/{}: --req/--lim change container {c} only ({} other container(s) keep \
                     their resources; -c NAME picks another)",
                    w.kind,
                    w.name,
                    live.containers.len() - 1
                )),
                _ => {}
            }
            risks.extend(request_above_limit(&action, live));
            actions.push(action);
        }
        if let Some(hpa) = request.hpa {
            for w in &request.workloads {
                actions.push(Action {
                    action: ActionType::ApplyHpa,
                    kind: "HorizontalPodAutoscaler".into(),
                    name: w.name.clone(),
                    namespace: ns.clone(),
                    from: None,
                    to: None,
                    reason: None,
                    requests: None,
                    limits: None,
                    container: None,
                    hpa: Some(HpaValues {
                        min: hpa.min,
                        max: hpa.max,
                        target_cpu: hpa.cpu,
                    }),
                    scale_target_ref: Some(ScaleTarget {
                        kind: w.kind,
                        name: w.name.clone(),
                    }),
                });
                if hpa.max < w.replicas {
                    notes.push(format!(
                        "HPA {}: max {} is below the requested {} replicas of {}/{}; the autoscaler will cap it at {}",
                        w.name, hpa.max, w.replicas, w.kind, w.name, hpa.max
                    ));
                }
                if hpa.min > w.replicas {
                    notes.push(format!(
                        "HPA {}: min {} is above the requested {} replicas of {}/{}; the autoscaler will raise it to {}",
                        w.name, hpa.min, w.replicas, w.kind, w.name, hpa.min
                    ));
                }
                let existed = before.as_ref().and_then(|b| {
                    b.hpas
                        .iter()
                        .find(|h| h.name == w.name)
                        .map(|h| h.hpa.is_some())
                });
                hints.push(match existed {
                    Some(true) => format!(
                        "kubectl -n {ns} apply -f previous-hpa-{}.yaml  # restore the HPA recorded in `before`",
                        w.name
                    ),
                    Some(false) => format!(
                        "kubectl -n {ns} delete hpa {}  # it did not exist before",
                        w.name
                    ),
                    None => "kubectl apply -f previous-hpa.yaml".to_owned(),
                });
            }
        }
        let mut plan = Self {
            api_version: API_VERSION.into(),
            kind: "ScalePlan".into(),
            metadata: PlanMetadata {
                created_at: created_at.to_owned(),
                target: request.target.clone(),
                plan_hash: None,
            },
            context: PlanContext {
                kube_context: request.kube_context.clone(),
                namespace: ns.clone(),
            },
            assumptions: Assumptions {
                autoscaling: if request.hpa.is_some() { "hpa" } else { "none" }.into(),
            },
            actions,
            before,
            rollback_hints: hints,
            risks,
            notes,
        };
        plan.metadata.plan_hash = Some(plan.compute_hash());
        plan
    }
}

/// The risks of one update_resources action: a request above its limit, which Kubernetes rejects
/// (`must be less than or equal to ... limit`), judged on what the container will hold after the
/// plan (its live values with the plan's written over them).
fn request_above_limit(action: &Action, live: Option<&BeforeWorkload>) -> Vec<String> {
    let base = live.and_then(|l| {
        l.containers
            .iter()
            .find(|c| Some(&c.name) == action.container.as_ref())
    });
    let mut requests = base.map(|c| c.requests.clone()).unwrap_or_default();
    let mut limits = base.map(|c| c.limits.clone()).unwrap_or_default();
    if let Some(r) = &action.requests {
        r.overlay(&mut requests);
    }
    if let Some(l) = &action.limits {
        l.overlay(&mut limits);
    }
    let container = action.container.as_deref().unwrap_or("every container");
    let mut risks = Vec::new();
    for key in ["cpu", "memory"] {
        let (Some(req), Some(lim)) = (requests.get(key), limits.get(key)) else {
            continue;
        };
        let milli = crate::cluster::quantity_milli;
        if let (Some(r), Some(l)) = (milli(req), milli(lim))
            && r > l
        {
            risks.push(format!(
                "{}/{} container {container}: {key} request {req} is above its limit {lim}; \
                 Kubernetes rejects a request above its limit",
                action.kind, action.name
            ));
        }
    }
    risks
}
