//! The state store contract: journals, run history, task records, and the coordination of
//! runners (workspace lock, run claims, interrupted runs, abandoning).
//!
//! Every backend runs it ([`MemoryStateStore`](crate::state::MemoryStateStore),
//! [`SqliteStateStore`](crate::state::SqliteStateStore),
//! [`PgStateStore`](crate::state::PgStateStore)) through a [`Runners`] that opens runners on one
//! shared state: a runner is what a process is to a database (its own claims and locks, which end
//! when it is dropped, as a killed process's do). Each behaviour uses its own run kinds, so the
//! functions can run one after another on the same state.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::error::Error;
use crate::state::{Holder, JournalEntry, RunStatus, StateStore, TaskRecord};

/// Opens runners on the state under test.
#[async_trait]
pub trait Runners: Send + Sync {
    /// A new runner on the shared state. Dropping every handle to it ends it (its claims and
    /// locks read as gone, possibly after a moment: see [`eventually`]).
    async fn runner(&self) -> Arc<dyn StateStore>;
}

/// Polls `probe` until it returns true, for at most ten seconds: a database notices a dropped
/// session asynchronously. Not a timing assertion; the bound only keeps a broken backend from
/// hanging the suite.
pub async fn eventually<F, Fut>(what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !probe().await {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Begin, append, read back, finish, resume lookup, and history order.
pub async fn journal_and_history(runners: &dyn Runners) {
    let store = runners.runner().await;
    let params = serde_json::json!({"version": "1.2.3"});
    let first = store
        .begin_run("c-release", "1.2.3", &params)
        .await
        .expect("begin");
    store
        .append(
            first,
            &JournalEntry::StepStarted {
                step: "tag:a".into(),
            },
        )
        .await
        .expect("append");
    store
        .append(
            first,
            &JournalEntry::StepSucceeded {
                step: "tag:a".into(),
                summary: "tagged".into(),
                data: serde_json::json!({"sha": "abc"}),
            },
        )
        .await
        .expect("append");
    let running = store.run(first).await.expect("run").expect("exists");
    assert_eq!(running.status, RunStatus::Running, "its runner is alive");
    assert_eq!(running.finished_at_ms, None);
    store
        .set_status(first, RunStatus::Failed)
        .await
        .expect("status");
    let journal = store.journal(first).await.expect("journal");
    assert_eq!(journal.len(), 2);
    assert_eq!((journal[0].seq, journal[1].seq), (1, 2));
    assert!(journal[1].entry.completes_step());
    assert_eq!(
        journal[1].entry,
        JournalEntry::StepSucceeded {
            step: "tag:a".into(),
            summary: "tagged".into(),
            data: serde_json::json!({"sha": "abc"}),
        }
    );
    let resumable = store
        .resumable("c-release", "1.2.3")
        .await
        .expect("query")
        .expect("a failed run");
    assert_eq!(resumable.id, first);
    assert_eq!(resumable.params, params);
    assert!(resumable.finished_at_ms.is_some());
    let second = store
        .begin_run("c-release", "1.2.3", &params)
        .await
        .expect("begin");
    store
        .set_status(second, RunStatus::Succeeded)
        .await
        .expect("status");
    assert!(
        store
            .resumable("c-release", "1.2.3")
            .await
            .expect("query")
            .is_none()
    );
    assert!(
        store
            .resumable("c-release", "9.9.9")
            .await
            .expect("query")
            .is_none()
    );
    let runs = store.runs(Some("c-release"), None, 10).await.expect("runs");
    assert_eq!(
        runs.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![second, first]
    );
    assert_eq!(
        store
            .runs(Some("c-release"), Some("1.2.3"), 1)
            .await
            .expect("runs")
            .len(),
        1
    );
    assert!(store.run(i64::from(i32::MAX)).await.expect("run").is_none());
    assert!(matches!(
        store
            .set_status(i64::from(i32::MAX), RunStatus::Failed)
            .await,
        Err(Error::NotFound { .. })
    ));
}

/// Task records: per run in order stored, and across runs newest run first.
pub async fn task_records(runners: &dyn Runners) {
    let store = runners.runner().await;
    let first = store
        .begin_run("c-tasks", "a", &serde_json::Value::Null)
        .await
        .expect("begin");
    let second = store
        .begin_run("c-tasks", "b", &serde_json::Value::Null)
        .await
        .expect("begin");
    let record = TaskRecord {
        task: "infra.scale".into(),
        run_id: second,
        status: "awaiting_approval".into(),
        started_at: "2026-01-01T00:00:00.000Z".into(),
        finished_at: "2026-01-01T00:00:01.500Z".into(),
        duration_ms: 1500,
        outputs_uri: Some("https://github.com/o/r/pull/1".into()),
        approval_state: Some("pending".into()),
        log_excerpt: "awaiting_approval".into(),
    };
    store.record_task(&record).await.expect("record");
    let skipped = TaskRecord {
        task: "seo.validate".into(),
        status: "skipped".into(),
        outputs_uri: None,
        approval_state: None,
        ..record.clone()
    };
    store.record_task(&skipped).await.expect("record");
    let older = TaskRecord {
        run_id: first,
        task: "older".into(),
        ..skipped.clone()
    };
    store.record_task(&older).await.expect("record");
    assert_eq!(
        store.task_records(Some(second), 10).await.expect("records"),
        vec![record.clone(), skipped.clone()]
    );
    assert_eq!(
        store.task_records(Some(first), 10).await.expect("records"),
        vec![older.clone()]
    );
    let all = store.task_records(None, 100).await.expect("records");
    let mine: Vec<_> = all
        .into_iter()
        .filter(|t| t.run_id == first || t.run_id == second)
        .collect();
    assert_eq!(mine, vec![record, skipped, older]);
}

/// A run whose runner is gone reads `interrupted`, never `running`, and is what `--resume`
/// continues.
pub async fn a_dead_runners_run_reads_interrupted(runners: &dyn Runners) {
    let observer = runners.runner().await;
    let doomed = runners.runner().await;
    let run = doomed
        .begin_run("c-interrupted", "nightly", &serde_json::Value::Null)
        .await
        .expect("begin");
    assert_eq!(
        observer
            .run(run)
            .await
            .expect("run")
            .expect("exists")
            .status,
        RunStatus::Running,
        "a live runner's run is running"
    );
    drop(doomed);
    eventually("the dead runner's run reads interrupted", || async {
        observer
            .run(run)
            .await
            .expect("run")
            .expect("exists")
            .status
            == RunStatus::Interrupted
    })
    .await;
    let listed = observer
        .runs(Some("c-interrupted"), None, 10)
        .await
        .expect("runs");
    assert_eq!(listed[0].status, RunStatus::Interrupted);
    assert_eq!(
        observer
            .resumable("c-interrupted", "nightly")
            .await
            .expect("query")
            .map(|r| r.id),
        Some(run)
    );
    assert_eq!(
        observer
            .unfinished("c-interrupted")
            .await
            .expect("query")
            .map(|r| r.id),
        Some(run)
    );
}

/// Two runners never drive the same run: a live claim is refused naming its holder; a dead
/// runner's claim is taken over.
pub async fn claims_exclude_live_runners_and_pass_from_dead_ones(runners: &dyn Runners) {
    let first = runners.runner().await;
    let second = runners.runner().await;
    let run = first
        .begin_run("c-claims", "1.0.0", &serde_json::Value::Null)
        .await
        .expect("begin");
    let me = Holder::current("resume c-claims");
    first.claim_run(run, &me).await.expect("its own run again");
    let err = second
        .claim_run(run, &me)
        .await
        .expect_err("claimed by a live runner");
    assert!(matches!(err, Error::Busy { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("pid {}", std::process::id())),
        "names the holder: {err}"
    );
    assert_eq!(err.exit_code(), 2);
    let holder = second
        .claim_holder(run)
        .await
        .expect("query")
        .expect("held");
    assert_eq!(holder.pid, std::process::id());
    assert!(matches!(
        second.claim_run(i64::from(i32::MAX), &me).await,
        Err(Error::NotFound { .. })
    ));
    drop(first);
    eventually("the dead runner's claim can be taken over", || async {
        second.claim_run(run, &me).await.is_ok()
    })
    .await;
    assert_eq!(
        second.run(run).await.expect("run").expect("exists").status,
        RunStatus::Running,
        "driven again by a live runner"
    );
    assert_eq!(
        second.claim_holder(run).await.expect("query"),
        Some(me.clone())
    );
    let third = runners.runner().await;
    assert!(
        matches!(third.claim_run(run, &me).await, Err(Error::Busy { .. })),
        "the new holder is protected in turn"
    );
    second
        .set_status(run, RunStatus::Succeeded)
        .await
        .expect("finish");
    assert_eq!(
        third.claim_holder(run).await.expect("query"),
        None,
        "a finished run's claim ends"
    );
    assert_eq!(
        third.run(run).await.expect("run").expect("exists").status,
        RunStatus::Succeeded
    );
}

/// One runner at a time holds the workspace lock; the refusal names the holder; dropping the
/// guard (or the runner) frees it.
pub async fn the_workspace_lock_admits_one_runner(runners: &dyn Runners) {
    let first = runners.runner().await;
    let second = runners.runner().await;
    let guard = first
        .lock_workspace(&Holder::current("c-lock first"))
        .await
        .expect("free");
    let err = second
        .lock_workspace(&Holder::current("c-lock second"))
        .await
        .expect_err("held");
    assert!(err.to_string().contains("c-lock first"), "{err}");
    assert_eq!(err.exit_code(), 2);
    drop(guard);
    eventually("the lock is free once its guard is dropped", || async {
        // Taken and dropped at once: the probe's guard is released before the next attempt.
        second
            .lock_workspace(&Holder::current("c-lock second"))
            .await
            .is_ok()
    })
    .await;
}

/// `--abandon`: recorded in the journal, final, never resumed, refused while a live runner
/// drives the run and for a run already final.
pub async fn abandoning_ends_an_unfinished_run_for_good(runners: &dyn Runners) {
    let observer = runners.runner().await;
    let doomed = runners.runner().await;
    let run = doomed
        .begin_run("c-abandon", "nightly", &serde_json::Value::Null)
        .await
        .expect("begin");
    let me = Holder::current("c-abandon");
    assert!(
        matches!(observer.abandon(run, &me).await, Err(Error::Busy { .. })),
        "a live runner's run is not abandoned under it"
    );
    drop(doomed);
    eventually("the dead runner's run can be abandoned", || async {
        observer.abandon(run, &me).await.is_ok()
    })
    .await;
    assert_eq!(
        observer
            .run(run)
            .await
            .expect("run")
            .expect("exists")
            .status,
        RunStatus::Abandoned
    );
    let journal = observer.journal(run).await.expect("journal");
    assert_eq!(
        journal.last().map(|r| &r.entry),
        Some(&JournalEntry::RunFinished {
            status: RunStatus::Abandoned
        })
    );
    assert!(
        observer
            .resumable("c-abandon", "nightly")
            .await
            .expect("query")
            .is_none()
    );
    assert!(
        observer
            .unfinished("c-abandon")
            .await
            .expect("query")
            .is_none()
    );
    let err = observer.abandon(run, &me).await.expect_err("already final");
    assert!(err.to_string().contains("abandoned"), "{err}");
    assert_eq!(err.exit_code(), 2);
}

/// Every behaviour, in order, on one shared state.
pub async fn run_all(runners: &dyn Runners) {
    journal_and_history(runners).await;
    task_records(runners).await;
    a_dead_runners_run_reads_interrupted(runners).await;
    claims_exclude_live_runners_and_pass_from_dead_ones(runners).await;
    the_workspace_lock_admits_one_runner(runners).await;
    abandoning_ends_an_unfinished_run_for_good(runners).await;
}
