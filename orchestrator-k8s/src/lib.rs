//! # orchestrator-k8s
//!
//! [`KubeCluster`]: the orchestrator's [`Cluster`] over kube-rs. It takes a [`kube::Client`], so
//! tests drive it through a mock transport (`tower_test::mock::pair`) and assert each request, and
//! embedders pass the client they already have.
//!
//! How each operation maps to the API (the same requests `kubectl` makes):
//! - read: `GET` the Deployment / StatefulSet; a Deployment's revision is its
//!   `deployment.kubernetes.io/revision` annotation;
//! - rollout status: the same `GET`, read for `metadata.generation`, `spec.replicas` (and a
//!   StatefulSet's update strategy) and `status` (observed generation, replica counts,
//!   conditions), as `kubectl rollout status` reads them;
//! - scale: `PATCH .../scale` (merge patch of `spec.replicas`);
//! - set resources: strategic merge patch of the named containers' `resources` (keys to remove
//!   are sent as `null`), with field manager `orchestrator`;
//! - HPA: `GET`, then `POST` (create) or `PUT` (replace at the read `resourceVersion`), `DELETE`;
//! - undo to a revision: `LIST` the ReplicaSets the Deployment owns, take the one whose
//!   `deployment.kubernetes.io/revision` is the recorded one, and `PUT` the Deployment with that
//!   pod template (without `pod-template-hash`), as `kubectl rollout undo --to-revision` does;
//! - a `PUT` (or HPA `POST`) answered `409 Conflict` starts over from the `GET`, up to five
//!   tries: on a live cluster the controllers write status between a read and a replace;
//! - every write honours [`WriteOptions::dry_run`] as `dryRun=All`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet, StatefulSetSpec};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use orchestrator_core::cluster::{
    Cluster, ContainerResources, Hpa, ResourceList, RolloutCondition, RolloutStatus, WorkloadKind,
    WorkloadRef, WorkloadState, WriteOptions,
};
use orchestrator_core::{Error, Result};
use serde_json::json;

/// The field manager of every write.
pub const FIELD_MANAGER: &str = "orchestrator";
/// The annotation holding a Deployment's (and its ReplicaSets') revision.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";

/// A [`Cluster`] over a kube-rs client.
#[derive(Clone)]
pub struct KubeCluster {
    client: kube::Client,
}

impl std::fmt::Debug for KubeCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeCluster").finish_non_exhaustive()
    }
}

impl KubeCluster {
    /// A cluster over `client` (a real one, or one over a mock transport).
    pub fn new(client: kube::Client) -> Self {
        Self { client }
    }

    /// A client from the kubeconfig (`KUBECONFIG` or `~/.kube/config`, or in-cluster config),
    /// with `context` instead of the current one when given.
    pub async fn from_kubeconfig(context: Option<&str>) -> Result<Self> {
        let config = match context {
            Some(context) => kube::Config::from_kubeconfig(&kube::config::KubeConfigOptions {
                context: Some(context.to_owned()),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::invalid_input(format!("kube context {context}: {e}")))?,
            None => kube::Config::infer()
                .await
                .map_err(|e| Error::invalid_input(format!("no usable kubeconfig: {e}")))?,
        };
        let client = kube::Client::try_from(config).map_err(|e| map_err(e, "kube client"))?;
        Ok(Self::new(client))
    }

    fn deployments(&self, ns: &str) -> Api<Deployment> {
        Api::namespaced(self.client.clone(), ns)
    }

    fn statefulsets(&self, ns: &str) -> Api<StatefulSet> {
        Api::namespaced(self.client.clone(), ns)
    }

    fn hpas(&self, ns: &str) -> Api<HorizontalPodAutoscaler> {
        Api::namespaced(self.client.clone(), ns)
    }
}

/// Maps kube's errors to the orchestrator's by meaning.
fn map_err(e: kube::Error, what: &str) -> Error {
    match e {
        kube::Error::Api(status) => match status.code {
            404 => Error::NotFound {
                what: what.to_owned(),
            },
            409 => Error::Conflict {
                message: format!("{what}: {}", status.message),
            },
            401 => Error::Unauthenticated {
                message: format!("{what}: {}", status.message),
            },
            403 => Error::PermissionDenied {
                message: format!("{what}: {}", status.message),
            },
            400 | 422 => Error::invalid_input(format!("{what}: {}", status.message)),
            429 => Error::RateLimited {
                retry_after: None,
                message: format!("{what}: {}", status.message),
            },
            _ => Error::Transient {
                message: format!("{what}: {} ({})", status.message, status.code),
            },
        },
        other => Error::Transient {
            message: format!("{what}: {other}"),
        },
    }
}

/// How many times a read-then-replace is tried when the replace answers `409 Conflict`: someone
/// wrote the object between the read and the replace, on a live cluster usually its controller
/// updating status. Each try reads afresh; there is no wait between them.
const CONFLICT_ATTEMPTS: u32 = 5;

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(status) if status.code == 409)
}

