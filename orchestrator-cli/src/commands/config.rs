//! `orchestrator config check`.

use std::process::ExitCode;

use crate::args::{ConfigArgs, ConfigCommand, Global, OutputFormat};
use crate::wiring;

pub(crate) fn run(global: &Global, args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ConfigCommand::Check => {
            let config = wiring::load_config(global)?;
            let waves = config.graph.waves(None);
            let pipelines: Vec<(&str, usize, usize)> = config
                .pipelines
                .values()
                .map(|p| (p.name.as_str(), p.apply.len(), p.delete.len()))
                .collect();
            let tasks: Vec<(&str, usize)> = config
                .tasks
                .iter()
                .map(|(name, list)| (name.as_str(), list.len()))
                .collect();
            match global.output {
                OutputFormat::Json => println!(
                    "{}",
                    serde_json::json!({
                        "file": config.file,
                        "repos": config.repos.len(),
                        "waves": waves,
                        "pipelines": pipelines.iter().map(|(name, apply, delete)| {
                            serde_json::json!({ "name": name, "apply": apply, "delete": delete })
                        }).collect::<Vec<_>>(),
                        "task_lists": tasks.iter().map(|(name, count)| {
                            serde_json::json!({ "name": name, "tasks": count })
                        }).collect::<Vec<_>>(),
                    })
                ),
                OutputFormat::Human => {
                    println!(
                        "{}: ok, {} repo(s)",
                        config.file.display(),
                        config.repos.len()
                    );
                    for (i, wave) in waves.iter().enumerate() {
                        println!("  wave {}: {}", i + 1, wave.join(", "));
                    }
                    for (name, apply, delete) in &pipelines {
                        println!(
                            "  pipeline {name}: {apply} apply step(s), {delete} delete step(s)"
                        );
                    }
                    for (name, count) in &tasks {
                        println!("  task list {name}: {count} task(s)");
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
