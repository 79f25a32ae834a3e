//! Data types shared by every cluster backend.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The workload kinds a plan can scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum WorkloadKind {
    /// `apps/v1` Deployment.
    Deployment,
    /// `apps/v1` StatefulSet.
    StatefulSet,
}

impl WorkloadKind {
    /// The kind as Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
        }
    }

    /// The resource name kubectl uses (`deployment`, `statefulset`).
    pub fn kubectl(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deployment",
            WorkloadKind::StatefulSet => "statefulset",
        }
    }

    /// Parses `Deployment` / `StatefulSet` (case-insensitive; `deploy`, `sts` too).
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "deployment" | "deploy" => Ok(WorkloadKind::Deployment),
            "statefulset" | "sts" => Ok(WorkloadKind::StatefulSet),
            _ => Err(Error::invalid_input(format!(
                "unknown workload kind {s:?}: expected Deployment or StatefulSet"
            ))),
        }
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Names a workload.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WorkloadRef {
    /// Its kind.
    pub kind: WorkloadKind,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl WorkloadRef {
    /// A reference from its parts.
    pub fn new(kind: WorkloadKind, namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            kind,
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for WorkloadRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} (ns: {})", self.kind, self.name, self.namespace)
    }
}

/// A resource list (`cpu`, `memory`, ...) as Kubernetes quantities, e.g. `cpu: 500m`.
pub type ResourceList = BTreeMap<String, String>;

/// One container's requests and limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerResources {
    /// The container name.
    pub name: String,
    /// Requests (absent keys: none set).
    #[serde(default)]
    pub requests: ResourceList,
    /// Limits (absent keys: none set).
    #[serde(default)]
    pub limits: ResourceList,
}

/// What a workload looks like now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadState {
    /// Which workload.
    pub workload: WorkloadRef,
    /// `spec.replicas`.
    pub replicas: i32,
    /// The pod template's containers, in order.
    pub containers: Vec<ContainerResources>,
    /// A Deployment's `deployment.kubernetes.io/revision`; `None` for StatefulSets.
    #[serde(default)]
    pub revision: Option<i64>,
}

/// An `autoscaling/v2` HorizontalPodAutoscaler scaling on CPU utilisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hpa {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// The kind of the workload it scales.
    pub target_kind: WorkloadKind,
    /// The name of the workload it scales.
    pub target_name: String,
    /// `minReplicas`.
    pub min_replicas: i32,
    /// `maxReplicas`.
    pub max_replicas: i32,
    /// Average CPU utilisation target in percent, if any. Read back as `None`: the HPA scales on
    /// other metrics only. Applied as `None`: the HPA has no metrics, which Kubernetes defaults to
    /// [`DEFAULT_HPA_TARGET_CPU_PERCENT`] (what it then reads back with).
    #[serde(default)]
    pub target_cpu_percent: Option<i32>,
}

/// The average CPU utilisation target, in percent, the Kubernetes API server gives an
/// `autoscaling/v2` HPA created without metrics: what an HPA applied with no
/// [`Hpa::target_cpu_percent`] reads back with.
pub const DEFAULT_HPA_TARGET_CPU_PERCENT: i32 = 80;

/// Options of every write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Server-side dry-run (`dryRun=All`): validated by the server, nothing persisted.
    pub dry_run: bool,
}

impl WriteOptions {
    /// A server-side dry run.
    pub fn dry_run() -> Self {
        Self { dry_run: true }
    }
}

/// The reason a Deployment's `Progressing` condition gives when the controller stopped waiting for
/// the rollout (`spec.progressDeadlineSeconds` passed without progress).
pub const PROGRESS_DEADLINE_EXCEEDED: &str = "ProgressDeadlineExceeded";

/// One of a workload's `status.conditions`, as Kubernetes reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutCondition {
    /// The condition type: `Progressing`, `Available`, `ReplicaFailure`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// A machine-readable reason, e.g. `NewReplicaSetAvailable`, `ProgressDeadlineExceeded`.
    #[serde(default)]
    pub reason: Option<String>,
    /// The controller's message for people.
    #[serde(default)]
    pub message: Option<String>,
}

