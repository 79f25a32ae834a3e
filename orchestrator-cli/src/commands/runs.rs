//! `orchestrator runs [list]` and `orchestrator runs show <id>`: the run history, journals and
//! task records, read from whichever store the workspace uses (SQLite, or the PostgreSQL
//! database of `ORCHESTRATOR_STATE_URL` / `[state] url`) without changing it. A run whose runner
//! is gone shows as `interrupted`, never `running`.

use std::process::ExitCode;

use orchestrator_core::Error;
use orchestrator_core::state::StateStore;

use crate::args::{Global, OutputFormat, RunsArgs, RunsCommand};
use crate::{render, wiring};

pub(crate) async fn run(global: &Global, args: &RunsArgs) -> anyhow::Result<ExitCode> {
    let config = wiring::load_config(global)?;
    // Read-only: never creates the state directory; a store that does not exist yet reads empty.
    let store = wiring::workspace(config, false)?.read_only_store().await?;
    match args.command {
        None | Some(RunsCommand::List) => list(global, store.as_ref(), args.limit).await,
        Some(RunsCommand::Show { id }) => show(global, store.as_ref(), id).await,
    }
}

async fn list(global: &Global, store: &dyn StateStore, limit: usize) -> anyhow::Result<ExitCode> {
    let runs = store.runs(None, None, limit).await?;
    let mut tasks = Vec::with_capacity(runs.len());
    for r in &runs {
        // Each task's current record: a resumed run lists a re-run task once.
        tasks.push(if r.kind == orchestrator_core::tasks::RUN_KIND {
            orchestrator_core::tasks::current_records(store.task_records(Some(r.id), 10_000).await?)
        } else {
            Vec::new()
        });
    }
    match global.output {
        OutputFormat::Json => {
            let items: Vec<serde_json::Value> = runs
                .iter()
                .zip(&tasks)
                .map(|(r, t)| {
                    let mut v = serde_json::to_value(r).unwrap_or_default();
                    if !t.is_empty() {
                        v["tasks"] = serde_json::to_value(t).unwrap_or_default();
                    }
                    v
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&items)?);
        }
        OutputFormat::Human => {
            let rows: Vec<Vec<String>> = runs
                .iter()
                .zip(&tasks)
                .map(|(r, t)| {
                    let secs = r
                        .finished_at_ms
                        .map(|f| format!("{:.1}s", (f - r.started_at_ms) as f64 / 1000.0));
                    vec![
                        r.id.to_string(),
                        r.kind.clone(),
                        r.key.clone(),
                        r.status.as_str().to_owned(),
                        secs.unwrap_or_default(),
                        t.iter()
                            .map(|t| format!("{}={}", t.task, t.status))
                            .collect::<Vec<_>>()
                            .join(" "),
                    ]
                })
                .collect();
            print!(
                "{}",
                render::table(&["RUN", "KIND", "KEY", "STATUS", "TOOK", "TASKS"], &rows)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(global: &Global, store: &dyn StateStore, id: i64) -> anyhow::Result<ExitCode> {
    let not_found = || Error::invalid_input(format!("no run {id} in the state store"));
    let run = store.run(id).await?.ok_or_else(not_found)?;
    let journal = store.journal(id).await?;
    // Every record, superseded ones included: a resumed run's whole story.
    let tasks =
        orchestrator_core::tasks::task_attempts(store.task_records(Some(id), 10_000).await?);
    match global.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "run": run,
                "journal": journal,
                "tasks": tasks,
            }))?
        ),
        OutputFormat::Human => {
            println!(
                "run {} {} {}: {} (started {})",
                run.id,
                run.kind,
                run.key,
                run.status,
                orchestrator_core::tasks::format_utc_ms(run.started_at_ms)
            );
            if !tasks.is_empty() {
                println!("\ntask records:");
                print!("{}", render::task_attempts(&tasks));
            }
            println!("\njournal:");
            for r in &journal {
                let entry = serde_json::to_value(&r.entry).unwrap_or_default();
                let event = entry["event"].as_str().unwrap_or_default().to_owned();
                let step = r.entry.step().unwrap_or("");
                let detail = entry
                    .get("error")
                    .or_else(|| entry.get("summary"))
                    .or_else(|| entry.get("detail"))
                    .or_else(|| entry.get("status"))
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                println!(
                    "  {:>3}  {}  {:<16} {:<28} {}",
                    r.seq,
                    orchestrator_core::tasks::format_utc_ms(r.at_ms),
                    event,
                    step,
                    detail
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
