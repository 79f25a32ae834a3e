//! Task-list runs and `--resume` over the in-memory store, with real (tiny) shell commands that
//! log each run to a file, so "not run again" is observed, not assumed.

use std::path::Path;

use super::*;
use crate::state::{FaultyStateStore, MemoryStateStore};

/// `a` succeeds; `b` fails until the file `fixed` exists; `c` proposes and awaits approval; `d`
/// is gated on `ENABLE_D=1`. Each appends its name to `ran.log` when it runs.
const CONFIG: &str = r#"
[[tasks.nightly]]
name = "a"
run = ["/bin/sh", "-c", "echo a >> ran.log"]

[[tasks.nightly]]
name = "b"
run = ["/bin/sh", "-c", "echo b >> ran.log; test -f fixed || { echo broken >&2; exit 3; }"]

[[tasks.nightly]]
name = "c"
run = ["/bin/sh", "-c", "echo c >> ran.log; echo outputs_uri=https://github.com/o/r/pull/9; echo awaiting_approval"]

[[tasks.nightly]]
name = "d"
run = ["/bin/sh", "-c", "echo d >> ran.log"]
enabled = "ENABLE_D=1"
"#;

struct Fixture {
    dir: tempfile::TempDir,
    config: Config,
}

impl Fixture {
    fn new() -> Self {
        Self::with_config(CONFIG)
    }

