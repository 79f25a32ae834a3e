//! `orchestrator tasks run`: a scheduled task list (`--resume` continues an unfinished run).

use std::process::ExitCode;

use orchestrator_core::state::RunStatus;
use orchestrator_core::tasks::{TasksPlan, TasksRequest, resume_line};
use orchestrator_core::workspace::workflows::TasksWorkflow;

use crate::args::{Global, OutputFormat, TasksArgs, TasksCommand};
use crate::{render, wiring};

pub(crate) async fn run(global: &Global, args: TasksArgs) -> anyhow::Result<ExitCode> {
    let TasksCommand::Run(args) = args.command;
    let config = wiring::load_config(global)?;
    let request = TasksRequest {
        list: args.list.clone(),
        skip: crate::args::names(&args.skip),
        resume: args.resume,
    };
    let workspace = wiring::workspace(config, global.output == OutputFormat::Human)?;
    let workflow = TasksWorkflow { request };
    if args.dry_run {
        let plan = workspace.preview(&workflow).await?;
        print_plan(global, &plan)?;
        if workflow.request.resume && plan.resume_run.is_none() {
            let store = workspace.read_only_store().await?;
            eprintln!("{}", resume_line(store.as_ref(), &plan).await?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    workspace.cancel_on_stop_signals();
    let report = workspace.run(&workflow).await?.report;
    match global.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        OutputFormat::Human => {
            println!(
                "\ntasks {} {} in {:.1}s (run {}{})",
                report.list,
                report.status.as_str(),
                report.elapsed_secs,
                report.run_id,
                if report.resumed { ", resumed" } else { "" }
            );
            print!("{}", render::task_records(&report.records));
            if !report.kept.is_empty() {
                println!(
                    "kept from the earlier attempt (not run again): {}",
                    report.kept.join(", ")
                );
            }
        }
    }
    crate::summaries::tasks(&report);
    if report.status == RunStatus::Succeeded {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "continue with: orchestrator tasks run {} --resume",
        report.list
    );
    Ok(ExitCode::from(1))
}

/// The dry run's plan: every task, whether it runs and why.
fn print_plan(global: &Global, plan: &TasksPlan) -> anyhow::Result<()> {
    match global.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(plan)?),
        OutputFormat::Human => {
            let rows: Vec<Vec<String>> = plan
                .tasks
                .iter()
                .map(|t| match &t.done {
                    Some(status) => vec![
                        t.name.clone(),
                        "done".to_owned(),
                        format!("recorded {status}; not run again"),
                        t.command.clone(),
                    ],
                    None => vec![
                        t.name.clone(),
                        if t.runs { "run" } else { "skip" }.to_owned(),
                        t.reason.clone(),
                        t.command.clone(),
                    ],
                })
                .collect();
            match plan.resume_run {
                Some(run) => println!("tasks {} (resuming run {run}):", plan.list),
                None => println!("tasks {}:", plan.list),
            }
            print!("{}", render::table(&["TASK", "", "WHY", "COMMAND"], &rows));
            println!("dry run: nothing was run");
        }
    }
    Ok(())
}
