//! `orchestrator run`: a pipeline's apply or delete flow.

use std::process::ExitCode;

use anyhow::Context;

use orchestrator_core::engine::Mode;
use orchestrator_core::pipeline::PipelineRequest;
use orchestrator_core::state::RunStatus;
use orchestrator_core::workspace::workflows::PipelineWorkflow;

use crate::args::{Global, OutputFormat, RunArgs};
use crate::{render, wiring};

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
    let config = wiring::load_config(global)?;
    let workspace = wiring::workspace(config, global.output == OutputFormat::Human)?;
    let workflow = PipelineWorkflow {
        request: request(&args),
        // `orchestrator = [...]` steps run this very binary, with this config, under this lock.
        program: Some(std::env::current_exe().context("locating the orchestrator binary")?),
    };
    if args.dry_run {
        let plan = workspace.preview(&workflow).await?;
        match global.output {
            OutputFormat::Human => print!("{}", render::pipeline_plan(&plan)),
            OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&plan)?),
        }
        return Ok(ExitCode::SUCCESS);
    }
    workspace.cancel_on_stop_signals();
    let report = workspace.run(&workflow).await?.report;
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
