//! `orchestrator runs`: the run history.

use std::process::ExitCode;

use orchestrator_core::state::{SqliteStateStore, StateStore};

use crate::args::{Global, OutputFormat, RunsArgs};
use crate::{render, wiring};

pub(crate) fn run(global: &Global, args: &RunsArgs) -> anyhow::Result<ExitCode> {
    let config = wiring::load_config(global)?;
    let db = wiring::state_dir(&config).join("state.db");
    let runs = if db.exists() {
        SqliteStateStore::open(&db)?.runs(None, None, args.limit)?
    } else {
        Vec::new()
    };
    match global.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&runs)?),
        OutputFormat::Human => {
            let rows: Vec<Vec<String>> = runs
                .iter()
                .map(|r| {
                    let secs = r
                        .finished_at_ms
                        .map(|f| format!("{:.1}s", (f - r.started_at_ms) as f64 / 1000.0));
                    vec![
                        r.id.to_string(),
                        r.kind.clone(),
                        r.key.clone(),
                        r.status.as_str().to_owned(),
                        secs.unwrap_or_default(),
                    ]
                })
                .collect();
            print!(
                "{}",
                render::table(&["RUN", "KIND", "KEY", "STATUS", "TOOK"], &rows)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
