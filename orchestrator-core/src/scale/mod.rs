//! `orchestrator scale` and `pr-command`: Kubernetes scaling plans reviewed in a pull request,
//! approved by comment, applied and rolled back exactly.
//!
//! The flow (seed 003, made safe):
//! 1. [`ScaleFlags::parse`] validates the seed's flags; [`ScalePlan::build`] reads the live
//!    objects through a [`crate::cluster::Cluster`] and records their **before** state and a
//!    content hash in the plan (`plan.yaml`, `SUMMARY.md`).
//! 2. [`propose::propose`] commits the plan to a branch and opens a draft PR labelled
//!    `needs-approval` with a review checklist.
//! 3. [`review::handle_comment`] handles `/approve-plan` and `/rollback-plan`: the commenter needs
//!    write permission (or the allow-list), the PR author cannot approve their own plan (unless
//!    allowed), and the approval is bound to the plan hash and the PR head SHA in a marker on the
//!    bot's reply, so a later push makes it stale.
//! 4. [`review::verify_gate`] checks label + approval before [`execute::ScaleExecutor::apply`] (drift-checked
//!    against `before`, journaled, verified by reading back) or [`execute::ScaleExecutor::rollback`] (restores
//!    `before` exactly, including an HPA that existed before).

pub mod config;
pub mod execute;
mod plan;
pub mod propose;
mod request;
pub mod review;

pub use plan::{
    API_VERSION, Action, ActionType, Assumptions, BeforeHpa, BeforeState, BeforeWorkload, DETECT,
    From, HpaValues, PlanContext, PlanMetadata, RISKY_REPLICAS, ResourceValues, ScalePlan,
    ScaleTarget, canonical_json,
};
pub use request::{
    HpaSpec, Quantities, ResourceSpec, ScaleFlags, ScaleRequest, WorkloadSpec, is_cpu, is_memory,
};

/// Where proposed plans live in the repository: `ops/plans/infra-scale/<target>/`.
pub fn plan_dir_in_repo(target: &str) -> String {
    format!("ops/plans/infra-scale/{target}")
}

#[cfg(test)]
mod tests;
