//! The state store: run history and the durable journal of every run.
//!
//! The journal is what makes `--resume` safe: the engine appends an entry before and after every
//! side effect, so after a crash the next run knows what finished, and asks each unfinished step's
//! read-only `check` whether its effect happened anyway. [`SqliteStateStore`] is the default
//! (`.orchestrator/state.db`, WAL); [`PgStateStore`] lets many runners (CI jobs, CronJobs) share
//! one PostgreSQL database; [`MemoryStateStore`] serves tests and embedding.
//!
//! The trait is async because a server database cannot answer without waiting on the network, and
//! SQLite's fsyncs must not stall the async worker threads (the SQLite store runs them on the
//! blocking pool). Besides the journal, a store coordinates runners: [`StateStore::lock_workspace`]
//! lets one runner at a time act on the workspace, and [`StateStore::claim_run`] makes sure two
//! runners never drive the same run; a claim ends with its holder (its process on SQLite, its
//! database session on PostgreSQL), and a `running` run whose holder is gone reads as
//! [`RunStatus::Interrupted`]. Every backend runs the same contract,
//! [`crate::conformance::state`]; [`FaultyStateStore`] injects failures into any of them.

#[cfg(all(test, unix))]
mod backend_tests;
pub mod config;
mod fault;
mod holder;
mod lock;
mod memory;
mod migrate;
mod postgres;
mod sqlite;

pub use fault::{Fault, FaultyStateStore};
pub use holder::{Holder, LockGuard};
pub use lock::WorkspaceLock;
pub use memory::MemoryStateStore;
pub use migrate::SCHEMA_VERSION;
pub use postgres::{PgStateStore, StateUrl, describe_pg_error};
pub use sqlite::SqliteStateStore;

use async_trait::async_trait;
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
    /// Stored as running, but its holder (process or database session) is gone: it was killed.
    /// Never stored; the store reports it. `--resume` continues, `--abandon` gives it up.
    Interrupted,
    /// Given up by `--abandon`: never resumed, never blocks a new run.
    Abandoned,
}

impl RunStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Abandoned => "abandoned",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => RunStatus::Running,
            "succeeded" => RunStatus::Succeeded,
            "failed" => RunStatus::Failed,
            "cancelled" => RunStatus::Cancelled,
            "interrupted" => RunStatus::Interrupted,
            "abandoned" => RunStatus::Abandoned,
            _ => return None,
        })
    }
}