    fn with_config(text: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("orchestrator.toml");
        std::fs::write(&file, text).expect("config");
        let config = Config::parse(text, &file).expect("valid config");
        Self { dir, config }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    async fn plan(&self, store: &dyn StateStore, resume: bool, skip: &[&str]) -> Result<TasksPlan> {
        let request = TasksRequest {
            list: "nightly".into(),
            skip: skip.iter().map(|s| (*s).to_owned()).collect(),
            resume,
        };
        let path = std::env::var("PATH").unwrap_or_default();
        plan_tasks(
            &self.config,
            &request,
            BTreeMap::from([("PATH".to_owned(), path)]),
            store,
        )
        .await
    }

    /// The tasks that ran, in order, across every attempt.
    fn ran(&self) -> Vec<String> {
        std::fs::read_to_string(self.path().join("ran.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

fn statuses(records: &[TaskRecord]) -> Vec<(&str, &str)> {
    records
        .iter()
        .map(|r| (r.task.as_str(), r.status.as_str()))
        .collect()
}

#[tokio::test]
async fn resume_runs_only_the_failed_task_and_keeps_the_other_records() {
    let fx = Fixture::new();
    let store: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
    let runner = TaskRunner::new(store.clone());

    let first = runner
        .execute(&fx.plan(store.as_ref(), false, &[]).await.expect("plan"))
        .await
        .expect("run");
    assert_eq!(first.status, RunStatus::Failed);
    assert!(!first.resumed);
    assert_eq!(fx.ran(), ["a", "b", "c"]);
    let kept_a = first.records[0].clone();

    std::fs::write(fx.path().join("fixed"), "").expect("fix b");
    let plan = fx.plan(store.as_ref(), true, &[]).await.expect("plan");
    assert_eq!(plan.resume_run, Some(first.run_id));
    let done: Vec<(&str, Option<&str>)> = plan
        .tasks
        .iter()
        .map(|t| (t.name.as_str(), t.done.as_deref()))
        .collect();
    assert_eq!(
        done,
        [
            ("a", Some("succeeded")),
            ("b", None),
            ("c", Some("awaiting_approval")),
            ("d", Some("skipped")),
        ]
    );

    let resumed = runner.execute(&plan).await.expect("resume");
    assert_eq!(resumed.status, RunStatus::Succeeded);
    assert_eq!(resumed.run_id, first.run_id, "the same run, continued");
    assert!(resumed.resumed);
    assert_eq!(resumed.kept, ["a", "c", "d"]);
    assert_eq!(fx.ran(), ["a", "b", "c", "b"], "only b ran again");
    assert_eq!(
        statuses(&resumed.records),
        [
            ("a", "succeeded"),
            ("b", "succeeded"),
            ("c", "awaiting_approval"),
            ("d", "skipped"),
        ]
    );
    assert_eq!(resumed.records[0], kept_a, "a's record stays as it was");
    assert_eq!(
        resumed.records[2].outputs_uri.as_deref(),
        Some("https://github.com/o/r/pull/9")
    );

    // The run's whole story: b's failed record is kept, superseded by its second attempt.
    let attempts = task_attempts(
        store
            .task_records(Some(first.run_id), 100)
            .await
            .expect("records"),
    );
    let story: Vec<(&str, &str, u32, bool)> = attempts
        .iter()
        .map(|a| {
            (
                a.record.task.as_str(),
                a.record.status.as_str(),
                a.attempt,
                a.superseded,
            )
        })
        .collect();
    assert_eq!(
        story,
        [
            ("a", "succeeded", 1, false),
            ("b", "failed", 1, true),
            ("c", "awaiting_approval", 1, false),
            ("d", "skipped", 1, false),
            ("b", "succeeded", 2, false),
        ]
    );
    let run = store.run(first.run_id).await.expect("run").expect("exists");
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(store.runs(None, None, 10).await.expect("runs").len(), 1);

    // Nothing unfinished now: --resume plans a new run, as release and publish do.
    let plan = fx.plan(store.as_ref(), true, &[]).await.expect("plan");
    assert_eq!(plan.resume_run, None);
    assert!(plan.done().next().is_none());
    let fresh = runner.execute(&plan).await.expect("run");
    assert_ne!(fresh.run_id, first.run_id);
    assert!(!fresh.resumed);
    assert_eq!(fx.ran(), ["a", "b", "c", "b", "a", "b", "c"]);
}

#[tokio::test]
async fn resume_applies_todays_gates_and_skips_to_the_tasks_it_runs() {
    let fx = Fixture::new();
    let store: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
    let runner = TaskRunner::new(store.clone());
    let first = runner
        .execute(&fx.plan(store.as_ref(), false, &[]).await.expect("plan"))
        .await
        .expect("run");
    assert_eq!(first.status, RunStatus::Failed);
    // b still fails; skipping it on the resume finishes the run with b recorded as skipped.
    let plan = fx.plan(store.as_ref(), true, &["b"]).await.expect("plan");
    assert!(!plan.tasks[1].runs);
    let resumed = runner.execute(&plan).await.expect("resume");
    assert_eq!(resumed.status, RunStatus::Succeeded);
    assert_eq!(resumed.run_id, first.run_id);
    assert_eq!(fx.ran(), ["a", "b", "c"]);
    assert_eq!(resumed.records[1].status, "skipped");
    assert_eq!(resumed.records[1].log_excerpt, "skipped by --skip");
}

#[tokio::test]
async fn a_cancelled_run_resumes_with_the_tasks_it_did_not_start() {
    let fx = Fixture::new();
    std::fs::write(fx.path().join("fixed"), "").expect("b passes");
    let store: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
    let cancel = CancelToken::new();
    cancel.cancel();
    let stopped = TaskRunner::new(store.clone())
        .with_cancel(cancel)
        .execute(&fx.plan(store.as_ref(), false, &[]).await.expect("plan"))
        .await
        .expect("run");
    assert_eq!(stopped.status, RunStatus::Cancelled);
    assert!(stopped.records.is_empty() && fx.ran().is_empty());
    let plan = fx.plan(store.as_ref(), true, &[]).await.expect("plan");
    assert_eq!(plan.resume_run, Some(stopped.run_id));
    let resumed = TaskRunner::new(store.clone())
        .execute(&plan)
        .await
        .expect("resume");
    assert_eq!(resumed.status, RunStatus::Succeeded);
    assert!(resumed.kept.is_empty());
    assert_eq!(fx.ran(), ["a", "b", "c"]);
}

#[tokio::test]
async fn a_changed_list_is_not_resumed() {
    let fx = Fixture::new();
    let store: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
    let first = TaskRunner::new(store.clone())
        .execute(&fx.plan(store.as_ref(), false, &[]).await.expect("plan"))
        .await
        .expect("run");
    let changed = Fixture::with_config(&CONFIG.replace("name = \"c\"", "name = \"c2\""));
    let err = changed
        .plan(store.as_ref(), true, &[])
        .await
        .expect_err("refused");
    assert!(err.is_bad_input());
    assert!(
        err.to_string().contains(&format!(
            "changed since run {} began (added c2; removed c)",
            first.run_id
        )),
        "{err}"
    );
    // Without --resume the changed list runs as a new run.
    assert_eq!(
        changed
            .plan(store.as_ref(), false, &[])
            .await
            .expect("plan")
            .resume_run,
        None
    );
}

#[tokio::test]
async fn a_crash_at_every_journal_write_then_resume_runs_each_task_once() {
    let reference = Fixture::new();
    std::fs::write(reference.path().join("fixed"), "").expect("b passes");
    let store: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
    let whole = TaskRunner::new(store.clone())
        .execute(
            &reference
                .plan(store.as_ref(), false, &[])
                .await
                .expect("plan"),
        )
        .await
        .expect("run");
    assert_eq!(whole.status, RunStatus::Succeeded);
    // 4 tasks x (started, finished) + run finished.
    let writes = store.journal(whole.run_id).await.expect("journal").len();
    assert_eq!(writes, 9);
    for k in 1..=writes {
        let fx = Fixture::new();
        std::fs::write(fx.path().join("fixed"), "").expect("b passes");
        let inner: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
        // The process "dies" before its k-th journal write.
        let crashing: Arc<dyn StateStore> =
            Arc::new(FaultyStateStore::crash_at_append(inner.clone(), k));
        let plan = fx.plan(inner.as_ref(), false, &[]).await.expect("plan");
        let crashed = TaskRunner::new(crashing).execute(&plan).await;
        assert!(crashed.is_err(), "write {k}: the run stopped");
        let plan = fx.plan(inner.as_ref(), true, &[]).await.expect("plan");
        assert_eq!(plan.resume_run, Some(1), "write {k}");
        let resumed = TaskRunner::new(inner.clone())
            .execute(&plan)
            .await
            .expect("resume");
        assert_eq!(resumed.status, RunStatus::Succeeded, "write {k}");
        assert_eq!(
            statuses(&resumed.records),
            statuses(&whole.records),
            "write {k}"
        );
        // A task whose record was stored before the crash is not run again, even when the
        // journal never said it finished: every task ran exactly once.
        assert_eq!(fx.ran(), ["a", "b", "c"], "write {k}");
        assert_eq!(
            inner
                .task_records(Some(1), 100)
                .await
                .expect("records")
                .len(),
            4,
            "write {k}: one record per task"
        );
    }
}

/// Shows each output line slowly (a terminal that cannot keep up) and keeps it.
#[derive(Debug, Default)]
struct SlowObserver {
    lines: std::sync::Mutex<Vec<String>>,
}

impl Observer for SlowObserver {
    fn event(&self, event: &crate::engine::Event<'_>) {
        if let crate::engine::Event::Output { line, .. } = event {
            std::thread::sleep(std::time::Duration::from_micros(500));
            self.lines.lock().expect("lock").push((*line).to_owned());
        }
    }
}

/// One task printing `lines` lines of log, then its PR link and `awaiting_approval`.
fn chatty_config(lines: usize) -> String {
    format!(
        r#"
[[tasks.nightly]]
name = "infra.scale"
run = ["/bin/sh", "-c", "i=1; while [ $i -le {lines} ]; do echo \"log line $i\"; i=$((i+1)); done; echo outputs_uri=https://github.com/o/r/pull/42; echo awaiting_approval"]
timeout = "60s"
"#
    )
}

#[tokio::test]
async fn issue_14_a_task_printing_12000_lines_then_awaiting_approval_is_recorded_with_its_link() {
    let fx = Fixture::with_config(&chatty_config(12_000));
    let store: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
    let report = TaskRunner::new(store.clone())
        .execute(&fx.plan(store.as_ref(), false, &[]).await.expect("plan"))
        .await
        .expect("run");
    let record = &report.records[0];
    assert_eq!(record.status, "awaiting_approval");
    assert_eq!(record.approval_state.as_deref(), Some("pending"));
    assert_eq!(
        record.outputs_uri.as_deref(),
        Some("https://github.com/o/r/pull/42")
    );
    let excerpt: Vec<&str> = record.log_excerpt.lines().collect();
    assert_eq!(excerpt.len(), EXCERPT_LINES);
    assert_eq!(excerpt[EXCERPT_LINES - 3], "log line 12000");
    assert_eq!(excerpt[EXCERPT_LINES - 1], "awaiting_approval");
}

#[tokio::test]
async fn issue_14_a_slow_reader_still_sees_the_status_word_after_2000_lines() {
    let fx = Fixture::with_config(&chatty_config(2_000));
    let store: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
    let observer = Arc::new(SlowObserver::default());
    let report = TaskRunner::new(store.clone())
        .with_observer(observer.clone())
        .execute(&fx.plan(store.as_ref(), false, &[]).await.expect("plan"))
        .await
        .expect("run");
    let record = &report.records[0];
    assert_eq!(record.status, "awaiting_approval");
    assert_eq!(
        record.outputs_uri.as_deref(),
        Some("https://github.com/o/r/pull/42")
    );
    assert_eq!(observer.lines.lock().expect("lock").len(), 2_002);
}

#[tokio::test]
async fn issue_14_secrets_a_task_echoes_are_masked_in_its_record_summary_and_journal() {
    let key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\nQyNTUxOQAAACBzZWNyZXRrZXlsaW5ldHdvdGhhdA\n-----END OPENSSH PRIVATE KEY-----";
    let fx = Fixture::with_config(
        r#"
[[tasks.nightly]]
name = "leaky"
run = ["/bin/sh", "-c", "echo \"token $DX_TOKEN\"; echo \"$SSH_PRIVATE_KEY\"; echo \"$SSH_PRIVATE_KEY\" >&2; echo https://x/pull/1?t=$DX_TOKEN; exit 4"]
env = { DX_TOKEN = "dx-canary-0123456789" }
"#,
    );
    let store: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
    let observer = Arc::new(SlowObserver::default());
    let request = TasksRequest {
        list: "nightly".into(),
        ..TasksRequest::default()
    };
    let process = BTreeMap::from([
        ("PATH".to_owned(), std::env::var("PATH").unwrap_or_default()),
        ("SSH_PRIVATE_KEY".to_owned(), key.to_owned()),
    ]);
    let plan = plan_tasks(&fx.config, &request, process, store.as_ref())
        .await
        .expect("plan");
    let report = TaskRunner::new(store.clone())
        .with_observer(observer.clone())
        .execute(&plan)
        .await
        .expect("run");
    let record = &report.records[0];
    assert_eq!(record.status, "failed");
    let journal =
        serde_json::to_string(&store.journal(report.run_id).await.expect("journal")).expect("json");
    let shown = observer.lines.lock().expect("lock").join("\n");
    let everything = format!(
        "{}\n{:?}\n{journal}\n{shown}",
        record.log_excerpt, record.outputs_uri
    );
    let mut secrets: Vec<&str> = key.lines().filter(|l| !l.starts_with("-----")).collect();
    secrets.push("dx-canary-0123456789");
    for secret in secrets {
        assert!(
            !everything.contains(secret),
            "{secret} leaked:\n{everything}"
        );
    }
    assert!(
        record.log_excerpt.contains("token [redacted]"),
        "{}",
        record.log_excerpt
    );
}
