//! `orchestrator run`: ordered step pipelines with apply and delete flows and layered env files
//! (seed 001's `run.sh`, without its leaks and with `--resume`).
//!
//! [`plan_pipeline`] loads the env layers ([`env::resolve_env`]), decides every step of the flow
//! ([`plan::select_steps`], pure) and checks that each selected program exists, changing nothing:
//! that is `--dry-run`, and every problem it finds is bad input (exit 2) before anything runs.
//! [`PipelineRunner::execute`] runs the selected steps one after another on the engine,
//! journaled under run kind [`RUN_KIND`] and the pipeline's name, so `--resume` starts at the
//! first step that did not finish.

pub mod builtin;
pub mod command;
pub mod condition;
pub mod config;
pub mod env;
pub mod envfile;
pub mod group;
pub mod plan;

pub use builtin::{BuiltinAction, line_diff};
pub use command::{CommandOutcome, CommandSpec, run_command, run_command_scanned};
pub use condition::{Condition, ConditionTest, is_truthy};
pub use env::{LayerReport, REDACTED, ResolvedEnv, VarSource, looks_secret, resolve_env};
pub use plan::{OnlySelection, StepDecision, mode_name, select_steps};
pub use run::{PipelineReport, PipelineRunner, PipelineStepReport};

mod program;
mod resume;
mod run;

pub(crate) use program::find_program;
use resume::resumable;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Serialize;

use crate::config::Config;
use crate::engine::{CancelToken, EngineOptions, Mode, Observer, Plan, PlannedStep, StepStatus};
use crate::error::{Error, Result};
use crate::pipeline::config::StepAction;
use crate::state::{RunId, RunStatus, StateStore};
use crate::step::{Check, Step, StepContext, StepOutput};

/// The run kind under which pipeline runs are journaled (the key is the pipeline's name).
pub const RUN_KIND: &str = "run";

/// What a pipeline run records (see [`crate::workspace::params`]); `--resume` checks the mode
/// and the flow against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
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

fn apply_mode() -> String {
    "apply".to_owned()
}

impl crate::workspace::params::RunParams for PipelineParams {
    const KIND: &'static str = RUN_KIND;
    const VERSION: u32 = 1;
}

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
    #[serde(skip)]
    action: Option<PlannedAction>,
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

