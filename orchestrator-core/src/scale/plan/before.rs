//! The live state a plan records before it changes anything: what rollback restores exactly
//! and what apply checks for drift.

use serde::{Deserialize, Serialize};

use crate::cluster::{Cluster, ContainerResources, Hpa, WorkloadKind, WorkloadRef, WorkloadState};
use crate::error::{Error, Result};
use crate::scale::request::ScaleRequest;

/// The live state the planner read: what `scale rollback` restores and what `scale apply` checks
/// for drift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BeforeState {
    /// Each planned workload as it was.
    pub workloads: Vec<BeforeWorkload>,
    /// Each HPA the plan applies, as it was (`hpa: null`: it did not exist), and each HPA that
    /// already managed a planned workload.
    pub hpas: Vec<BeforeHpa>,
}

/// A workload before the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BeforeWorkload {
    /// Deployment or StatefulSet.
    pub kind: WorkloadKind,
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// `spec.replicas`.
    pub replicas: i32,
    /// A Deployment's revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
    /// Every container's requests and limits.
    pub containers: Vec<ContainerResources>,
}

impl BeforeWorkload {
    /// The workload it describes.
    pub fn workload_ref(&self) -> WorkloadRef {
        WorkloadRef::new(self.kind, &self.namespace, &self.name)
    }

    pub(super) fn from_state(state: WorkloadState) -> Self {
        Self {
            kind: state.workload.kind,
            name: state.workload.name,
            namespace: state.workload.namespace,
            replicas: state.replicas,
            revision: state.revision,
            containers: state.containers,
        }
    }
}

/// An HPA before the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BeforeHpa {
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// The whole object, or `None` when it did not exist.
    pub hpa: Option<Hpa>,
}

pub(super) async fn read_before(
    request: &ScaleRequest,
    cluster: &dyn Cluster,
) -> Result<BeforeState> {
    let mut workloads = Vec::new();
    for w in &request.workloads {
        let r = WorkloadRef::new(w.kind, &request.namespace, &w.name);
        let state = cluster.workload(&r).await?.ok_or_else(|| {
            Error::invalid_input(format!(
                "--workload {}:{}:{}: {r} does not exist in the cluster",
                w.kind, w.name, w.replicas
            ))
        })?;
        workloads.push(BeforeWorkload::from_state(state));
    }
    let mut hpas = Vec::new();
    for w in &request.workloads {
        // Every HPA of a planned workload: the ones the plan replaces (rollback restores them,
        // or deletes what did not exist), and the ones already managing a workload (drift then
        // allows the replicas the autoscaler chooses within its bounds).
        let hpa = cluster.hpa(&request.namespace, &w.name).await?;
        if request.hpa.is_some() || hpa.is_some() {
            hpas.push(BeforeHpa {
                name: w.name.clone(),
                namespace: request.namespace.clone(),
                hpa,
            });
        }
    }
    Ok(BeforeState { workloads, hpas })
}
