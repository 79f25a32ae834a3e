//! The state store: run history and the durable journal of every run.
//!
//! The journal is what makes `--resume` safe: the engine appends an entry before and after every
//! side effect, so after a crash the next run knows what finished, and asks each unfinished step's
//! read-only `check` whether its effect happened anyway. [`SqliteStateStore`] is the default
//! (`.orchestrator/state.db`, WAL); [`MemoryStateStore`] serves tests and embedding; a server
//! database can implement the same trait when several orchestrators share state.

mod lock;
mod memory;
mod sqlite;

pub use lock::WorkspaceLock;
pub use memory::MemoryStateStore;
pub use sqlite::SqliteStateStore;

use serde::{Deserialize, Serialize};

use crate::error::Result;

/// A run's id in the store.
pub type RunId = i64;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Started and not finished (or the process died).
    Running,
    /// Every step succeeded or was already done.
    Succeeded,
    /// A step failed; `--resume` retries.
    Failed,
    /// Stopped by the user; `--resume` continues.
    Cancelled,
}

impl RunStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => RunStatus::Running,
            "succeeded" => RunStatus::Succeeded,
            "failed" => RunStatus::Failed,
            "cancelled" => RunStatus::Cancelled,
            _ => return None,
        })
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One journal entry. Entries are appended, never changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum JournalEntry {
    /// About to apply a step (written before its side effect).
    StepStarted {
        /// The step id.
        step: String,
    },
    /// The step's effect is done (written after it).
    StepSucceeded {
        /// The step id.
        step: String,
        /// One line for people.
        summary: String,
        /// Structured output for reports.
        data: serde_json::Value,
    },
    /// The step's check found its effect already done; nothing was applied.
    StepAlreadyDone {
        /// The step id.
        step: String,
        /// What the check saw.
        detail: String,
    },
    /// The step failed.
    StepFailed {
        /// The step id.
        step: String,
        /// The error, one line.
        error: String,
    },
    /// The run was stopped while the step ran; its effect may or may not have happened.
    StepInterrupted {
        /// The step id.
        step: String,
    },
    /// The run ended.
    RunFinished {
        /// How.
        status: RunStatus,
    },
}

impl JournalEntry {
    /// The step this entry is about, if any.
    pub fn step(&self) -> Option<&str> {
        match self {
            JournalEntry::StepStarted { step }
            | JournalEntry::StepSucceeded { step, .. }
            | JournalEntry::StepAlreadyDone { step, .. }
            | JournalEntry::StepFailed { step, .. }
            | JournalEntry::StepInterrupted { step } => Some(step),
            JournalEntry::RunFinished { .. } => None,
        }
    }

    /// True when the entry says the step's effect is in place.
    pub fn completes_step(&self) -> bool {
        matches!(
            self,
            JournalEntry::StepSucceeded { .. } | JournalEntry::StepAlreadyDone { .. }
        )
    }
}

/// A stored journal entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalRecord {
    /// Order within the run, from 1.
    pub seq: u64,
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// The entry.
    pub entry: JournalEntry,
}

/// One run in the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Its id.
    pub id: RunId,
    /// The command (`release`, `publish`, `run`...).
    pub kind: String,
    /// What it acted on, e.g. the version; `--resume` looks runs up by kind and key.
    pub key: String,
    /// Where it stands.
    pub status: RunStatus,
    /// The request, as JSON (never secrets).
    pub params: serde_json::Value,
    /// Start, ms since the epoch.
    pub started_at_ms: i64,
    /// End, ms since the epoch.
    pub finished_at_ms: Option<i64>,
}

/// One task's record from a task-list run (seed 003's `agents_tasks` row, same fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// The task's name.
    pub task: String,
    /// The run it belongs to.
    pub run_id: RunId,
    /// `succeeded`, `awaiting_approval`, `failed`, `skipped`... (the task's final status word).
    pub status: String,
    /// UTC, RFC 3339 with milliseconds.
    pub started_at: String,
    /// UTC, RFC 3339 with milliseconds.
    pub finished_at: String,
    /// Wall-clock milliseconds.
    pub duration_ms: i64,
    /// The `outputs_uri=` the task printed, else the first pull-request URL in its output.
    pub outputs_uri: Option<String>,
    /// `pending` while a proposal awaits approval.
    pub approval_state: Option<String>,
    /// The end of its output (secrets masked), or why it was skipped.
    pub log_excerpt: String,
}

