//! The durable job queue between webhook intake and the workers.
//!
//! Why a queue of our own: GitHub delivers each webhook once and gives up after a 10-second
//! answer window, so the service must store the event before answering `202` and do the work
//! later; and several replicas must share the work with each job run once. The contract:
//!
//! - [`JobQueue::enqueue`] stores a job, or merges its trigger into a *pending* job with the same
//!   key (a burst of pushes to one repo becomes one cascade that knows every trigger), or answers
//!   [`EnqueueOutcome::Replayed`] for a delivery id it has seen (GitHub redelivers).
//! - A trigger that arrives while the job for its key *runs* is kept as a new pending job: the
//!   running cascade may have observed the repos before the push, so nothing is dropped.
//! - [`JobQueue::claim`] hands a job to one worker with a lease; two jobs with one key never run at
//!   once. A worker that dies stops renewing, the lease expires, and the next claim takes the job
//!   again (attempt 2), which resumes the run from its journal.
//!
//! Backends: [`InMemoryJobQueue`] (one process, tests), [`SqliteJobQueue`] (a file shared by
//! the replicas on one host or volume) and [`PgJobQueue`] (the PostgreSQL database of the shared
//! state: replicas on many machines). All pass [`conformance`].

pub mod conformance;
mod memory;
mod postgres;
mod sqlite;

pub use memory::InMemoryJobQueue;
pub use postgres::PgJobQueue;
pub use sqlite::SqliteJobQueue;

use std::time::Duration;

use async_trait::async_trait;
use orchestrator_core::Result;
use serde::{Deserialize, Serialize};

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobKind {
    /// Rebuild the changed repo and everything downstream (`orchestrator cascade`).
    Cascade,
    /// A command on a plan pull request (`orchestrator pr-command`).
    PrCommand,
    /// The scheduled nightly cascade of every repo.
    Nightly,
}

impl JobKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cascade => "cascade",
            Self::PrCommand => "pr-command",
            Self::Nightly => "nightly",
        }
    }

    /// The kind a stored name names.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Cascade, Self::PrCommand, Self::Nightly]
            .into_iter()
            .find(|k| k.as_str() == name)
    }
}

/// A job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobState {
    /// Waiting for a worker (or for its retry time).
    Pending,
    /// Claimed by a worker whose lease runs until `lease_until`.
    Running,
    /// Done.
    Succeeded,
    /// Given up on after its last attempt.
    Failed,
}

impl JobState {
    /// Every state, in the order tables show them.
    pub const ALL: [Self; 4] = [Self::Pending, Self::Running, Self::Succeeded, Self::Failed];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// The state a stored name names.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// A job to store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewJob {
    /// What to do.
    pub kind: JobKind,
    /// Jobs with one key coalesce while pending and never run at the same time (e.g.
    /// `cascade:owner/repo`, `pr:owner/repo#12`).
    pub key: String,
    /// What caused it (the fields of the event the handler needs).
    pub trigger: serde_json::Value,
    /// The `X-GitHub-Delivery` id (or a schedule slot): seen once, a second time is a replay.
    pub delivery: Option<String>,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// The queue's id.
    pub id: u64,
    /// What to do.
    pub kind: JobKind,
    /// The coalescing key.
    pub key: String,
    /// Every trigger merged into this job, oldest first.
    pub triggers: Vec<serde_json::Value>,
    /// Where it is.
    pub state: JobState,
    /// Claims so far (a second claim resumes the run from its journal).
    pub attempts: u32,
    /// The worker holding (or last holding) it.
    pub owner: Option<String>,
    /// Until when the owner's lease runs (ms since the epoch).
    pub lease_until: u64,
    /// Not claimed before this time (ms since the epoch): retries wait.
    pub run_after: u64,
    /// Enqueued at (ms since the epoch).
    pub created: u64,
    /// Last changed at (ms since the epoch).
    pub updated: u64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// What [`JobQueue::enqueue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnqueueOutcome {
    /// Stored as a new job with this id.
    Enqueued(u64),
    /// Merged into the pending job with this id (same key).
    Coalesced(u64),
    /// The delivery id was seen before: nothing stored.
    Replayed,
}

/// Job counts by state (`pending` is the queue depth).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    /// Waiting for a worker.
    pub pending: u64,
    /// Held by a worker.
    pub running: u64,
    /// Done.
    pub succeeded: u64,
    /// Given up on.
    pub failed: u64,
}

impl QueueStats {
    /// The count for `state`.
    pub fn get(&self, state: JobState) -> u64 {
        match state {
            JobState::Pending => self.pending,
            JobState::Running => self.running,
            JobState::Succeeded => self.succeeded,
            JobState::Failed => self.failed,
        }
    }
}

/// The durable queue (see the module docs for the contract every backend keeps). Times are ms
/// since the epoch, passed in, so leases and retries are testable without sleeping.
#[async_trait]
pub trait JobQueue: Send + Sync + std::fmt::Debug {
    /// The backend's name (`memory`, `sqlite`, `postgres`).
    fn backend(&self) -> &'static str;

    /// Stores `job`, coalesces it into a pending job with its key, or recognises a replay.
    async fn enqueue(&self, job: NewJob, now: u64) -> Result<EnqueueOutcome>;

    /// The oldest claimable job, now held by `worker` until `now + lease`: a pending job due by
    /// `now`, or a running job whose lease expired; never one whose key has a live running job.
    async fn claim(&self, worker: &str, lease: Duration, now: u64) -> Result<Option<Job>>;

    /// Extends `worker`'s lease on job `id`; false when the worker no longer holds it.
    async fn renew(&self, id: u64, worker: &str, lease: Duration, now: u64) -> Result<bool>;

    /// Marks job `id` done; false when `worker` no longer holds it (another took it over).
    async fn complete(&self, id: u64, worker: &str, now: u64) -> Result<bool>;

    /// Records a failed attempt: pending again from `retry_at`, or failed for good when `None`.
    /// False when `worker` no longer holds it.
    async fn fail(
        &self,
        id: u64,
        worker: &str,
        error: &str,
        retry_at: Option<u64>,
        now: u64,
    ) -> Result<bool>;

    /// Gives job `id` back without counting the attempt: pending again from `until` (the job
    /// could not start, e.g. another runner holds the workspace lock). False when `worker` no
    /// longer holds it.
    async fn defer(&self, id: u64, worker: &str, until: u64, now: u64) -> Result<bool>;

    /// Gives back every job `worker` holds (graceful shutdown): pending again at once.
    async fn release(&self, worker: &str, now: u64) -> Result<usize>;

    /// Job counts by state.
    async fn stats(&self) -> Result<QueueStats>;

    /// The latest `limit` jobs, newest first (the dashboard).
    async fn recent(&self, limit: usize) -> Result<Vec<Job>>;
}

/// `now + lease` in ms, saturating.
fn lease_end(now: u64, lease: Duration) -> u64 {
    now.saturating_add(u64::try_from(lease.as_millis()).unwrap_or(u64::MAX))
}
