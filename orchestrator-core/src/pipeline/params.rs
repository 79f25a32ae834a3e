//! What a pipeline run records in the state store, so `--resume` can check that it continues the
//! same job (mode and flow) rather than trusting the command line of the second attempt.

use serde::{Deserialize, Serialize};

use super::plan::OnlySelection;

/// The run kind under which pipeline runs are journaled (the key is the pipeline's name).
pub const RUN_KIND: &str = "run";

/// What a pipeline run records (see [`crate::workspace::params`]); `--resume` checks the mode
/// and the flow against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineParams {
    /// The pipeline.
    pub pipeline: String,
    /// `apply` or `delete`.
    #[serde(default = "apply_mode")]
    pub mode: String,
    /// The step selection.
    #[serde(default)]
    pub only: Option<OnlySelection>,
    /// The selected steps, by name.
    #[serde(default)]
    pub steps: Vec<String>,
    /// Every step of the flow, in order (absent in runs recorded before it was kept).
    #[serde(default)]
    pub flow: Option<Vec<String>>,
}

/// Runs recorded before the mode was kept were apply runs.
fn apply_mode() -> String {
    "apply".to_owned()
}

impl crate::workspace::params::RunParams for PipelineParams {
    const KIND: &'static str = RUN_KIND;
    const VERSION: u32 = 1;
}
