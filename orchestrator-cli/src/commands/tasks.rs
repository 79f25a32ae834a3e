//! `orchestrator tasks run`: a scheduled task list.

use std::process::ExitCode;

use orchestrator_core::engine::CancelToken;
use orchestrator_core::pipeline::process_env;
use orchestrator_core::state::{RunStatus, WorkspaceLock};
use orchestrator_core::tasks::{TaskRunner, TasksRequest, plan_tasks};

use crate::args::{Global, OutputFormat, TasksArgs, TasksCommand};
use crate::commands::release::spawn_ctrl_c;
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
    };
    let plan = plan_tasks(&config, &request, process_env())?;
    if args.dry_run {
        match global.output {
            OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&plan)?),
            OutputFormat::Human => {
                let rows: Vec<Vec<String>> = plan
                    .tasks
                    .iter()
                    .map(|t| {
                        vec![
                            t.name.clone(),
                            if t.runs { "run" } else { "skip" }.to_owned(),
                            t.reason.clone(),
                            t.command.clone(),
                        ]
                    })
                    .collect();
                println!("tasks {}:", plan.list);
                print!("{}", render::table(&["TASK", "", "WHY", "COMMAND"], &rows));
                println!("dry run: nothing was run");
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let _lock = WorkspaceLock::acquire(
        &wiring::state_dir(&config),
        &format!("tasks run {}", plan.list),
    )?;
    let store = wiring::open_store(&config, false)?;
    let cancel = CancelToken::new();
    spawn_ctrl_c(cancel.clone());
    let mut runner = TaskRunner::new(store).with_cancel(cancel);
    if global.output == OutputFormat::Human {
        runner = runner.with_observer(progress::for_stderr());
    }
    let report = runner.execute(&plan).await?;
    match global.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        OutputFormat::Human => {
            println!(
                "\ntasks {} {} in {:.1}s (run {})",
                report.list,
                report.status.as_str(),
                report.elapsed_secs,
                report.run_id
            );
            print!("{}", render::task_records(&report.records));
        }
    }
    Ok(if report.status == RunStatus::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
