//! The `Cluster` trait: what the scale feature needs from Kubernetes.
//!
//! One primitive per operation, each taking [`WriteOptions`] (server-side dry-run). Backends:
//! [`InMemoryCluster`] here (a real implementation over maps, loadable from a YAML state file for
//! rehearsals), `KubeCluster` in `orchestrator-k8s` (kube-rs). Every backend runs
//! [`crate::conformance::cluster`].

mod memory;
mod quantity;
mod types;

pub use memory::{ClusterState, InMemoryCluster, SimulatedRollout};
pub use quantity::{canonical_quantity, quantity_milli};
pub use types::{
    ContainerResources, DEFAULT_HPA_TARGET_CPU_PERCENT, Hpa, PROGRESS_DEADLINE_EXCEEDED,
    ResourceList, RolloutCondition, RolloutProgress, RolloutStatus, WorkloadKind, WorkloadRef,
    WorkloadState, WriteOptions,
};

use async_trait::async_trait;

use crate::error::Result;

/// A Kubernetes cluster, as far as scaling plans need one.
#[async_trait]
pub trait Cluster: Send + Sync + std::fmt::Debug {
    /// The backend's name, for messages (`kube`, `in-memory`).
    fn backend(&self) -> &'static str;

    /// A Deployment or StatefulSet: replicas, per-container resources, revision; `None` if absent.
    async fn workload(&self, workload: &WorkloadRef) -> Result<Option<WorkloadState>>;

    /// Where the workload's rollout stands (generations, replica counts, conditions), as
    /// `kubectl rollout status` reads it; `None` if absent. Read-only. Required, like every
    /// method here: waiting for a rollout is what makes `scale apply` trustworthy, so a backend
    /// that cannot say fails to compile rather than at the end of an apply.
    async fn rollout_status(&self, workload: &WorkloadRef) -> Result<Option<RolloutStatus>>;

    /// Sets the replica count through the scale subresource (`NotFound` if the workload is absent).
    async fn scale(
        &self,
        workload: &WorkloadRef,
        replicas: i32,
        options: WriteOptions,
    ) -> Result<()>;

    /// Sets the requests and limits of the named containers exactly as given (keys absent from a
    /// list are removed); containers not named are left alone. Quantities are kept as Kubernetes
    /// keeps them ([`canonical_quantity`]: `0.5` reads back as `500m`); one that is not a quantity
    /// is `InvalidInput`. A change of the pod template bumps a Deployment's revision.
    async fn set_resources(
        &self,
        workload: &WorkloadRef,
        containers: &[ContainerResources],
        options: WriteOptions,
    ) -> Result<()>;

    /// An `autoscaling/v2` HorizontalPodAutoscaler, or `None` if absent.
    async fn hpa(&self, namespace: &str, name: &str) -> Result<Option<Hpa>>;

    /// Creates the HPA, or replaces it when one with that name exists.
    async fn apply_hpa(&self, hpa: &Hpa, options: WriteOptions) -> Result<()>;

    /// Deletes an HPA (`NotFound` if absent).
    async fn delete_hpa(&self, namespace: &str, name: &str, options: WriteOptions) -> Result<()>;

    /// Restores a Deployment's pod template from the ReplicaSet of `revision`, as `kubectl rollout
    /// undo --to-revision` does (`NotFound` if no ReplicaSet has that revision). Restoring a
    /// template gives it a new, higher revision number, as in Kubernetes.
    async fn undo_to_revision(
        &self,
        workload: &WorkloadRef,
        revision: i64,
        options: WriteOptions,
    ) -> Result<()>;
}
