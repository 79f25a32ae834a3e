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
    /// Average CPU utilisation target in percent, if any.
    #[serde(default)]
    pub target_cpu_percent: Option<i32>,
}

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
