//! `orchestrator run`: a pipeline's apply or delete flow.

use std::process::ExitCode;

use anyhow::Context;

use orchestrator_core::engine::{CancelToken, Mode};
use orchestrator_core::pipeline::{
    OrchestratorProgram, PipelineRequest, PipelineRunner, plan_pipeline, process_env,
};
use orchestrator_core::state::RunStatus;

use crate::args::{Global, OutputFormat, RunArgs};
use crate::{progress, render, wiring};

fn request(args: &RunArgs) -> PipelineRequest {
    PipelineRequest {
        pipeline: args.pipeline.clone(),
        mode: if args.delete {
            Mode::Delete
        } else {
            Mode::Apply
        },
        only: (!args.only.is_empty()).then(|| args.only.clone()),
        profile: args.profile.clone(),
        resume: args.resume,
        orchestrator: None,
    }
}

pub(crate) async fn run(global: &Global, args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut request = request(&args);
    let config = wiring::load_config(global)?;
    // `orchestrator = [...]` steps run this very binary, with this config, under this run's lock.
    request.orchestrator = Some(OrchestratorProgram {
        exe: std::env::current_exe().context("locating the orchestrator binary")?,
        config: config.file.clone(),
        lock: Some(wiring::state_dir(&config).join("lock")),
    });
    // Plan once without creating any state: a bad pipeline name, env file or --only is refused
    // before the state directory or the lock exists.
    let read_only = wiring::open_store(&config, true).await?;
    let plan = plan_pipeline(&config, &request, process_env(), read_only.as_ref()).await?;
    if args.dry_run {
        match global.output {
            OutputFormat::Human => print!("{}", render::pipeline_plan(&plan)),
            OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&plan)?),
        }
        return Ok(ExitCode::SUCCESS);
    }
    drop(read_only);
    let _lock = wiring::lock_workspace(
        &wiring::state_dir(&config),
        &format!("run {}", request.pipeline),
    )?;
    let store = wiring::open_store(&config, false).await?;
    // Again under the lock: the journal may have moved since the first look.
    let plan = plan_pipeline(&config, &request, process_env(), store.as_ref()).await?;
    let cancel = CancelToken::new();
    crate::signals::cancel_on_stop_signals(cancel.clone());
    let human = global.output == OutputFormat::Human;
    let mut runner = PipelineRunner::new(store).with_cancel(cancel);
    if human {
        runner = runner.with_observer(progress::for_stderr());
        let selected = plan.selected().count();
        eprintln!(
            "{} {}: {selected} step(s){}",
            plan.pipeline,
            orchestrator_core::pipeline::mode_name(plan.mode),
            plan.resume_run
                .map(|r| format!(", resuming run {r}"))
                .unwrap_or_default()
        );
    }
    let report = runner.execute(&plan).await?;
    match global.output {
        OutputFormat::Human => print!("{}", render::pipeline_report(&report)),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    if report.status == RunStatus::Succeeded {
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(step) = report.first_unfinished() {
        eprintln!(
            "error: step {} ({}) {}: {}",
            step.number,
            step.name,
            match report.status {
                RunStatus::Cancelled => "was interrupted",
                _ => "failed",
            },
            step.summary
        );
    }
    eprintln!(
        "continue with: orchestrator run {}{} --resume",
        report.pipeline,
        if report.mode == Mode::Delete {
            " --delete"
        } else {
            ""
        }
    );
    Ok(ExitCode::from(1))
}
