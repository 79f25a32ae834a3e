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
                        "scale": scale_summary(&config.scale),
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
                    println!("  scale: {}", scale_summary(&config.scale));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// One line on who may approve scaling plans and how long applies wait.
fn scale_summary(scale: &orchestrator_core::scale::config::ScaleConfig) -> String {
    let policy = &scale.policy;
    let who = if policy.allowed_users.is_empty() {
        format!("anyone with {:?} or above", policy.min_permission).to_lowercase()
    } else {
        format!(
            "{} (with {:?} or above)",
            policy.allowed_users.join(", "),
            policy.min_permission
        )
        .to_lowercase()
    };
    let own = if policy.allow_self_approval {
        ", authors and pushers included"
    } else {
        ", not who opened or pushed to the plan"
    };
    let r = policy.requirements;
    let requires: Vec<&str> = [
        (true, "open"),
        (r.approved, "approved"),
        (r.mergeable, "mergeable"),
        (r.undiverged, "undiverged"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    let emergency = if policy.emergency_rollback.is_empty() {
        String::new()
    } else {
        format!(
            "; may roll back alone: {}",
            policy.emergency_rollback.join(", ")
        )
    };
    let wait = match scale.rollout_wait {
        Some(w) => format!("rollouts waited for up to {}s", w.timeout.as_secs()),
        None => "rollouts not waited for".to_owned(),
    };
    format!(
        "approvers: {who}{own}; apply requires {}{emergency}; {wait}",
        requires.join(", ")
    )
}
