//! What a caller asks `orchestrator run` to do: the pipeline, the flow, the selection, and how
//! capability steps reach this orchestrator. The planner turns it into a plan.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::engine::Mode;

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PipelineRequest {
    /// The pipeline's name.
    pub pipeline: String,
    /// Apply, or the delete flow (each step gets `--delete`).
    pub mode: Mode,
    /// `--only` items; when `None`, the `ONLY` variable is the fallback.
    pub only: Option<Vec<String>>,
    /// `--profile FILE`: the highest env layer.
    pub profile: Option<PathBuf>,
    /// Continue the last unfinished run of this pipeline.
    pub resume: bool,
    /// How `orchestrator = [...]` steps run this orchestrator; such steps are refused without it.
    pub orchestrator: Option<OrchestratorProgram>,
}

/// The orchestrator binary that capability steps (`orchestrator = ["release", ...]`) run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrchestratorProgram {
    /// The binary (the CLI passes its own path).
    pub exe: PathBuf,
    /// The config file the step runs with (the pipeline's own).
    pub config: PathBuf,
    /// The workspace lock the pipeline holds, handed to the child so it does not refuse to run
    /// (see `WorkspaceLock::acquire`).
    pub lock: Option<PathBuf>,
}

/// The variable that hands the parent's workspace lock to a capability step.
pub const INHERITED_LOCK_VAR: &str = "ORCHESTRATOR_INHERITED_LOCK";

/// The process environment as a map (non-UTF-8 entries are skipped).
pub fn process_env() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}
