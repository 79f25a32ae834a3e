//! `orchestrator release`.

use std::process::ExitCode;

use orchestrator_core::Error;
use orchestrator_core::release::ReleaseRequest;
use orchestrator_core::version::ReleaseVersion;
use orchestrator_core::workspace::Workspace;
use orchestrator_core::workspace::workflows::ReleaseWorkflow;

use crate::args::{Global, OutputFormat, ReleaseArgs};
use crate::{render, wiring};

/// Converts flags into a request (all validation of values happens here or in the library).
fn request(args: &ReleaseArgs) -> Result<ReleaseRequest, Error> {
    Ok(ReleaseRequest {
        version: ReleaseVersion::parse(&args.version)?,
        only: crate::args::names(&args.only),
        resume: args.resume,
        concurrency: args.concurrency.map(usize::from),
    })
}

pub(crate) async fn run(global: &Global, args: ReleaseArgs) -> anyhow::Result<ExitCode> {
    let request = request(&args)?;
    let config = wiring::load_config(global)?;
    let human = global.output == OutputFormat::Human;
    release(
        global,
        wiring::workspace(config, human)?,
        request,
        args.dry_run,
    )
    .await
}

/// Plans, then (unless a dry run) releases through `workspace`, printing the plan or the result.
pub(crate) async fn release(
    global: &Global,
    workspace: Workspace,
    request: ReleaseRequest,
    dry_run: bool,
) -> anyhow::Result<ExitCode> {
    let workflow = ReleaseWorkflow { request };
    if dry_run {
        let plan = workspace.preview(&workflow).await?;
        match global.output {
            OutputFormat::Human => print!("{}", render::plan(&plan)),
            OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&plan)?),
        }
        return Ok(ExitCode::SUCCESS);
    }
    workspace.cancel_on_stop_signals();
    let finished = workspace.run(&workflow).await?;
    let report = finished.report;
    match global.output {
        OutputFormat::Human => print!("{}", render::report(&report)),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    crate::summaries::release(&report);
    Ok(ExitCode::from(finished.outcome.exit_code()))
}