/// Durable run history and journals.
pub trait StateStore: Send + Sync + std::fmt::Debug {
    /// Records a new run and returns its id.
    fn begin_run(&self, kind: &str, key: &str, params: &serde_json::Value) -> Result<RunId>;

    /// Appends to a run's journal; durable when it returns.
    fn append(&self, run: RunId, entry: &JournalEntry) -> Result<()>;

    /// A run's journal in order.
    fn journal(&self, run: RunId) -> Result<Vec<JournalRecord>>;

    /// Sets a run's status (and its end time unless `Running`).
    fn set_status(&self, run: RunId, status: RunStatus) -> Result<()>;

    /// Runs, newest first, optionally of one kind and key.
    fn runs(&self, kind: Option<&str>, key: Option<&str>, limit: usize) -> Result<Vec<RunSummary>>;

    /// One run by id.
    fn run(&self, run: RunId) -> Result<Option<RunSummary>>;

    /// Stores a task record; durable when it returns.
    fn record_task(&self, record: &TaskRecord) -> Result<()>;

    /// Task records of one run in the order stored, or of every run (newest run first).
    fn task_records(&self, run: Option<RunId>, limit: usize) -> Result<Vec<TaskRecord>>;

    /// The newest run of `kind` and `key` that did not succeed: what `--resume` continues.
    fn resumable(&self, kind: &str, key: &str) -> Result<Option<RunSummary>> {
        Ok(self
            .runs(Some(kind), Some(key), 1)?
            .into_iter()
            .find(|r| r.status != RunStatus::Succeeded))
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The store contract, run against both stores.
    fn exercise(store: &dyn StateStore) {
        let params = serde_json::json!({"version": "1.2.3"});
        let first = store.begin_run("release", "1.2.3", &params).expect("begin");
        store
            .append(
                first,
                &JournalEntry::StepStarted {
                    step: "tag:a".into(),
                },
            )
            .expect("append");
        store
            .append(
                first,
                &JournalEntry::StepSucceeded {
                    step: "tag:a".into(),
                    summary: "tagged".into(),
                    data: serde_json::Value::Null,
                },
            )
            .expect("append");
        store.set_status(first, RunStatus::Failed).expect("status");
        let journal = store.journal(first).expect("journal");
        assert_eq!(journal.len(), 2);
        assert_eq!(journal[0].seq, 1);
        assert!(journal[1].entry.completes_step());
        let resumable = store
            .resumable("release", "1.2.3")
            .expect("query")
            .expect("a failed run");
        assert_eq!(resumable.id, first);
        assert_eq!(resumable.params, params);
        assert!(resumable.finished_at_ms.is_some());
        let second = store.begin_run("release", "1.2.3", &params).expect("begin");
        store
            .set_status(second, RunStatus::Succeeded)
            .expect("status");
        assert!(
            store
                .resumable("release", "1.2.3")
                .expect("query")
                .is_none()
        );
        assert!(
            store
                .resumable("release", "9.9.9")
                .expect("query")
                .is_none()
        );
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
        store.record_task(&record).expect("record");
        let skipped = TaskRecord {
            task: "seo.validate".into(),
            status: "skipped".into(),
            outputs_uri: None,
            approval_state: None,
            ..record.clone()
        };
        store.record_task(&skipped).expect("record");
        assert_eq!(
            store.task_records(Some(second), 10).expect("records"),
            vec![record.clone(), skipped]
        );
        assert!(
            store
                .task_records(Some(first), 10)
                .expect("records")
                .is_empty()
        );
        assert_eq!(store.task_records(None, 1).expect("records"), vec![record]);
        assert_eq!(store.run(first).expect("run").expect("exists").id, first);
        assert!(store.run(999).expect("run").is_none());
        let runs = store.runs(None, None, 10).expect("runs");
        assert_eq!(
            runs.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![second, first]
        );
    }

    #[test]
    fn memory_store_keeps_the_contract() {
        exercise(&MemoryStateStore::default());
    }

    #[test]
    fn sqlite_store_keeps_the_contract_and_survives_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        exercise(&SqliteStateStore::open(&path).expect("open"));
        let reopened = SqliteStateStore::open(&path).expect("reopen");
        assert_eq!(
            reopened
                .runs(Some("release"), None, 10)
                .expect("runs")
                .len(),
            2
        );
        assert_eq!(reopened.task_records(None, 10).expect("records").len(), 2);
    }
}