impl RunStatus {
    /// True for a run that ended for good: succeeded or abandoned. Anything else is unfinished
    /// (`--resume` continues it).
    pub fn is_final(self) -> bool {
        matches!(self, RunStatus::Succeeded | RunStatus::Abandoned)
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

/// Durable run history and journals, and the coordination of runners sharing them.
///
/// `runs` and `run` report a run stored as `running` whose holder is gone as
/// [`RunStatus::Interrupted`], never as `running`.
#[async_trait]
pub trait StateStore: Send + Sync + std::fmt::Debug {
    /// Records a new run, claimed by this store's runner, and returns its id.
    async fn begin_run(&self, kind: &str, key: &str, params: &serde_json::Value) -> Result<RunId>;

    /// Appends to a run's journal; durable when it returns.
    async fn append(&self, run: RunId, entry: &JournalEntry) -> Result<()>;

    /// A run's journal in order.
    async fn journal(&self, run: RunId) -> Result<Vec<JournalRecord>>;

    /// Sets a run's status (and its end time unless `Running`). A final or stopped status ends
    /// this runner's claim on the run.
    async fn set_status(&self, run: RunId, status: RunStatus) -> Result<()>;

    /// Runs, newest first, optionally of one kind and key.
    async fn runs(
        &self,
        kind: Option<&str>,
        key: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RunSummary>>;

    /// One run by id.
    async fn run(&self, run: RunId) -> Result<Option<RunSummary>>;

    /// Stores a task record; durable when it returns.
    async fn record_task(&self, record: &TaskRecord) -> Result<()>;

    /// Task records of one run in the order stored, or of every run (newest run first).
    async fn task_records(&self, run: Option<RunId>, limit: usize) -> Result<Vec<TaskRecord>>;

    /// Claims `run` for `holder`, this store's runner, so no other runner drives it: a claim of
    /// a live runner is refused with [`crate::Error::Busy`] naming it; a claim whose runner is
    /// gone (killed process, closed session) is taken over. Claiming a run this runner holds
    /// again succeeds. The claim ends with the runner or when the run's status leaves `running`.
    async fn claim_run(&self, run: RunId, holder: &Holder) -> Result<()>;

    /// The live runner holding `run`'s claim, if any.
    async fn claim_holder(&self, run: RunId) -> Result<Option<Holder>>;

    /// Takes the workspace lock for `holder`, or fails at once with [`crate::Error::Locked`] /
    /// [`crate::Error::Busy`] naming the live holder. Released when the guard drops, and when the
    /// holder dies (its process, or its database session).
    async fn lock_workspace(&self, holder: &Holder) -> Result<LockGuard>;

    /// The newest run of `kind` and `key` that is unfinished: what `--resume` continues.
    async fn resumable(&self, kind: &str, key: &str) -> Result<Option<RunSummary>> {
        Ok(self
            .runs(Some(kind), Some(key), 1)
            .await?
            .into_iter()
            .find(|r| !r.status.is_final()))
    }

    /// The newest run of `kind` (any key) that is unfinished, if the newest run of that kind is
    /// not final: what a new run of that kind must not start beside.
    async fn unfinished(&self, kind: &str) -> Result<Option<RunSummary>> {
        Ok(self
            .runs(Some(kind), None, 1)
            .await?
            .into_iter()
            .find(|r| !r.status.is_final()))
    }

    /// Gives up an unfinished run: records `RunFinished { abandoned }` in its journal and marks
    /// it [`RunStatus::Abandoned`], so it is never resumed and no longer blocks a new run.
    /// Refused for a run a live runner holds, and for a run that already ended for good.
    async fn abandon(&self, run: RunId, holder: &Holder) -> Result<RunSummary> {
        let summary = self.run(run).await?.ok_or_else(|| crate::Error::NotFound {
            what: format!("run {run}"),
        })?;
        if summary.status.is_final() {
            return Err(crate::Error::invalid_input(format!(
                "--abandon {run}: run {run} ({} {}) is {}, nothing to abandon",
                summary.kind, summary.key, summary.status
            )));
        }
        self.claim_run(run, holder).await?;
        self.append(
            run,
            &JournalEntry::RunFinished {
                status: RunStatus::Abandoned,
            },
        )
        .await?;
        self.set_status(run, RunStatus::Abandoned).await?;
        self.run(run).await?.ok_or_else(|| crate::Error::NotFound {
            what: format!("run {run}"),
        })
    }
}

/// Opens the state store a workspace asks for: PostgreSQL when `url` is a `postgres://` URL,
/// else SQLite at `sqlite_path` (created if needed).
pub async fn open(
    url: Option<&StateUrl>,
    sqlite_path: &std::path::Path,
) -> Result<std::sync::Arc<dyn StateStore>> {
    Ok(match url {
        Some(url) => std::sync::Arc::new(PgStateStore::connect(url).await?),
        None => std::sync::Arc::new(SqliteStateStore::open(sqlite_path)?),
    })
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn a_faulty_store_dies_at_the_chosen_append_and_keeps_reads() {
        let inner: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
        let store = FaultyStateStore::crash_at_append(inner.clone(), 2);
        let run = store
            .begin_run("release", "1", &serde_json::Value::Null)
            .await
            .expect("begin");
        let entry = JournalEntry::StepStarted { step: "a".into() };
        store.append(run, &entry).await.expect("first append");
        assert!(store.append(run, &entry).await.is_err(), "dies at the 2nd");
        assert!(store.crashed());
        assert!(
            store.set_status(run, RunStatus::Failed).await.is_err(),
            "a dead process writes nothing more"
        );
        assert_eq!(store.journal(run).await.expect("reads").len(), 1);
        assert_eq!(inner.journal(run).await.expect("reads").len(), 1);
    }
}
