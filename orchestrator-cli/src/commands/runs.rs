//! `orchestrator runs [list]` and `orchestrator runs show <id>`: the run history, journals and
//! task records, read from whichever store the workspace uses (SQLite, or the PostgreSQL
//! database of `ORCHESTRATOR_STATE_URL` / `[state] url`) without changing it. A run whose runner
//! is gone shows as `interrupted`, never `running`.

use std::process::ExitCode;

use orchestrator_core::Error;
use std::sync::Arc;

use orchestrator_core::state::{Holder, PgStateStore, SqliteStateStore, StateStore};

use crate::args::{Global, OutputFormat, RunsArgs, RunsCommand};
use crate::{render, wiring};

pub(crate) async fn run(global: &Global, args: &RunsArgs) -> anyhow::Result<ExitCode> {
    let config = wiring::load_config(global)?;
    let store: Option<Arc<dyn StateStore>> = match config.state.effective_url()? {
        Some(url) => PgStateStore::connect_read_only(&url)
            .await?
            .map(|s| Arc::new(s) as Arc<dyn StateStore>),
        None => {
            let db = wiring::state_dir(&config).join("state.db");
            if db.exists() {
                Some(Arc::new(SqliteStateStore::open_read_only(&db)?))
            } else {
                None
            }
        }
    };
    let store = store.as_deref();
    match args.command {
        None | Some(RunsCommand::List) => list(global, store, args.limit).await,
        Some(RunsCommand::Show { id }) => show(global, store, id).await,
    }
}

async fn list(
    global: &Global,
    store: Option<&dyn StateStore>,
    limit: usize,
) -> anyhow::Result<ExitCode> {
    let runs = match store {
        Some(s) => s.runs(None, None, limit).await?,
        None => Vec::new(),
    };
    let mut tasks = Vec::with_capacity(runs.len());
    for r in &runs {
        tasks.push(match store {
            // Each task's current record: a resumed run lists a re-run task once.
            Some(s) if r.kind == orchestrator_core::tasks::RUN_KIND => {
                orchestrator_core::tasks::current_records(s.task_records(Some(r.id), 10_000).await?)
            }
            _ => Vec::new(),
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

async fn show(
    global: &Global,
    store: Option<&dyn StateStore>,
    id: i64,
) -> anyhow::Result<ExitCode> {
    let not_found = || Error::invalid_input(format!("no run {id} in the state store"));
    let store = store.ok_or_else(not_found)?;
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

/// `publish --abandon RUN` / `cascade --abandon RUN`: gives up an unfinished run of `kind` for
/// good, under the workspace lock, recording it in the run's journal.
pub(crate) async fn abandon(global: &Global, kind: &str, run: i64) -> anyhow::Result<()> {
    let config = wiring::load_config(global)?;
    let _lock = wiring::lock_workspace(&wiring::state_dir(&config), &format!("{kind} --abandon"))?;
    let store = wiring::open_store(&config, false).await?;
    let summary = store
        .run(run)
        .await?
        .ok_or_else(|| Error::invalid_input(format!("--abandon {run}: no run {run}")))?;
    if summary.kind != kind {
        return Err(Error::invalid_input(format!(
            "--abandon {run}: run {run} is a {}, not a {kind}",
            summary.kind
        ))
        .into());
    }
    let summary = store
        .abandon(run, &Holder::current(format!("{kind} --abandon {run}")))
        .await?;
    eprintln!(
        "abandoned {kind} run {run} ({}); its journal records it and --resume will not continue it",
        summary.key
    );
    Ok(())
}

/// The refusal to start a run of `kind` beside unfinished run `run`: one line naming it, its
/// state, and both ways out (exit 2, nothing changed).
pub(crate) async fn unfinished_refusal(
    store: &dyn StateStore,
    kind: &str,
    run: i64,
    what: &str,
) -> Error {
    let status = match store.run(run).await {
        Ok(Some(summary)) => summary.status.to_string(),
        _ => "unfinished".into(),
    };
    Error::invalid_input(format!(
        "{kind} run {run} ({what}) is {status} and did not finish: `{kind} --resume` finishes it, \
         `{kind} --abandon {run}` gives it up (recorded in its journal) so a new {kind} can start"
    ))
}