/// Where a workload's rollout stands, as its controller reports it: what `kubectl rollout status`
/// reads. Read-only; judged by [`RolloutStatus::progress`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutStatus {
    /// Which workload.
    pub workload: WorkloadRef,
    /// `metadata.generation`: bumped by the API server on every change of the spec.
    pub generation: i64,
    /// `status.observedGeneration`: the generation the controller has acted on (`None` before it
    /// has acted on any).
    pub observed_generation: Option<i64>,
    /// `spec.replicas`: the replicas wanted.
    pub desired_replicas: i32,
    /// The replicas the controller moves to the current pod template by itself: all of them for a
    /// Deployment or a `RollingUpdate` StatefulSet, those at or above the partition for a
    /// partitioned StatefulSet, none for an `OnDelete` StatefulSet (its pods change only when
    /// someone deletes them).
    pub replicas_to_update: i32,
    /// `status.replicas`: pods that exist, old template or new.
    pub replicas: i32,
    /// `status.updatedReplicas`: pods running the current template.
    pub updated_replicas: i32,
    /// `status.readyReplicas`: pods passing their readiness probe.
    pub ready_replicas: i32,
    /// `status.availableReplicas`: pods ready for at least `minReadySeconds`.
    pub available_replicas: i32,
    /// `status.conditions`.
    #[serde(default)]
    pub conditions: Vec<RolloutCondition>,
}

/// What a [`RolloutStatus`] says about the rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "detail", rename_all = "snake_case")]
pub enum RolloutProgress {
    /// Rolled out: the controller has acted on the current spec, and every replica wanted runs the
    /// current template and is available, with no old ones left.
    Complete,
    /// Still rolling out; says what is missing, e.g. `1 of 3 replicas not available`.
    Progressing(String),
    /// The controller gave up (`Progressing` is `ProgressDeadlineExceeded`); says why and what is
    /// missing.
    Failed(String),
}

impl RolloutStatus {
    /// A status that has converged on `desired` replicas (what a settled workload reports).
    pub fn converged(workload: WorkloadRef, generation: i64, desired: i32) -> Self {
        Self {
            workload,
            generation,
            observed_generation: Some(generation),
            desired_replicas: desired,
            replicas_to_update: desired,
            replicas: desired,
            updated_replicas: desired,
            ready_replicas: desired,
            available_replicas: desired,
            conditions: Vec::new(),
        }
    }

    /// The condition of type `kind`, if reported.
    pub fn condition(&self, kind: &str) -> Option<&RolloutCondition> {
        self.conditions.iter().find(|c| c.kind == kind)
    }

    /// Judges the rollout the way `kubectl rollout status` does: until the controller has observed
    /// the current generation nothing else counts; then a `Progressing` condition with reason
    /// `ProgressDeadlineExceeded` is a failure; otherwise it is complete once the replicas to
    /// update run the current template, no replicas beyond those wanted remain, and every replica
    /// wanted is available.
    pub fn progress(&self) -> RolloutProgress {
        let observed = self.observed_generation.unwrap_or(0);
        if observed < self.generation {
            return RolloutProgress::Progressing(match self.observed_generation {
                Some(observed) => format!(
                    "the controller to observe generation {} (it has seen {observed})",
                    self.generation
                ),
                None => format!("the controller to observe generation {}", self.generation),
            });
        }
        let missing = self.missing();
        let deadline = self
            .condition("Progressing")
            .filter(|c| c.reason.as_deref() == Some(PROGRESS_DEADLINE_EXCEEDED));
        match (deadline, missing) {
            (Some(c), missing) => {
                let mut why = "progress deadline exceeded".to_owned();
                if let Some(message) = c.message.as_deref().filter(|m| !m.is_empty()) {
                    why.push_str(&format!(" ({message})"));
                }
                if let Some(missing) = missing {
                    why.push_str(&format!(": {missing}"));
                }
                RolloutProgress::Failed(why)
            }
            (None, Some(missing)) => RolloutProgress::Progressing(missing),
            (None, None) => RolloutProgress::Complete,
        }
    }

