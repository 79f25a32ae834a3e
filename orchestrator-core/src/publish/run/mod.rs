//! Running a [`PublishPlan`](super::PublishPlan) on the [`Engine`](crate::engine::Engine): per
//! package `bump:<repo>`, `tag:<repo>`, `push:<repo>`, `trigger:<repo>`, `wait:<repo>`,
//! `notes:<repo>` (ids stable across runs, so the journal and `--resume` work as for `release`),
//! then `umbrella` and `coordination` once every package succeeded. A package's first step comes
//! after the last step of each package it depends on, so independent packages overlap and a
//! failure holds back only its dependents.
//!
//! One concept a file: the [`Publisher`] that runs a plan, the engine plan it runs, the checks
//! before anything changes, what a run records so that a resume continues its plan, the
//! cascade's plan, and the report.

mod cascade_plan;
mod engine_plan;
mod preflight;
mod publisher;
mod recorded;
mod report;

pub use cascade_plan::plan_cascade;
pub use engine_plan::{PACKAGE_STEPS, awaited_versions};
pub use preflight::preflight_publish;
pub use publisher::{PublishOptions, Publisher};
pub use recorded::{
    CASCADE_RUN_KIND, CascadeParams, PublishParams, RecordedPlan, RecordedRun, plan_key,
    resumable_plan, resumable_run,
};
pub use report::{PackageOutcome, PackageReport, PublishReport};
