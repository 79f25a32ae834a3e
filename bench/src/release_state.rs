//! A 20-repo release on each state backend: what the journal costs a whole release, not one
//! append. The same release (real git repos with bare origins, the in-memory forge with CI that
//! settles in a few milliseconds, so the state store's share is as large as it can get) runs on
//! the in-memory store, SQLite and PostgreSQL; every state call is timed through a wrapper, and
//! the wall time the durable store adds over the in-memory one is set against the release's
//! floor with one-minute CI (the time a real release of this DAG cannot beat).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use orchestrator_core::config::Config;
use orchestrator_core::forge::{CiSimulation, InMemoryForge};
use orchestrator_core::release::{ReleaseRequest, Releaser};
use orchestrator_core::state::{
    Holder, JournalEntry, JournalRecord, LockGuard, MemoryStateStore, PgStateStore, RunId,
    RunStatus, RunSummary, SqliteStateStore, StateStore, StateUrl, TaskRecord,
};
use orchestrator_core::testing::PgCluster;
use orchestrator_core::version::ReleaseVersion;
use orchestrator_git::GixVcs;
use orchestrator_git::sandbox::Sandbox;

use crate::{Figure, Options};

/// The CI duration the overhead is set against: one minute per wave, short for real CI.
const REAL_CI: Duration = Duration::from_secs(60);

/// Five waves of four repos; each repo depends on two of the wave before (a realistic fan-in).
fn repo_set(n: usize) -> Vec<(String, Vec<String>)> {
    (0..n)
        .map(|i| {
            let deps = if i < 4 {
                Vec::new()
            } else {
                let wave = i / 4 - 1;
                vec![
                    format!("r{:02}", wave * 4 + i % 4),
                    format!("r{:02}", wave * 4 + (i + 1) % 4),
                ]
            };
            (format!("r{i:02}"), deps)
        })
        .collect()
}

/// A `StateStore` that sums the time spent in every call of the one it wraps.
#[derive(Debug)]
struct Timed {
    inner: Arc<dyn StateStore>,
    nanos: AtomicU64,
    calls: AtomicU64,
}

impl Timed {
    fn new(inner: Arc<dyn StateStore>) -> Self {
        Self {
            inner,
            nanos: AtomicU64::new(0),
            calls: AtomicU64::new(0),
        }
    }

    async fn time<T>(&self, call: impl std::future::Future<Output = T>) -> T {
        let started = Instant::now();
        let out = call.await;
        self.nanos
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        self.calls.fetch_add(1, Ordering::Relaxed);
        out
    }

    fn spent(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Relaxed))
    }
}

type R<T> = orchestrator_core::Result<T>;

#[async_trait]
impl StateStore for Timed {
    async fn begin_run(&self, kind: &str, key: &str, params: &serde_json::Value) -> R<RunId> {
        self.time(self.inner.begin_run(kind, key, params)).await
    }
    async fn append(&self, run: RunId, entry: &JournalEntry) -> R<()> {
        self.time(self.inner.append(run, entry)).await
    }
    async fn journal(&self, run: RunId) -> R<Vec<JournalRecord>> {
        self.time(self.inner.journal(run)).await
    }
    async fn set_status(&self, run: RunId, status: RunStatus) -> R<()> {
        self.time(self.inner.set_status(run, status)).await
    }
    async fn runs(
        &self,
        kind: Option<&str>,
        key: Option<&str>,
        limit: usize,
    ) -> R<Vec<RunSummary>> {
        self.time(self.inner.runs(kind, key, limit)).await
    }
    async fn run(&self, run: RunId) -> R<Option<RunSummary>> {
        self.time(self.inner.run(run)).await
    }
    async fn record_task(&self, record: &TaskRecord) -> R<()> {
        self.time(self.inner.record_task(record)).await
    }
    async fn task_records(&self, run: Option<RunId>, limit: usize) -> R<Vec<TaskRecord>> {
        self.time(self.inner.task_records(run, limit)).await
    }
    async fn claim_run(&self, run: RunId, holder: &Holder) -> R<()> {
        self.time(self.inner.claim_run(run, holder)).await
    }
    async fn claim_holder(&self, run: RunId) -> R<Option<Holder>> {
        self.time(self.inner.claim_holder(run)).await
    }
    async fn lock_workspace(&self, holder: &Holder) -> R<LockGuard> {
        self.time(self.inner.lock_workspace(holder)).await
    }
}

