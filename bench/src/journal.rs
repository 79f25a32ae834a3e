//! Journal write latency on each state backend: the cost the engine pays before and after every
//! side effect (an append is durable when it returns). SQLite is a file in a temp dir
//! (`synchronous=FULL`, WAL); PostgreSQL is a throwaway server with its default durability
//! (`fsync` on), or the database of `ORCHESTRATOR_BENCH_STATE_URL`. `--quick` measures
//! PostgreSQL only when that URL is given (CI need not install it for the benchmarks).

use std::sync::Arc;
use std::time::Instant;

use orchestrator_core::state::{
    JournalEntry, PgStateStore, SqliteStateStore, StateStore, StateUrl,
};
use orchestrator_core::testing::PgCluster;

use crate::{Figure, Options};

/// The environment variable naming a PostgreSQL database to measure instead of a throwaway one.
const URL_VAR: &str = "ORCHESTRATOR_BENCH_STATE_URL";

pub(crate) async fn run(options: Options) -> anyhow::Result<Vec<Figure>> {
    let n = if options.quick { 50 } else { 1_000 };
    let mut figures = Vec::new();
    let dir = tempfile::tempdir()?;
    let sqlite: Arc<dyn StateStore> =
        Arc::new(SqliteStateStore::open(&dir.path().join("state.db"))?);
    figures.extend(measure("sqlite", sqlite, n).await?);

    let given = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty());
    let mut cluster = None;
    let url = match given {
        Some(url) => Some(StateUrl::parse(&url, URL_VAR)?),
        None if options.quick => None,
        None => {
            cluster = PgCluster::start_or_skip(true);
            match &cluster {
                Some(pg) => Some(StateUrl::parse(&pg.create_database("bench"), "bench")?),
                None => None,
            }
        }
    };
    if let Some(url) = url {
        let pg: Arc<dyn StateStore> = Arc::new(PgStateStore::connect(&url).await?);
        figures.extend(measure("postgres", pg, n).await?);
    } else {
        eprintln!(
            "journal: postgres not measured (give {URL_VAR}, or run without --quick with .ci/tools/postgres.sh installed)"
        );
    }
    drop(cluster);
    Ok(figures)
}

async fn measure(
    backend: &'static str,
    store: Arc<dyn StateStore>,
    n: usize,
) -> anyhow::Result<Vec<Figure>> {
    let run = store
        .begin_run("bench", backend, &serde_json::Value::Null)
        .await?;
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let entry = JournalEntry::StepSucceeded {
            step: format!("tag:pkg-{i}"),
            summary: "tagged v1.2.3 at 0123abcd".into(),
            data: serde_json::json!({"sha": "0123abcd", "tag": "v1.2.3"}),
        };
        let started = Instant::now();
        store.append(run, &entry).await?;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Ok(vec![
        Figure::new(
            "journal",
            format!("{backend}: append p50 ({n} appends)"),
            at(0.5),
            "ms",
        ),
        Figure::new("journal", format!("{backend}: append p99"), at(0.99), "ms"),
    ])
}
