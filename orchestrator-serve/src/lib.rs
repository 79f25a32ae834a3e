//! `orchestrator serve`: the orchestrator as a service that GitHub calls.
//!
//! Triggers reach a workflow-based orchestrator through GitHub Actions runs, whose `concurrency:`
//! groups keep one pending run and cancel the rest (a burst of pushes loses cascades), whose
//! `GITHUB_TOKEN` events start nothing, and whose waits poll. This crate receives GitHub webhooks
//! instead and keeps every accepted one:
//!
//! - [`signature`]: `X-Hub-Signature-256` (HMAC-SHA256) verified in constant time; the secret
//!   never appears in `Debug` or logs.
//! - [`event`]: the payload fields we act on, typed and validated, turned into a job, a wake for
//!   waits, or an explicit "ignored".
//! - [`queue`]: the durable [`JobQueue`](queue::JobQueue) (in memory, SQLite): a webhook is stored
//!   before `202` is returned; triggers for the same repos coalesce; claims carry a lease so a
//!   replica killed mid-job leaves the job to another, which resumes it from the journal.
//! - [`worker`]: claims jobs and runs them through a [`JobHandler`](worker::JobHandler) (the CLI's
//!   is the same code as `orchestrator cascade` and `orchestrator pr-command`).
//! - [`wake`]: a webhook received by one replica wakes the waits of every replica
//!   (`LISTEN`/`NOTIFY` on PostgreSQL, a polled table on SQLite).
//! - [`rate`]: the forge's rate-limit budget shared by the replicas that use one token; below a
//!   floor they defer polls until the window resets.
//! - [`cron`]: the nightly schedule, enqueued once per slot however many replicas run.
//! - [`server`]: the HTTP face: `/webhook`, `/healthz`, `/readyz`, `/metrics` and the dashboard.
//! - [`dashboard`]: server-rendered, read-only HTML with the run's dependency graph as SVG.

#![forbid(unsafe_code)]

pub mod cron;
pub mod dashboard;
pub mod event;
pub mod metrics;
pub mod queue;
pub mod rate;
pub mod server;
pub mod signature;
pub mod wake;
pub mod worker;

pub use event::{Intake, classify};
pub use metrics::Metrics;
pub use queue::{EnqueueOutcome, Job, JobKind, JobQueue, JobState, NewJob, QueueStats};
pub use server::{ServeState, router};
pub use signature::{SignatureError, WebhookSecret, verify_signature};
pub use worker::{JobHandler, Worker, WorkerOptions};

/// Milliseconds since the Unix epoch, the queue's clock (leases, retries, schedules).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