fn post_params(options: WriteOptions) -> PostParams {
    PostParams {
        dry_run: options.dry_run,
        field_manager: Some(FIELD_MANAGER.to_owned()),
    }
}

fn patch_params(options: WriteOptions) -> PatchParams {
    PatchParams {
        dry_run: options.dry_run,
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    }
}

fn containers_of(template: Option<&PodTemplateSpec>) -> Vec<ContainerResources> {
    let list = |map: Option<
        &BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
    >|
     -> ResourceList {
        map.map(|m| m.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect())
            .unwrap_or_default()
    };
    template
        .and_then(|t| t.spec.as_ref())
        .map(|spec| {
            spec.containers
                .iter()
                .map(|c| ContainerResources {
                    name: c.name.clone(),
                    requests: list(c.resources.as_ref().and_then(|r| r.requests.as_ref())),
                    limits: list(c.resources.as_ref().and_then(|r| r.limits.as_ref())),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn revision_of(meta: &ObjectMeta) -> Option<i64> {
    meta.annotations
        .as_ref()?
        .get(REVISION_ANNOTATION)?
        .parse()
        .ok()
}

/// The strategic merge patch setting exactly `wanted` on the named containers: keys the live
/// container has and `wanted` lacks are sent as `null` (removed).
fn resources_patch(
    live: &[ContainerResources],
    wanted: &[ContainerResources],
) -> serde_json::Value {
    let containers: Vec<serde_json::Value> = wanted
        .iter()
        .map(|w| {
            let current = live.iter().find(|l| l.name == w.name);
            let list = |want: &ResourceList, have: Option<&ResourceList>| {
                let mut map = serde_json::Map::new();
                for key in have.into_iter().flat_map(|h| h.keys()) {
                    map.insert(key.clone(), serde_json::Value::Null);
                }
                for (k, v) in want {
                    map.insert(k.clone(), json!(v));
                }
                serde_json::Value::Object(map)
            };
            json!({
                "name": w.name,
                "resources": {
                    "requests": list(&w.requests, current.map(|c| &c.requests)),
                    "limits": list(&w.limits, current.map(|c| &c.limits)),
                }
            })
        })
        .collect();
    json!({ "spec": { "template": { "spec": { "containers": containers } } } })
}

fn hpa_object(hpa: &Hpa, resource_version: Option<String>) -> HorizontalPodAutoscaler {
    HorizontalPodAutoscaler {
        metadata: ObjectMeta {
            name: Some(hpa.name.clone()),
            namespace: Some(hpa.namespace.clone()),
            resource_version,
            ..ObjectMeta::default()
        },
        spec: HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: hpa.target_kind.as_str().to_owned(),
                name: hpa.target_name.clone(),
            },
            min_replicas: Some(hpa.min_replicas),
            max_replicas: hpa.max_replicas,
            metrics: hpa.target_cpu_percent.map(|cpu| {
                vec![MetricSpec {
                    type_: "Resource".into(),
                    resource: Some(ResourceMetricSource {
                        name: "cpu".into(),
                        target: MetricTarget {
                            type_: "Utilization".into(),
                            average_utilization: Some(cpu),
                            ..MetricTarget::default()
                        },
                    }),
                    ..MetricSpec::default()
                }]
            }),
            ..HorizontalPodAutoscalerSpec::default()
        },
        ..HorizontalPodAutoscaler::default()
    }
}

fn hpa_from(object: &HorizontalPodAutoscaler, namespace: &str) -> Option<Hpa> {
    let spec = &object.spec;
    let target_cpu_percent = spec.metrics.iter().flatten().find_map(|m| {
        let r = m.resource.as_ref()?;
        (r.name == "cpu")
            .then_some(r.target.average_utilization)
            .flatten()
    });
    Some(Hpa {
        namespace: namespace.to_owned(),
        name: object.metadata.name.clone().unwrap_or_default(),
        target_kind: WorkloadKind::parse(&spec.scale_target_ref.kind).ok()?,
        target_name: spec.scale_target_ref.name.clone(),
        min_replicas: spec.min_replicas.unwrap_or(1),
        max_replicas: spec.max_replicas,
        target_cpu_percent,
    })
}

/// One status condition (Deployments and StatefulSets spell them alike, as different types).
fn condition(
    kind: Option<String>,
    status: Option<String>,
    reason: Option<String>,
    message: Option<String>,
) -> RolloutCondition {
    RolloutCondition {
        kind: kind.unwrap_or_default(),
        status: status.unwrap_or_default(),
        reason,
        message,
    }
}

/// A Deployment's rollout status: every replica is moved to the current template.
fn deployment_rollout(workload: &WorkloadRef, d: Deployment) -> RolloutStatus {
    let desired = d.spec.replicas.unwrap_or(1);
    let status = d.status.unwrap_or_default();
    RolloutStatus {
        workload: workload.clone(),
        generation: d.metadata.generation.unwrap_or(0),
        observed_generation: status.observed_generation,
        desired_replicas: desired,
        replicas_to_update: desired,
        replicas: status.replicas.unwrap_or(0),
        updated_replicas: status.updated_replicas.unwrap_or(0),
        ready_replicas: status.ready_replicas.unwrap_or(0),
        available_replicas: status.available_replicas.unwrap_or(0),
        conditions: status
            .conditions
            .into_iter()
            .flatten()
            .map(|c| condition(c.type_, c.status, c.reason, c.message))
            .collect(),
    }
}

/// The replicas a StatefulSet's controller updates by itself: all with `RollingUpdate` (the
/// default), the ordinals at or above the partition when partitioned, none with `OnDelete`.
fn statefulset_replicas_to_update(spec: &StatefulSetSpec, desired: i32) -> i32 {
    let strategy = spec.update_strategy.as_ref();
    if strategy.and_then(|s| s.type_.as_deref()) == Some("OnDelete") {
        return 0;
    }
    let partition = strategy
        .and_then(|s| s.rolling_update.as_ref())
        .and_then(|r| r.partition)
        .unwrap_or(0);
    (desired - partition).clamp(0, desired)
}

/// A StatefulSet's rollout status.
fn statefulset_rollout(workload: &WorkloadRef, s: StatefulSet) -> RolloutStatus {
    let desired = s.spec.replicas.unwrap_or(1);
    let status = s.status.unwrap_or_default();
    RolloutStatus {
        workload: workload.clone(),
        generation: s.metadata.generation.unwrap_or(0),
        observed_generation: status.observed_generation,
        desired_replicas: desired,
        replicas_to_update: statefulset_replicas_to_update(&s.spec, desired),
        replicas: status.replicas,
        updated_replicas: status.updated_replicas.unwrap_or(0),
        ready_replicas: status.ready_replicas.unwrap_or(0),
        available_replicas: status.available_replicas.unwrap_or(0),
        conditions: status
            .conditions
            .into_iter()
            .flatten()
            .map(|c| condition(c.type_, c.status, c.reason, c.message))
            .collect(),
    }
}

#[async_trait]
impl Cluster for KubeCluster {
    fn backend(&self) -> &'static str {
        "kube"
    }

    async fn workload(&self, workload: &WorkloadRef) -> Result<Option<WorkloadState>> {
        let what = workload.to_string();
        Ok(match workload.kind {
            WorkloadKind::Deployment => self
                .deployments(&workload.namespace)
                .get_opt(&workload.name)
                .await
                .map_err(|e| map_err(e, &what))?
                .map(|d| WorkloadState {
                    workload: workload.clone(),
                    replicas: d.spec.replicas.unwrap_or(1),
                    containers: containers_of(Some(&d.spec.template)),
                    revision: revision_of(&d.metadata),
                }),
            WorkloadKind::StatefulSet => self
                .statefulsets(&workload.namespace)
                .get_opt(&workload.name)
                .await
                .map_err(|e| map_err(e, &what))?
                .map(|s| WorkloadState {
                    workload: workload.clone(),
                    replicas: s.spec.replicas.unwrap_or(1),
                    containers: containers_of(Some(&s.spec.template)),
                    revision: None,
                }),
        })
    }

    async fn rollout_status(&self, workload: &WorkloadRef) -> Result<Option<RolloutStatus>> {
        let what = workload.to_string();
        Ok(match workload.kind {
            WorkloadKind::Deployment => self
                .deployments(&workload.namespace)
                .get_opt(&workload.name)
                .await
                .map_err(|e| map_err(e, &what))?
                .map(|d| deployment_rollout(workload, d)),
            WorkloadKind::StatefulSet => self
                .statefulsets(&workload.namespace)
                .get_opt(&workload.name)
                .await
                .map_err(|e| map_err(e, &what))?
                .map(|s| statefulset_rollout(workload, s)),
        })
    }

    async fn scale(
        &self,
        workload: &WorkloadRef,
        replicas: i32,
        options: WriteOptions,
    ) -> Result<()> {
        let patch = Patch::Merge(json!({ "spec": { "replicas": replicas } }));
        let params = patch_params(options);
        let what = workload.to_string();
        match workload.kind {
            WorkloadKind::Deployment => self
                .deployments(&workload.namespace)
                .patch_scale(&workload.name, &params, &patch)
                .await
                .map(drop),
            WorkloadKind::StatefulSet => self
                .statefulsets(&workload.namespace)
                .patch_scale(&workload.name, &params, &patch)
                .await
                .map(drop),
        }
        .map_err(|e| map_err(e, &what))
    }

    async fn set_resources(
        &self,
        workload: &WorkloadRef,
        containers: &[ContainerResources],
        options: WriteOptions,
    ) -> Result<()> {
        let live = self
            .workload(workload)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: workload.to_string(),
            })?;
        for wanted in containers {
            if !live.containers.iter().any(|c| c.name == wanted.name) {
                return Err(Error::NotFound {
                    what: format!("container {} of {workload}", wanted.name),
                });
            }
        }
        let patch = Patch::Strategic(resources_patch(&live.containers, containers));
        let params = patch_params(options);
        let what = workload.to_string();
        match workload.kind {
            WorkloadKind::Deployment => self
                .deployments(&workload.namespace)
                .patch(&workload.name, &params, &patch)
                .await
                .map(drop),
            WorkloadKind::StatefulSet => self
                .statefulsets(&workload.namespace)
                .patch(&workload.name, &params, &patch)
                .await
                .map(drop),
        }
        .map_err(|e| map_err(e, &what))
    }

    async fn hpa(&self, namespace: &str, name: &str) -> Result<Option<Hpa>> {
        Ok(self
            .hpas(namespace)
            .get_opt(name)
            .await
            .map_err(|e| map_err(e, &format!("HorizontalPodAutoscaler {name}")))?
            .and_then(|h| hpa_from(&h, namespace)))
    }

    async fn apply_hpa(&self, hpa: &Hpa, options: WriteOptions) -> Result<()> {
        let api = self.hpas(&hpa.namespace);
        let what = format!("HorizontalPodAutoscaler {}", hpa.name);
        let params = post_params(options);
        let mut attempt = 1;
        loop {
            let existing = api
                .get_opt(&hpa.name)
                .await
                .map_err(|e| map_err(e, &what))?;
            let written = match existing {
                Some(live) => api
                    .replace(
                        &hpa.name,
                        &params,
                        &hpa_object(hpa, live.metadata.resource_version),
                    )
                    .await
                    .map(drop),
                None => api.create(&params, &hpa_object(hpa, None)).await.map(drop),
            };
            match written {
                // Written since the read (the HPA controller updates status; someone created
                // it): read again.
                Err(e) if is_conflict(&e) && attempt < CONFLICT_ATTEMPTS => attempt += 1,
                other => return other.map_err(|e| map_err(e, &what)),
            }
        }
    }

    async fn delete_hpa(&self, namespace: &str, name: &str, options: WriteOptions) -> Result<()> {
        let params = DeleteParams {
            dry_run: options.dry_run,
            ..DeleteParams::default()
        };
        self.hpas(namespace)
            .delete(name, &params)
            .await
            .map(drop)
            .map_err(|e| {
                map_err(
                    e,
                    &format!("HorizontalPodAutoscaler {name} (ns: {namespace})"),
                )
            })
    }

    async fn undo_to_revision(
        &self,
        workload: &WorkloadRef,
        revision: i64,
        options: WriteOptions,
    ) -> Result<()> {
        if workload.kind != WorkloadKind::Deployment {
            return Err(Error::invalid_input(format!(
                "{workload}: only Deployments have revisions to undo to"
            )));
        }
        let what = workload.to_string();
        let api = self.deployments(&workload.namespace);
        let mut attempt = 1;
        loop {
            let mut deployment = api
                .get(&workload.name)
                .await
                .map_err(|e| map_err(e, &what))?;
            if revision_of(&deployment.metadata) == Some(revision) {
                return Ok(());
            }
            let uid = deployment.metadata.uid.clone();
            let spec = &mut deployment.spec;
            let selector = spec
                .selector
                .match_labels
                .iter()
                .flatten()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            let sets: Api<ReplicaSet> = Api::namespaced(self.client.clone(), &workload.namespace);
            let list = sets
                .list(&ListParams::default().labels(&selector))
                .await
                .map_err(|e| map_err(e, &format!("ReplicaSets of {what}")))?;
            let owned = |rs: &ReplicaSet| {
                rs.metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|o| Some(&o.uid) == uid.as_ref())
            };
            let source = list
                .items
                .into_iter()
                .filter(owned)
                .find(|rs| revision_of(&rs.metadata) == Some(revision))
                .ok_or_else(|| Error::NotFound {
                    what: format!("revision {revision} of {what} (no ReplicaSet has it)"),
                })?;
            let mut template = source.spec.template.ok_or_else(|| Error::Transient {
                message: format!("the ReplicaSet of revision {revision} of {what} has no template"),
            })?;
            if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
                labels.remove("pod-template-hash");
            }
            spec.template = template;
            match api
                .replace(&workload.name, &post_params(options), &deployment)
                .await
            {
                // The Deployment changed since the read (its controller writes status through
                // a rollout): start over from a fresh read.
                Err(e) if is_conflict(&e) && attempt < CONFLICT_ATTEMPTS => attempt += 1,
                other => return other.map(drop).map_err(|e| map_err(e, &what)),
            }
        }
    }
}

#[cfg(test)]
mod conformance;
#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;
