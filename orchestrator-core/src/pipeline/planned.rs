//! A validated pipeline run: every step of the flow, in or out and why, with what each selected
//! step will do. `--dry-run` prints it; [`super::PipelineRunner`] executes it. Nothing in it has
//! run yet, and every value shown to people is masked.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::builtin::BuiltinAction;
use super::command::CommandSpec;
use super::env::LayerReport;
use super::plan::{OnlySelection, StepDecision};
use crate::engine::Mode;
use crate::state::RunId;

/// A resolved variable as shown to people: secrets are `[redacted]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VariableView {
    /// The name.
    pub name: String,
    /// The value, or `[redacted]`.
    pub value: String,
    /// Where it came from: `environment` or `file:line`.
    pub source: String,
    /// Whether it is treated as a secret.
    pub secret: bool,
}

/// One step of the flow in a plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedPipelineStep {
    /// The decision: number, name, in or out, and why.
    #[serde(flatten)]
    pub decision: StepDecision,
    /// The command line, secrets masked (as it will run: `--delete` added in the delete flow).
    pub command: String,
    /// Working directory.
    pub workdir: PathBuf,
    /// Timeout in seconds.
    pub timeout_secs: Option<f64>,
    /// The step's extra env, secrets masked.
    pub env: BTreeMap<String, String>,
    /// For built-in steps: the change to the file, as a line diff (secrets masked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// What the step will do; `None` for a step that is out. Not public: a plan is only made by
    /// the planner, which checked the action.
    #[serde(skip)]
    pub(super) action: Option<PlannedAction>,
}

/// What a selected step will do.
#[derive(Debug, Clone)]
pub(crate) enum PlannedAction {
    Command(CommandSpec),
    Builtin(BuiltinAction),
}

/// A validated pipeline run; nothing has run yet.
#[derive(Debug, Clone, Serialize)]
pub struct PipelinePlan {
    /// The pipeline.
    pub pipeline: String,
    /// `apply` or `delete`.
    pub mode: Mode,
    /// The step selection, when one was given.
    pub only: Option<OnlySelection>,
    /// What happened to each env layer, lowest first.
    pub layers: Vec<LayerReport>,
    /// Variables set by the files, and the environment variables the plan depends on.
    pub variables: Vec<VariableView>,
    /// Every step of the flow, in order, in or out.
    pub steps: Vec<PlannedPipelineStep>,
    /// The run being resumed.
    pub resume_run: Option<RunId>,
    /// Steps that run's journal records as done (they will not run again).
    pub journaled_done: Vec<String>,
}

impl PipelinePlan {
    /// The steps that will run, in order.
    pub fn selected(&self) -> impl Iterator<Item = &PlannedPipelineStep> {
        self.steps.iter().filter(|s| s.decision.included)
    }
}