/// The process environment as a map (non-UTF-8 entries are skipped).
pub fn process_env() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// Validates a request, loads the env layers over `process`, decides every step and checks each
/// selected program exists and is executable. Changes nothing: this is `--dry-run`.
pub async fn plan_pipeline(
    config: &Config,
    request: &PipelineRequest,
    process: BTreeMap<String, String>,
    store: &dyn StateStore,
) -> Result<PipelinePlan> {
    let pipeline = config.pipelines.get(&request.pipeline).ok_or_else(|| {
        let known: Vec<&str> = config.pipelines.keys().map(String::as_str).collect();
        Error::invalid_input(format!(
            "unknown pipeline {:?} (configured: {})",
            request.pipeline,
            if known.is_empty() {
                format!("none; add [pipeline.NAME] to {}", config.file.display())
            } else {
                known.join(", ")
            }
        ))
    })?;
    let env = resolve_env(&pipeline.env_files, request.profile.as_deref(), process)?;
    let only = match &request.only {
        Some(items) => OnlySelection::parse("--only", &items.join(",")),
        None => env
            .get("ONLY")
            .and_then(|v| OnlySelection::parse("ONLY", v)),
    };
    let decisions = select_steps(pipeline, request.mode, only.as_ref(), &env)?;
    let base = env.vars();
    let flow = pipeline.flow(request.mode);
    let mut steps = Vec::with_capacity(flow.len());
    let mut problems = Vec::new();
    for (decision, step) in decisions.into_iter().zip(flow) {
        let label = format!("step {} ({})", decision.number, step.name);
        let expand = |v: &str| env.expand(v).map_err(|e| format!("{label}: {e}"));
        let timeout = step.timeout.or(pipeline.timeout);
        let workdir = step.workdir.clone().unwrap_or_else(|| config.root.clone());
        let mut shown_env = BTreeMap::new();
        let mut kind = None;
        let command;
        let mut diff = None;
        // A capability step is this binary run with this config: the same path as a command.
        let mut step_env = step.env.clone();
        let action = match &step.action {
            StepAction::Orchestrator(args) => match &request.orchestrator {
                Some(program) => {
                    if let Some(lock) = &program.lock {
                        step_env.insert(INHERITED_LOCK_VAR.to_owned(), lock.display().to_string());
                    }
                    let mut run = vec![
                        program.exe.display().to_string(),
                        "--config".to_owned(),
                        program.config.display().to_string(),
                    ];
                    run.extend(args.iter().cloned());
                    StepAction::Run(run)
                }
                None => {
                    if decision.included {
                        problems.push(format!(
                            "{label}: capability steps need the orchestrator binary (PipelineRequest::orchestrator)"
                        ));
                    }
                    StepAction::Run(vec!["orchestrator".to_owned()])
                }
            },
            other => other.clone(),
        };
        match &action {
            StepAction::Run(run) => {
                let mut vars = base.clone();
                let mut args = Vec::new();
                let mut bad = None;
                for (k, v) in &step_env {
                    match expand(v) {
                        Ok(value) => {
                            let display = if looks_secret(k) {
                                REDACTED.to_owned()
                            } else {
                                env.redact(&value)
                            };
                            shown_env.insert(k.clone(), display);
                            vars.insert(k.clone(), value);
                        }
                        Err(e) => bad = Some(e),
                    }
                }
                for a in &run[1..] {
                    match expand(a) {
                        Ok(a) => args.push(a),
                        Err(e) => bad = Some(e),
                    }
                }
                if request.mode == Mode::Delete {
                    args.push("--delete".into());
                }
                let mut program = PathBuf::from(&run[0]);
                if decision.included {
                    if let Some(e) = bad {
                        problems.push(e);
                    }
                    match find_program(&run[0], &config.root, vars.get("PATH").map(String::as_str))
                    {
                        Ok(p) => program = p,
                        Err(e) => problems.push(format!("{label}: {e}")),
                    }
                    if !workdir.is_dir() {
                        problems.push(format!(
                            "{label}: working directory {} does not exist",
                            workdir.display()
                        ));
                    }
                }
                // The step's own secret-named env joins the values masked in its output.
                let redactor = env.redactor(step_env.keys().filter_map(|k| vars.get_key_value(k)));
                let spec = CommandSpec {
                    program,
                    args,
                    env: vars,
                    workdir: workdir.clone(),
                    timeout,
                    grace: pipeline.grace,
                    redactor: Arc::new(redactor),
                };
                command = CommandSpec {
                    program: PathBuf::from(&run[0]),
                    ..spec.clone()
                }
                .display();
                kind = decision.included.then_some(PlannedAction::Command(spec));
            }
            StepAction::Builtin(action) => {
                let mut action = action.clone();
                let rel = |p: &Path| {
                    p.strip_prefix(&config.root)
                        .unwrap_or(p)
                        .display()
                        .to_string()
                };
                command = match &mut action {
                    BuiltinAction::SetKey { file, key, value } => {
                        match expand(value) {
                            Ok(v) => *value = v,
                            Err(e) => problems.push(e),
                        }
                        let shown = if looks_secret(key) {
                            REDACTED.to_owned()
                        } else {
                            env.redact(value)
                        };
                        format!("set {key}={shown} in {}", rel(file))
                    }
                    BuiltinAction::CopyFile { from, to } => {
                        format!("copy {} over {}", rel(from), rel(to))
                    }
                };
                if decision.included {
                    match action.contents() {
                        Ok((current, next)) => {
                            let d = builtin::line_diff(&current, &next);
                            diff = Some(if d.is_empty() {
                                "(no change)".to_owned()
                            } else {
                                env.redact(&d)
                            });
                        }
                        Err(e) => problems.push(format!("{label}: {e}")),
                    }
                    kind = Some(PlannedAction::Builtin(action));
                }
            }
            StepAction::Orchestrator(_) => {
                unreachable!("capability steps were turned into commands above")
            }
        }
        steps.push(PlannedPipelineStep {
            command,
            workdir,
            timeout_secs: timeout.map(|t| t.as_secs_f64()),
            env: shown_env,
            diff,
            action: kind,
            decision,
        });
    }
    if !problems.is_empty() {
        return Err(Error::invalid_input(format!(
            "pipeline {:?}: {}; nothing was run",
            pipeline.name,
            problems.join("; ")
        )));
    }
    let mut names: BTreeSet<String> = env.file_variables().map(str::to_owned).collect();
    names.insert("ONLY".into());
    names.extend(pipeline.env_files.iter().filter_map(|l| l.skip_if.clone()));
    names.extend(
        flow.iter()
            .filter_map(|s| s.when.as_ref().map(|w| w.var.clone())),
    );
    let variables = names
        .into_iter()
        .filter_map(|name| {
            Some(VariableView {
                value: env.display_value(&name)?,
                source: env.source(&name)?.to_string(),
                secret: env.is_secret(&name),
                name,
            })
        })
        .collect();
    let (resume_run, journaled_done) = if request.resume {
        let flow: Vec<String> = steps.iter().map(|s| s.decision.name.clone()).collect();
        resumable(store, &pipeline.name, request.mode, &flow).await?
    } else {
        (None, Vec::new())
    };
    Ok(PipelinePlan {
        pipeline: pipeline.name.clone(),
        mode: request.mode,
        only,
        layers: env.layers().to_vec(),
        variables,
        steps,
        resume_run,
        journaled_done,
    })
}