/// One release of `repos` fresh sandbox repos on `store`: wall time, time in the store, calls.
async fn release_on(store: Arc<dyn StateStore>, repos: usize) -> anyhow::Result<(f64, f64, u64)> {
    let dir = tempfile::tempdir()?;
    let sandbox = Sandbox::new(dir.path())?;
    let mut text = String::from(
        "[forge]\nowner = \"bench\"\n[release]\npoll_interval = \"5ms\"\ntimeout = \"5m\"\nstable_polls = 1\n",
    );
    for (name, deps) in repo_set(repos) {
        sandbox.create_repo(&name, &[("README.md", &name)])?;
        let deps: Vec<String> = deps.iter().map(|d| format!("{d:?}")).collect();
        text.push_str(&format!(
            "[[repo]]\nname = \"{name}\"\ndepends_on = [{}]\nassets = [\"{name}-v{{version}}.tgz\"]\n",
            deps.join(", ")
        ));
    }
    let file = dir.path().join("orchestrator.toml");
    std::fs::write(&file, text)?;
    let config = Arc::new(Config::load(&file)?);
    let sim = CiSimulation::for_config(
        &config,
        Duration::from_millis(2),
        Duration::from_millis(1),
        |repo| Some(sandbox.repo(&repo.name).origin),
    );
    let timed = Arc::new(Timed::new(store));
    let releaser = Releaser::new(
        config,
        Arc::new(InMemoryForge::with_ci(sim)),
        Arc::new(GixVcs::new()),
        timed.clone(),
    );
    let started = Instant::now();
    let report = releaser
        .run(&ReleaseRequest::new(ReleaseVersion::parse("1.0.0")?))
        .await?;
    let wall = started.elapsed();
    anyhow::ensure!(
        report.status == RunStatus::Succeeded,
        "release failed: {report:?}"
    );
    Ok((
        wall.as_secs_f64() * 1000.0,
        timed.spent().as_secs_f64() * 1000.0,
        timed.calls.load(Ordering::Relaxed),
    ))
}

pub(crate) async fn run(options: Options) -> anyhow::Result<Vec<Figure>> {
    let repos: usize = if options.quick { 8 } else { 20 };
    let dir = tempfile::tempdir()?;
    let mut backends: Vec<(&'static str, Arc<dyn StateStore>)> = vec![
        ("memory", Arc::new(MemoryStateStore::default())),
        (
            "sqlite",
            Arc::new(SqliteStateStore::open(&dir.path().join("state.db"))?),
        ),
    ];
    let cluster = if options.quick {
        None
    } else {
        PgCluster::start_or_skip(true)
    };
    if let Some(pg) = &cluster {
        let url = StateUrl::parse(&pg.create_database("release_bench"), "bench")?;
        backends.push(("postgres", Arc::new(PgStateStore::connect(&url).await?)));
    } else {
        eprintln!(
            "release-state: postgres not measured (--quick, or .ci/tools/postgres.sh not installed)"
        );
    }
    // The floor of this release with real CI: one CI duration per wave of the DAG.
    let waves = repos.div_ceil(4) as f64;
    let floor_ms = waves * REAL_CI.as_secs_f64() * 1000.0;
    let mut figures = Vec::new();
    let mut memory_wall = None;
    for (name, store) in backends {
        let (wall, in_store, calls) = release_on(store, repos).await?;
        let base = *memory_wall.get_or_insert(wall);
        figures.push(Figure::new(
            "state",
            format!("{name}: {repos}-repo release, wall"),
            wall,
            "ms",
        ));
        figures.push(Figure::new(
            "state",
            format!("{name}: mean state call ({calls} calls, concurrent)"),
            in_store / calls.max(1) as f64,
            "ms",
        ));
        if name != "memory" {
            let overhead = (wall - base).max(0.0);
            figures.push(
                Figure::new(
                    "state",
                    format!("{name}: wall added vs in-memory store"),
                    overhead,
                    "ms",
                )
                .target(
                    format!("< 1% of floor ({:.0} s)", floor_ms / 1000.0),
                    overhead < floor_ms * 0.01,
                ),
            );
        }
    }
    drop(cluster);
    Ok(figures)
}
