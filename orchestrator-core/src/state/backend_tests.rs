//! The state contract and a crash harness on every backend, PostgreSQL included (a throwaway
//! server from [`crate::testing::PgCluster`]; skipped, or failed in CI, when it is not installed).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::*;
use crate::conformance::state::{Runners, run_all};
use crate::engine::{Engine, EngineOptions, Plan, PlannedStep};
use crate::step::{Check, Step, StepContext, StepOutput};
use crate::testing::PgCluster;

/// Runners on one in-memory state: each a peer session of the first.
struct MemoryRunners(MemoryStateStore);

#[async_trait]
impl Runners for MemoryRunners {
    async fn runner(&self) -> Arc<dyn StateStore> {
        Arc::new(self.0.peer())
    }
}

/// Runners on one SQLite file: each its own connection (and claim session).
struct SqliteRunners(tempfile::TempDir);

#[async_trait]
impl Runners for SqliteRunners {
    async fn runner(&self) -> Arc<dyn StateStore> {
        Arc::new(SqliteStateStore::open(&self.0.path().join("state.db")).expect("open"))
    }
}

/// Runners on one PostgreSQL database: each its own session.
struct PgRunners(StateUrl);

#[async_trait]
impl Runners for PgRunners {
    async fn runner(&self) -> Arc<dyn StateStore> {
        Arc::new(PgStateStore::connect(&self.0).await.expect("connect"))
    }
}

fn pg_url(pg: &PgCluster, db: &str) -> StateUrl {
    StateUrl::parse(&pg.create_database(db), "test").expect("url")
}

