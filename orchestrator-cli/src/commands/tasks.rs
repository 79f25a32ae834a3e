//! `orchestrator tasks run`: a scheduled task list (`--resume` continues an unfinished run).

use std::process::ExitCode;

use orchestrator_core::engine::CancelToken;
use orchestrator_core::pipeline::process_env;
use orchestrator_core::state::{RunStatus, StateStore};
use orchestrator_core::tasks::{RUN_KIND, TaskRunner, TasksPlan, TasksRequest, plan_tasks};

use crate::args::{Global, OutputFormat, TasksArgs, TasksCommand};
use crate::{progress, render, wiring};

pub(crate) async fn run(global: &Global, args: TasksArgs) -> anyhow::Result<ExitCode> {
    let TasksCommand::Run(args) = args.command;
    let config = wiring::load_config(global)?;
    let request = TasksRequest {
        list: args.list.clone(),
        skip: args
            .skip
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        resume: args.resume,
    };
    // Plan once without creating any state: a bad list, --skip or a changed list on --resume is
    // refused before the state directory or the lock exists.
    let read_only = wiring::open_store(&config, true).await?;
    let plan = plan_tasks(&config, &request, process_env(), read_only.as_ref()).await?;
    if args.dry_run {
        match global.output {
            OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&plan)?),
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
        if request.resume && plan.resume_run.is_none() {
            eprintln!(
                "{}",
                nothing_to_resume(read_only.as_ref(), &plan.list).await?
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    drop(read_only);
    let _lock = wiring::lock_workspace(
        &wiring::state_dir(&config),
        &format!("tasks run {}", plan.list),
    )?;
    let store = wiring::open_store(&config, false).await?;
    // Again under the lock: the journal may have moved since the first look.
    let plan = if request.resume {
        plan_tasks(&config, &request, process_env(), store.as_ref()).await?
    } else {
        plan
    };
    if request.resume {
        eprintln!("{}", resume_line(store.as_ref(), &plan).await?);
    }
    let cancel = CancelToken::new();
    crate::signals::cancel_on_stop_signals(cancel.clone());
    let mut runner = TaskRunner::new(store).with_cancel(cancel);
    if global.output == OutputFormat::Human {
        runner = runner.with_observer(progress::for_stderr());
    }
    let report = runner.execute(&plan).await?;
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
    actions_outputs(&report);
    if report.status == RunStatus::Succeeded {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "continue with: orchestrator tasks run {} --resume",
        report.list
    );
    Ok(ExitCode::from(1))
}

/// `tasks run`'s key results for a GitHub Actions job: `status`, `run_id`, the `failed` tasks
/// (comma-separated) and `outputs_uri` (the first task's that has one; every task's, one
/// `task=uri` a line, in `outputs_uris`); the record table as the step summary.
fn actions_outputs(report: &orchestrator_core::tasks::TasksReport) {
    let failed: Vec<&str> = report
        .records
        .iter()
        .filter(|r| r.status == "failed")
        .map(|r| r.task.as_str())
        .collect();
    let uris: Vec<(&str, &str)> = report
        .records
        .iter()
        .filter_map(|r| r.outputs_uri.as_deref().map(|u| (r.task.as_str(), u)))
        .collect();
    let rows: Vec<Vec<String>> = report
        .records
        .iter()
        .map(|r| {
            vec![
                r.task.clone(),
                r.status.clone(),
                r.outputs_uri.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let summary = format!(
        "## tasks {}: {} (run {})\n\n{}",
        report.list,
        report.status.as_str(),
        report.run_id,
        crate::gha::table(&["task", "status", "outputs"], &rows)
    );
    crate::gha::write(
        &[
            ("status", report.status.as_str().to_owned()),
            ("run_id", report.run_id.to_string()),
            ("failed", failed.join(",")),
            (
                "outputs_uri",
                uris.first()
                    .map(|(_, u)| (*u).to_owned())
                    .unwrap_or_default(),
            ),
            (
                "outputs_uris",
                uris.iter()
                    .map(|(t, u)| format!("{t}={u}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
        ],
        Some(&summary),
    );
}

/// What `--resume` is about to do, in one line for stderr.
async fn resume_line(store: &dyn StateStore, plan: &TasksPlan) -> anyhow::Result<String> {
    Ok(match plan.resume_run {
        Some(run) => {
            let done = plan.done().count();
            format!(
                "tasks {}: resuming run {run}: {done} task(s) done, {} to go",
                plan.list,
                plan.tasks.len() - done
            )
        }
        None => nothing_to_resume(store, &plan.list).await?,
    })
}

/// Why `--resume` starts a new run: like `release`/`publish --resume`, nothing unfinished is
/// not an error, but the scheduler's log should say that nothing was continued.
async fn nothing_to_resume(store: &dyn StateStore, list: &str) -> anyhow::Result<String> {
    let why = match store.runs(Some(RUN_KIND), Some(list), 1).await?.first() {
        Some(newest) => format!(
            "the newest run of tasks {list} (run {}) succeeded",
            newest.id
        ),
        None => format!("tasks {list} has no earlier run"),
    };
    Ok(format!("nothing to resume: {why}; starting a new run"))
}
