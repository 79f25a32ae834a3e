//! `orchestrator scale plan|propose|apply|rollback|ci-workflows`: Kubernetes scaling plans.
//!
//! Output lines scripts parse are the seed's: `artifacts_dir=`, `plan_yaml=`, `summary_md=`,
//! `succeeded` (plan); `outputs_uri=<PR URL>`, `awaiting_approval` (propose); `preview: kubectl ...`
//! then a JSON summary (apply, rollback); `skipped` when the gating label is absent.

mod args;
mod ci;
mod cluster;
mod plan;
mod propose;

pub(crate) use args::ScaleArgs;
use args::{ExecuteArgs, ScaleCommand};
pub(crate) use cluster::{ClusterSpec, cluster};

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use orchestrator_core::Error;
use orchestrator_core::forge::RepoId;
use orchestrator_core::scale::ScalePlan;
use orchestrator_core::scale::approval::GateAction;
use orchestrator_core::scale::execute::{ExecuteReport, ScaleExecutor, check_force};
use orchestrator_core::state::MemoryStateStore;
use orchestrator_core::workspace::workflows::ScaleExecuteWorkflow;

use crate::args::{Global, OutputFormat};
use crate::wiring;

pub(crate) async fn run(global: &Global, args: ScaleArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ScaleCommand::Plan(args) => plan::plan(global, args).await,
        ScaleCommand::Propose(args) => propose::propose(global, args).await,
        ScaleCommand::Apply(args) => execute(global, args, GateAction::Apply).await,
        ScaleCommand::Rollback(args) => execute(global, args, GateAction::Rollback).await,
        ScaleCommand::CiWorkflows(args) => ci::ci_workflows(global, &args),
    }
}

pub(super) fn plan_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("plan.yaml")
    } else {
        path.to_owned()
    }
}

async fn execute(
    global: &Global,
    args: ExecuteArgs,
    action: GateAction,
) -> anyhow::Result<ExitCode> {
    let workspace = wiring::optional_workspace(global)?;
    // Bad flags exit 2 before anything is read.
    args.rollout_wait(workspace.config().scale.rollout_wait)?;
    let plan = ScalePlan::load(&plan_file(&args.plan))?;
    let kube_context = args
        .kube_context
        .clone()
        .or_else(|| plan.context.kube_context.clone());
    let report = if args.execute {
        let number = args.pr.expect("clap: --execute requires --pr");
        let repo: RepoId = args
            .repo
            .as_deref()
            .ok_or_else(|| {
                Error::invalid_input(
                    "--execute --pr needs --repo OWNER/NAME (or $GITHUB_REPOSITORY)",
                )
            })?
            .parse()?;
        let (config, policy) = args.policy.resolve(&workspace, &repo, number).await?;
        let workflow = ScaleExecuteWorkflow {
            plan,
            plan_file: plan_file(&args.plan),
            repo,
            number,
            action,
            policy,
            cluster: Arc::new(ClusterSpec {
                spec: args.cluster.clone(),
                kube_context,
            }),
            rollout: args.rollout_wait(config.rollout_wait)?,
            force: args.force,
        };
        // Waiting for rollouts takes minutes: let Ctrl-C stop it with a journal.
        workspace.cancel_on_stop_signals();
        workspace.run(&workflow).await?.report.report
    } else {
        check_force(action, args.force)?;
        // A preview: a server-side dry run that journals and locks nothing.
        let cluster = cluster(&args.cluster, kube_context.as_deref()).await?;
        let executor = ScaleExecutor::new(cluster, Arc::new(MemoryStateStore::default()));
        match action {
            GateAction::Apply => executor.preview(&plan).await?,
            GateAction::Rollback => executor.preview_rollback(&plan).await?,
        }
    };
    print_report(global, &report)?;
    crate::summaries::scale(action, &report);
    if report.ok {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "error: {}",
        report.error.as_deref().unwrap_or("the run did not succeed")
    );
    Ok(ExitCode::from(1))
}

fn print_report(global: &Global, report: &ExecuteReport) -> anyhow::Result<()> {
    if global.output == OutputFormat::Human {
        let verb = if report.executed {
            "applied"
        } else {
            "preview"
        };
        for line in &report.previews {
            println!("{verb}: {line}");
        }
    }
    println!("{}", serde_json::to_string_pretty(report)?);
    Ok(())
}
