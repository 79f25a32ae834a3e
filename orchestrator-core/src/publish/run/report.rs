//! What a publish or cascade reports: per package how it ended, and the run's totals.

use std::collections::BTreeMap;

use serde::Serialize;

use super::engine_plan::PACKAGE_STEPS;
use crate::engine::{RunReport, StepStatus};
use crate::forge::RequestStats;
use crate::publish::plan::PublishPlan;
use crate::state::{RunId, RunStatus};
use crate::workspace::first_unfinished;

/// How one package ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageOutcome {
    /// Every step done.
    Released,
    /// A step failed.
    Failed,
    /// Not started because a package it depends on did not finish.
    HeldBack,
    /// Stopped by Ctrl-C while running.
    Interrupted,
    /// Not started because the run stopped first.
    NotStarted,
}

impl PackageOutcome {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Released => "released",
            Self::Failed => "failed",
            Self::HeldBack => "held_back",
            Self::Interrupted => "interrupted",
            Self::NotStarted => "not_started",
        }
    }
}

/// One package's result.
#[derive(Debug, Clone, Serialize)]
pub struct PackageReport {
    /// The repo.
    pub name: String,
    /// The version released.
    pub version: String,
    /// Its tag.
    pub tag: String,
    /// How it ended.
    pub outcome: PackageOutcome,
    /// The release run it caused (failed runs too).
    pub run_url: Option<String>,
    /// The failed step's error, or which package held it back.
    pub error: Option<String>,
}

/// The result of a publish or cascade.
#[derive(Debug, Clone, Serialize)]
pub struct PublishReport {
    /// The run in the state store.
    pub run_id: RunId,
    /// `publish` or `cascade`.
    pub kind: String,
    /// The journal key.
    pub key: String,
    /// How it ended.
    pub status: RunStatus,
    /// Per package, in dependency order.
    pub packages: Vec<PackageReport>,
    /// The umbrella release's tag, when created.
    pub umbrella: Option<String>,
    /// The coordination manifest, when written.
    pub coordination: Option<String>,
    /// Forge requests made by this process.
    pub forge_requests: RequestStats,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
}

impl PublishReport {
    /// Packages with `outcome`.
    pub fn with_outcome(&self, outcome: PackageOutcome) -> Vec<&str> {
        self.packages
            .iter()
            .filter(|p| p.outcome == outcome)
            .map(|p| p.name.as_str())
            .collect()
    }
}

/// Per package of `plan`, how it ended in the engine's `report`: the first of its steps that did
/// not finish says why, and `urls` holds the release runs its triggers caused.
pub(super) fn package_reports(
    plan: &PublishPlan,
    report: &RunReport,
    urls: &BTreeMap<String, String>,
) -> Vec<PackageReport> {
    plan.packages
        .iter()
        .map(|p| {
            let failed = first_unfinished(
                report,
                PACKAGE_STEPS.iter().map(|s| format!("{s}:{}", p.name)),
            );
            let outcome = match failed.map(|s| &s.status) {
                None => PackageOutcome::Released,
                Some(StepStatus::Failed) => PackageOutcome::Failed,
                Some(StepStatus::Blocked { .. }) => PackageOutcome::HeldBack,
                Some(StepStatus::Interrupted) => PackageOutcome::Interrupted,
                Some(_) => PackageOutcome::NotStarted,
            };
            PackageReport {
                name: p.name.clone(),
                version: p.next.clone(),
                tag: p.tag.clone(),
                outcome,
                run_url: urls.get(&p.name).cloned(),
                error: failed.map(|s| s.summary.clone()),
            }
        })
        .collect()
}