#[tokio::test]
async fn memory_store_keeps_the_contract() {
    run_all(&MemoryRunners(MemoryStateStore::default())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_keeps_the_contract_and_survives_reopen() {
    let runners = SqliteRunners(tempfile::tempdir().expect("tempdir"));
    run_all(&runners).await;
    let reopened = runners.runner().await;
    assert_eq!(
        reopened
            .runs(Some("c-release"), None, 10)
            .await
            .expect("runs")
            .len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_keeps_the_contract_and_survives_reconnect() {
    let Some(pg) = PgCluster::start_or_skip(false) else {
        return;
    };
    let runners = PgRunners(pg_url(&pg, "conformance"));
    run_all(&runners).await;
    let reconnected = runners.runner().await;
    assert_eq!(
        reconnected
            .runs(Some("c-release"), None, 10)
            .await
            .expect("runs")
            .len(),
        2
    );
    // A second connect finds the schema current and migrates nothing.
    drop(PgStateStore::connect(&runners.0).await.expect("again"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_store_refuses_a_newer_schema_and_never_shows_its_password() {
    let Some(pg) = PgCluster::start_or_skip(false) else {
        return;
    };
    let url = pg_url(&pg, "newer");
    let store = PgStateStore::connect(&url).await.expect("connect");
    assert!(!format!("{store:?}").contains("sslmode"));
    store
        .client_for_tests()
        .execute(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum)
             VALUES (99, 'future', '2030-01-01T00:00:00Z', '1')",
            &[],
        )
        .await
        .expect("future");
    drop(store);
    let err = PgStateStore::connect(&url).await.expect_err("too new");
    assert!(err.to_string().contains("schema version 99"), "{err}");
    // A wrong password is reported without the password.
    let bad = StateUrl::parse(
        &format!("postgres://nobody:hunter2@127.0.0.1:{}/newer", pg.port()),
        "test",
    )
    .expect("url");
    let err = PgStateStore::connect(&bad).await.expect_err("no such role");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

/// A step whose effect is a mark in a shared map; its check sees the mark, so a step whose
/// effect landed before a crash is never applied again.
#[derive(Debug)]
struct Mark {
    id: String,
    effects: Arc<Mutex<BTreeMap<String, usize>>>,
}

#[async_trait]
impl Step for Mark {
    fn id(&self) -> &str {
        &self.id
    }
    fn describe(&self) -> String {
        format!("mark {}", self.id)
    }
    async fn check(&self, _: &StepContext) -> crate::Result<Check> {
        let effects = self.effects.lock().unwrap_or_else(|p| p.into_inner());
        Ok(if effects.contains_key(&self.id) {
            Check::Done("marked".into())
        } else {
            Check::Pending("not marked".into())
        })
    }
    async fn apply(&self, _: &StepContext) -> crate::Result<StepOutput> {
        *self
            .effects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(self.id.clone())
            .or_default() += 1;
        Ok(StepOutput::summary("marked"))
    }
}

fn chain(effects: &Arc<Mutex<BTreeMap<String, usize>>>) -> Plan {
    let ids = ["a", "b", "c"];
    Plan::new(
        ids.iter()
            .enumerate()
            .map(|(i, id)| PlannedStep {
                step: Arc::new(Mark {
                    id: (*id).into(),
                    effects: effects.clone(),
                }),
                after: if i == 0 {
                    vec![]
                } else {
                    vec![ids[i - 1].into()]
                },
            })
            .collect(),
    )
    .expect("plan")
}

/// The crash harness: the runner dies before each journal write in turn; a new runner finds the
/// run interrupted, takes it over and finishes it, and every effect happened exactly once.
async fn crash_at_every_write(runners: &dyn Runners) {
    // 3 steps x (started, succeeded) + finished.
    let writes = 7;
    for k in 1..=writes {
        let effects = Arc::new(Mutex::new(BTreeMap::new()));
        let plan = chain(&effects);
        let key = format!("crash-{k}");
        let dying = runners.runner().await;
        let run = dying
            .begin_run("crash", &key, &serde_json::Value::Null)
            .await
            .expect("begin");
        let faulty: Arc<dyn StateStore> =
            Arc::new(FaultyStateStore::crash_at_append(dying.clone(), k));
        let crashed = Engine::new(faulty.clone(), EngineOptions::default())
            .run(&plan, run)
            .await;
        assert!(crashed.is_err(), "write {k}: the run stopped");
        drop(faulty);
        drop(dying);
        let next = runners.runner().await;
        crate::conformance::state::eventually("the dead runner's run is interrupted", || async {
            next.resumable("crash", &key)
                .await
                .expect("query")
                .is_some_and(|r| r.id == run && r.status == RunStatus::Interrupted)
        })
        .await;
        let report = Engine::new(next.clone(), EngineOptions::default())
            .run(&plan, run)
            .await
            .expect("resume");
        assert_eq!(report.status, RunStatus::Succeeded, "write {k}");
        let effects = effects.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(
            effects,
            BTreeMap::from([("a".into(), 1), ("b".into(), 1), ("c".into(), 1)]),
            "write {k}: every effect exactly once"
        );
        assert_eq!(
            next.run(run).await.expect("run").expect("exists").status,
            RunStatus::Succeeded
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_harness_on_sqlite() {
    crash_at_every_write(&SqliteRunners(tempfile::tempdir().expect("tempdir"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_harness_on_postgres() {
    let Some(pg) = PgCluster::start_or_skip(false) else {
        return;
    };
    crash_at_every_write(&PgRunners(pg_url(&pg, "crash"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_workspace_lock_names_its_live_holder_only_while_held() {
    let Some(pg) = PgCluster::start_or_skip(false) else {
        return;
    };
    let url = pg_url(&pg, "holder");
    let first = PgStateStore::connect(&url).await.expect("connect");
    let second = PgStateStore::connect(&url).await.expect("connect");
    assert_eq!(second.workspace_lock_holder().await.expect("query"), None);
    let holder = Holder::current("run nightly");
    let guard = first.lock_workspace(&holder).await.expect("free");
    assert_eq!(
        second.workspace_lock_holder().await.expect("query"),
        Some(holder)
    );
    drop(guard);
    crate::conformance::state::eventually("a released lock names nobody", || async {
        second
            .workspace_lock_holder()
            .await
            .expect("query")
            .is_none()
    })
    .await;
}
