//! `orchestrator run`: ordered step pipelines with apply and delete flows and layered env files
//! (seed 001's `run.sh`, without its leaks and with `--resume`).
//!
//! [`plan_pipeline`] loads the env layers ([`env::resolve_env`]), decides every step of the flow
//! ([`plan::select_steps`], pure) and checks that each selected program exists, changing nothing:
//! that is `--dry-run`, and every problem it finds is bad input (exit 2) before anything runs.
//! [`PipelineRunner::execute`] runs the selected steps one after another on the [`Engine`],
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

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Serialize;

use crate::config::Config;
use crate::engine::{
    CancelToken, Engine, EngineOptions, Mode, Observer, Plan, PlannedStep, SilentObserver,
    StepStatus,
};
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
enum PlannedAction {
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
pub fn plan_pipeline(
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
        resumable(store, &pipeline.name, request.mode, &flow)?
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

/// The unfinished run `--resume` continues, and the steps its journal finished. Refuses a run of
/// the other flow, and a flow whose steps changed (added, removed, reordered) since the run began:
/// a resume finishes the job that was started. Editing a step's command or env is fine; that is
/// how a failing step gets fixed.
fn resumable(
    store: &dyn StateStore,
    pipeline: &str,
    mode: Mode,
    flow: &[String],
) -> Result<(Option<RunId>, Vec<String>)> {
    let Some(run) = store.resumable(RUN_KIND, pipeline)? else {
        return Ok((None, Vec::new()));
    };
    let recorded: PipelineParams = crate::workspace::params::decode(&run)?;
    let run_mode = recorded.mode.as_str();
    if run_mode != mode_name(mode) {
        return Err(Error::invalid_input(format!(
            "the last unfinished run of {pipeline:?} (run {}) was a {run_mode} run; resume it {} --delete",
            run.id,
            if run_mode == "delete" {
                "with"
            } else {
                "without"
            }
        )));
    }
    // Runs recorded before the flow was kept in the params cannot be compared.
    if let Some(change) = recorded
        .flow
        .as_deref()
        .and_then(|r| crate::tasks::list_change(r, flow))
    {
        return Err(Error::invalid_input(format!(
            "--resume: the {} flow of pipeline.{pipeline} changed since run {} began ({change}); \
             restore it to finish run {}, or run without --resume to start a new run",
            mode_name(mode),
            run.id,
            run.id
        )));
    }
    let done = store
        .journal(run.id)?
        .into_iter()
        .filter(|r| r.entry.completes_step())
        .filter_map(|r| r.entry.step().map(str::to_owned))
        .collect();
    Ok((Some(run.id), done))
}

/// Resolves `run[0]`: a path (with a `/`) relative to the config's directory, or a name on `PATH`.
pub(crate) fn find_program(
    program: &str,
    root: &Path,
    path: Option<&str>,
) -> std::result::Result<PathBuf, String> {
    if program.contains('/') {
        let resolved = root.join(program);
        return match std::fs::metadata(&resolved) {
            Ok(m) if m.is_file() && is_executable(&m) => Ok(resolved),
            Ok(m) if m.is_file() => Err(format!(
                "script {program} is not executable (chmod +x {}, or run = [\"sh\", \"{program}\"])",
                resolved.display()
            )),
            _ => Err(format!(
                "script {program} not found at {}",
                resolved.display()
            )),
        };
    }
    for dir in std::env::split_paths(path.unwrap_or_default()) {
        let candidate = dir.join(program);
        if let Ok(m) = std::fs::metadata(&candidate)
            && m.is_file()
            && is_executable(&m)
        {
            return Ok(candidate);
        }
    }
    Err(format!("program {program} not found on PATH"))
}

#[cfg(unix)]
fn is_executable(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    true
}

/// A pipeline step: runs its command; the engine journals it.
#[derive(Debug)]
struct CommandStep {
    id: String,
    spec: CommandSpec,
    /// The command line as configured (relative script path), secrets masked.
    shown: String,
}

impl CommandStep {
    async fn execute(&self, ctx: &StepContext) -> Result<StepOutput> {
        let outcome = run_command(&self.spec, ctx).await?;
        if !outcome.success() {
            return Err(Error::CommandFailed {
                command: self.shown.clone(),
                status: outcome.status_text(self.spec.timeout),
                tail: outcome.tail,
            });
        }
        Ok(StepOutput {
            summary: format!("exit 0 in {:.1}s", outcome.elapsed_secs),
            data: serde_json::to_value(&outcome).unwrap_or_default(),
        })
    }
}

#[async_trait]
impl Step for CommandStep {
    fn id(&self) -> &str {
        &self.id
    }

    fn describe(&self) -> String {
        self.shown.clone()
    }

    async fn check(&self, _ctx: &StepContext) -> Result<Check> {
        // A command's effect cannot be observed from outside; the journal decides on resume
        // (step scripts are idempotent by contract).
        Ok(Check::Pending(format!("run {}", self.shown)))
    }

    fn handles_cancellation(&self) -> bool {
        true
    }

    async fn apply(&self, ctx: &StepContext) -> Result<StepOutput> {
        self.execute(ctx).await
    }

    async fn delete(&self, ctx: &StepContext) -> Result<StepOutput> {
        self.execute(ctx).await
    }
}

/// One step's result.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineStepReport {
    /// Position in the flow.
    pub number: usize,
    /// Name.
    pub name: String,
    /// How it ended.
    #[serde(flatten)]
    pub status: StepStatus,
    /// Seconds it ran.
    pub elapsed_secs: f64,
    /// Summary line, or the error (exit code and output tail).
    pub summary: String,
}

/// The result of a pipeline run.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineReport {
    /// The run in the state store.
    pub run_id: RunId,
    /// The pipeline.
    pub pipeline: String,
    /// `apply` or `delete`.
    pub mode: Mode,
    /// How it ended.
    pub status: RunStatus,
    /// The selected steps, in order.
    pub steps: Vec<PipelineStepReport>,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
}

