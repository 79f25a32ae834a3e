//! `orchestrator scale` and `pr-command`: Kubernetes scaling plans reviewed in a pull request,
//! approved by comment, applied and rolled back exactly.
//!
//! The flow (seed 003, made safe):
//! 1. [`ScaleFlags::parse`] validates the seed's flags; [`ScalePlan::build`] reads the live
//!    objects through a [`crate::cluster::Cluster`] and records their **before** state and a
//!    content hash in the plan (`plan.yaml`, `SUMMARY.md`).
//! 2. [`propose::propose`] commits the plan to a branch and opens a draft PR labelled
//!    `needs-approval` with a review checklist.
//! 3. A qualified approver approves with a pull-request review at the head commit; someone with
//!    write access comments `/apply-plan` (or `/rollback-plan`, `/unlock-plan`).
//! 4. [`review::run_command`] (or [`review::handle_comment`], unjournaled) runs
//!    [`approval::verify`], which re-reads every fact from the
//!    forge (the review, its commit, the approver's permission, the pull request's commits,
//!    state and files, the plan at the head, the policy from the base branch) and returns an
//!    [`approval::ApprovedPlan`], the only thing [`execute::ScaleExecutor::apply`] (drift-checked
//!    against `before`, journaled, verified by reading back) and
//!    [`execute::ScaleExecutor::rollback`] (restores `before` exactly) accept; the result is
//!    posted on the pull request. [`lock::find_lock`] keeps one open plan per target.
//!
//! Every effect (a commit, a push, a pull request, a label, a comment, a cluster write) is a
//! journaled step on the run scaffolding every feature shares
//! ([`crate::workspace::JournaledRunner`]), with a read-only check that finds it done, so a
//! proposal, a command or a change killed anywhere resumes without doing anything twice.

pub mod approval;
pub mod config;
pub mod execute;
pub mod lock;
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
mod fixtures;
#[cfg(test)]
mod tests;
