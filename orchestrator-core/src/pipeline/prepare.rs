//! Planning a pipeline run (`--dry-run`): load the env layers, decide every step of the flow,
//! expand each selected step's arguments and env, find its program and compute a built-in step's
//! diff. Everything wrong is collected and refused together, before anything runs, so a run never
//! stops half-way on a typo the plan could have seen.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::builtin::{self, BuiltinAction};
use super::command::CommandSpec;
use super::config::StepAction;
use super::env::{REDACTED, looks_secret, resolve_env};
use super::plan::{OnlySelection, select_steps};
use super::planned::{PipelinePlan, PlannedAction, PlannedPipelineStep, VariableView};
use super::program::find_program;
use super::request::{INHERITED_LOCK_VAR, PipelineRequest};
use super::resume::resumable;
use crate::config::Config;
use crate::engine::Mode;
use crate::error::{Error, Result};
use crate::state::StateStore;

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