impl PipelineReport {
    /// The first step that did not finish, if any.
    pub fn first_unfinished(&self) -> Option<&PipelineStepReport> {
        self.steps.iter().find(|s| !s.status.is_done())
    }
}

/// Runs pipeline plans; embed it with your own `StateStore`.
#[derive(Debug, Clone)]
pub struct PipelineRunner {
    store: Arc<dyn StateStore>,
    observer: Arc<dyn Observer>,
    cancel: CancelToken,
}

impl PipelineRunner {
    /// A runner journaling to `store`.
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        Self {
            store,
            observer: Arc::new(SilentObserver),
            cancel: CancelToken::new(),
        }
    }

    /// Sends progress (and every line of step output) to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self
    }

    /// Stops when `cancel` is cancelled: the running step gets SIGTERM, then SIGKILL after the
    /// pipeline's grace period.
    pub fn with_cancel(mut self, cancel: CancelToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// Runs the selected steps of `plan` in order; a failure stops the flow.
    pub async fn execute(&self, plan: &PipelinePlan) -> Result<PipelineReport> {
        let started = Instant::now();
        let mut planned = Vec::new();
        let mut previous: Option<String> = None;
        for s in plan.selected() {
            let id = s.decision.name.clone();
            let step: Arc<dyn Step> = match s.action.clone() {
                Some(PlannedAction::Command(spec)) => Arc::new(CommandStep {
                    id: id.clone(),
                    spec,
                    shown: s.command.clone(),
                }),
                Some(PlannedAction::Builtin(action)) => Arc::new(builtin::BuiltinStep {
                    id: id.clone(),
                    action,
                    shown: s.command.clone(),
                }),
                None => {
                    return Err(Error::invalid_input(
                        "pipeline plan has no action for a selected step",
                    ));
                }
            };
            planned.push(PlannedStep {
                step,
                after: previous.take().into_iter().collect(),
            });
            previous = Some(id);
        }
        if planned.is_empty() {
            return Err(Error::invalid_input(format!(
                "no step of {:?} is selected; nothing to run",
                plan.pipeline
            )));
        }
        let engine_plan = Plan::new(planned)?;
        let run = match plan.resume_run {
            Some(run) => {
                self.store.set_status(run, RunStatus::Running)?;
                run
            }
            None => {
                let params = crate::workspace::params::encode(&PipelineParams {
                    pipeline: plan.pipeline.clone(),
                    mode: mode_name(plan.mode).to_owned(),
                    only: plan.only.clone(),
                    steps: plan.selected().map(|s| s.decision.name.clone()).collect(),
                    flow: Some(plan.steps.iter().map(|s| s.decision.name.clone()).collect()),
                })?;
                self.store.begin_run(RUN_KIND, &plan.pipeline, &params)?
            }
        };
        let engine = Engine::new(
            self.store.clone(),
            EngineOptions {
                concurrency: 1,
                mode: plan.mode,
            },
        )
        .with_observer(self.observer.clone())
        .with_cancel(self.cancel.clone());
        let report = engine.run(&engine_plan, run).await?;
        let steps = plan
            .selected()
            .filter_map(|s| {
                let r = report.step(&s.decision.name)?;
                Some(PipelineStepReport {
                    number: s.decision.number,
                    name: s.decision.name.clone(),
                    status: r.status.clone(),
                    elapsed_secs: round_ms(r.elapsed),
                    summary: r.summary.clone(),
                })
            })
            .collect();
        Ok(PipelineReport {
            run_id: run,
            pipeline: plan.pipeline.clone(),
            mode: plan.mode,
            status: report.status,
            steps,
            elapsed_secs: round_ms(started.elapsed()),
        })
    }
}

fn round_ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}