    /// What keeps an observed rollout from being complete, if anything.
    fn missing(&self) -> Option<String> {
        let desired = self.desired_replicas;
        // Each line names what is missing, as "still missing: ..." reads it.
        if self.updated_replicas < self.replicas_to_update {
            Some(format!(
                "{} of {} replicas not updated",
                self.replicas_to_update - self.updated_replicas,
                self.replicas_to_update
            ))
        } else if self.replicas > desired {
            let extra = self.replicas - desired;
            Some(format!(
                "{extra} replica{} pending termination",
                if extra == 1 { "" } else { "s" }
            ))
        } else if self.available_replicas < desired {
            Some(format!(
                "{} of {desired} replicas not available",
                desired - self.available_replicas
            ))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web() -> WorkloadRef {
        WorkloadRef::new(WorkloadKind::Deployment, "assistant", "web")
    }

    fn progressing(reason: &str, message: &str) -> RolloutCondition {
        RolloutCondition {
            kind: "Progressing".into(),
            status: if reason == PROGRESS_DEADLINE_EXCEEDED {
                "False"
            } else {
                "True"
            }
            .into(),
            reason: Some(reason.into()),
            message: Some(message.into()),
        }
    }

    #[test]
    fn a_converged_status_is_complete() {
        let mut status = RolloutStatus::converged(web(), 4, 3);
        assert_eq!(status.progress(), RolloutProgress::Complete);
        status.conditions = vec![progressing(
            "NewReplicaSetAvailable",
            "web-1 has rolled out",
        )];
        assert_eq!(status.progress(), RolloutProgress::Complete);
    }

    #[test]
    fn an_unobserved_generation_is_progressing_whatever_the_counts_say() {
        let mut status = RolloutStatus::converged(web(), 5, 3);
        status.observed_generation = Some(4);
        assert_eq!(
            status.progress(),
            RolloutProgress::Progressing(
                "the controller to observe generation 5 (it has seen 4)".into()
            )
        );
        status.observed_generation = None;
        // A deadline exceeded on the previous generation says nothing about this one.
        status.conditions = vec![progressing(PROGRESS_DEADLINE_EXCEEDED, "old")];
        assert_eq!(
            status.progress(),
            RolloutProgress::Progressing("the controller to observe generation 5".into())
        );
    }

    #[test]
    fn progressing_names_the_first_thing_missing() {
        let mut status = RolloutStatus::converged(web(), 2, 3);
        status.updated_replicas = 1;
        status.replicas = 4;
        status.available_replicas = 2;
        assert_eq!(
            status.progress(),
            RolloutProgress::Progressing("2 of 3 replicas not updated".into())
        );
        status.updated_replicas = 3;
        assert_eq!(
            status.progress(),
            RolloutProgress::Progressing("1 replica pending termination".into())
        );
        status.replicas = 3;
        assert_eq!(
            status.progress(),
            RolloutProgress::Progressing("1 of 3 replicas not available".into())
        );
        status.available_replicas = 3;
        assert_eq!(status.progress(), RolloutProgress::Complete);
    }

    #[test]
    fn scaling_to_zero_is_complete_once_the_pods_are_gone() {
        let mut status = RolloutStatus::converged(web(), 3, 0);
        status.replicas = 2;
        status.available_replicas = 2;
        assert_eq!(
            status.progress(),
            RolloutProgress::Progressing("2 replicas pending termination".into())
        );
        status.replicas = 0;
        assert_eq!(status.progress(), RolloutProgress::Complete);
    }

    #[test]
    fn progress_deadline_exceeded_is_a_failure_naming_what_is_missing() {
        let mut status = RolloutStatus::converged(web(), 2, 3);
        status.available_replicas = 2;
        status.conditions = vec![progressing(
            PROGRESS_DEADLINE_EXCEEDED,
            "ReplicaSet \"web-5d8f\" has timed out progressing.",
        )];
        assert_eq!(
            status.progress(),
            RolloutProgress::Failed(
                "progress deadline exceeded (ReplicaSet \"web-5d8f\" has timed out \
                 progressing.): 1 of 3 replicas not available"
                    .into()
            )
        );
        // Other reasons of the same condition are ordinary progress.
        status.conditions = vec![progressing("ReplicaSetUpdated", "progressing")];
        assert_eq!(
            status.progress(),
            RolloutProgress::Progressing("1 of 3 replicas not available".into())
        );
    }

    #[test]
    fn an_on_delete_statefulset_needs_no_updated_replicas() {
        let sts = WorkloadRef::new(WorkloadKind::StatefulSet, "data", "db");
        let mut status = RolloutStatus::converged(sts, 2, 3);
        status.replicas_to_update = 0;
        status.updated_replicas = 0;
        assert_eq!(status.progress(), RolloutProgress::Complete);
        status.ready_replicas = 2;
        status.available_replicas = 2;
        assert_eq!(
            status.progress(),
            RolloutProgress::Progressing("1 of 3 replicas not available".into())
        );
    }
}
