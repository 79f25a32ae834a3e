//! The `infra.scale/v1` `ScalePlan` (the seed's `plan.yaml`) plus the live **before** state and a
//! content hash, and its human renderings (SUMMARY.md, the actions table, preview lines).
//!
//! One concept a file: the document's types here; what one action means to the cluster and to
//! people (`action.rs`); planning a request into a plan (`build.rs`); the live state recorded
//! before it (`before.rs`); the file, its hash and loading it (`file.rs`); the renderings
//! (`render.rs`).

use serde::{Deserialize, Serialize};

use super::request::Quantities;
use crate::cluster::WorkloadKind;

mod action;
mod before;
mod build;
mod file;
mod render;

pub use before::{BeforeHpa, BeforeState, BeforeWorkload};
pub use file::canonical_json;

/// The plan's `apiVersion`.
pub const API_VERSION: &str = "infra.scale/v1";
/// What `from` says when the planner could not read the live replicas.
pub const DETECT: &str = "${detect}";
/// Replica counts above this are a risk.
pub const RISKY_REPLICAS: i32 = 10;

/// A scaling plan, as written to `plan.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScalePlan {
    /// Always [`API_VERSION`].
    pub api_version: String,
    /// Always `ScalePlan`.
    pub kind: String,
    /// When, for which target, and the content hash.
    pub metadata: PlanMetadata,
    /// Where it applies.
    pub context: PlanContext,
    /// `autoscaling: hpa | none`.
    pub assumptions: Assumptions,
    /// What to change, in order.
    pub actions: Vec<Action>,
    /// The live state at plan time; `None` when no cluster was read (`from: ${detect}`).
    #[serde(default)]
    pub before: Option<BeforeState>,
    /// How to undo it by hand (the `scale rollback` command restores `before` exactly).
    #[serde(default)]
    pub rollback_hints: Vec<String>,
    /// Things a reviewer must weigh.
    #[serde(default)]
    pub risks: Vec<String>,
    /// Things worth knowing.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// `metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanMetadata {
    /// RFC 3339, UTC.
    pub created_at: String,
    /// `--target`.
    pub target: String,
    /// `sha256:<hex>` of the plan with this field empty; what an approval is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_hash: Option<String>,
}

/// `context`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanContext {
    /// `--kube-context`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_context: Option<String>,
    /// `--namespace`.
    pub namespace: String,
}

/// `assumptions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assumptions {
    /// `hpa` when the plan applies HPAs, else `none`.
    pub autoscaling: String,
}

/// The three action types of the seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionType {
    /// Set replicas.
    ScaleWorkload,
    /// Set requests and limits of every container.
    UpdateResources,
    /// Create or replace an HPA.
    ApplyHpa,
}

/// `from`: the live replicas, or `${detect}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum From {
    /// Read from the cluster at plan time.
    Replicas(i32),
    /// Not read (no cluster): the seed's `${detect}`.
    Detect(String),
}

/// `{ cpu, mem }` of an action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceValues {
    /// CPU quantity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// Memory quantity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem: Option<String>,
}

impl ResourceValues {
    fn from_quantities(q: &Quantities) -> Option<Self> {
        (q.cpu.is_some() || q.mem.is_some()).then(|| Self {
            cpu: q.cpu.clone(),
            mem: q.mem.clone(),
        })
    }

    /// `cpu=500m,mem=1Gi`.
    pub fn render(&self) -> String {
        let mut parts = Vec::new();
        if let Some(cpu) = &self.cpu {
            parts.push(format!("cpu={cpu}"));
        }
        if let Some(mem) = &self.mem {
            parts.push(format!("mem={mem}"));
        }
        parts.join(",")
    }

    /// `cpu=500m,memory=1Gi`, as kubectl and Kubernetes spell it.
    pub fn render_kubectl(&self) -> String {
        self.render().replace("mem=", "memory=")
    }

    /// Writes these values over a container's resource list.
    pub fn overlay(&self, list: &mut crate::cluster::ResourceList) {
        if let Some(cpu) = &self.cpu {
            list.insert("cpu".into(), cpu.clone());
        }
        if let Some(mem) = &self.mem {
            list.insert("memory".into(), mem.clone());
        }
    }
}

/// `hpa: { min, max, targetCPU }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HpaValues {
    /// `minReplicas`.
    pub min: i32,
    /// `maxReplicas`.
    pub max: i32,
    /// CPU utilisation target, percent.
    #[serde(rename = "targetCPU")]
    pub target_cpu: i32,
}

/// What an HPA scales (beyond the seed, which assumed a Deployment of the same name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleTarget {
    /// Deployment or StatefulSet.
    pub kind: WorkloadKind,
    /// Its name.
    pub name: String,
}

/// One action; the fields present depend on `action`, as in the seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Action {
    /// Which kind of action.
    pub action: ActionType,
    /// `Deployment`, `StatefulSet` or `HorizontalPodAutoscaler`.
    pub kind: String,
    /// The object's name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// scale_workload: the replicas before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<From>,
    /// scale_workload: the replicas wanted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<i32>,
    /// scale_workload: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// update_resources: requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<ResourceValues>,
    /// update_resources: limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<ResourceValues>,
    /// update_resources: the one container changed (`-c`, else the workload's first). Absent only
    /// in plans written before containers were named, which meant every container; such a plan
    /// still applies as approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// apply_hpa: the autoscaler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hpa: Option<HpaValues>,
    /// apply_hpa: the workload it scales.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_target_ref: Option<ScaleTarget>,
}
