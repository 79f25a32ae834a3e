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
//! - [`queue`]: the durable [`JobQueue`] (in memory, SQLite): a webhook is stored
//!   before `202` is returned; triggers for the same repos coalesce; claims carry a lease so a
//!   replica killed mid-job leaves the job to another, which resumes it from the journal.
//! - [`worker`]: claims jobs and runs them through a [`JobHandler`].
//! - [`jobs`]: the handler that runs a job as the command a workflow would run, through core's
//!   driver: a cascade or the nightly is `CascadeWorkflow`, a comment goes to `pr-command`'s rules.
//! - [`wake`]: a webhook received by one replica wakes, on every replica, the waits its release
//!   could settle (`LISTEN`/`NOTIFY` on PostgreSQL, a polled table on SQLite); a re-established
//!   `LISTEN` session wakes every wait once, so a wake lost in the gap costs one read.
//! - [`rate`]: the forge's rate-limit budget shared by the replicas that use one token; below a
//!   floor they defer polls until the window resets.
//! - [`cron`]: the nightly schedule, enqueued once per slot however many replicas run.
//! - [`server`]: the HTTP face: `/webhook`, `/healthz`, `/readyz`, `/metrics` and the dashboard.
//! - [`dashboard`]: server-rendered, read-only HTML with the run's dependency graph as SVG.
//! - [`service`]: all of the above composed as the binary runs it ([`Service`]): the queue where
//!   the state is, workers, wakes, the shared budget, the nightly, a clean stop.

#![forbid(unsafe_code)]

pub mod cron;
pub mod dashboard;
pub mod event;
pub mod jobs;
pub mod metrics;
pub mod queue;
pub mod rate;
pub mod server;
pub mod service;
pub mod signature;
pub mod wake;
pub mod worker;

pub use event::{Intake, classify};
pub use jobs::{CommentCommands, JobReports, WorkflowComments, WorkflowJobs, Workspaces};
pub use metrics::Metrics;
pub use queue::{EnqueueOutcome, Job, JobKind, JobQueue, JobState, NewJob, QueueStats};
pub use server::{ServeState, router};
pub use service::{Listening, Service, ServiceOptions, Stopped};
pub use signature::{SignatureError, WebhookSecret, verify_signature};
pub use worker::{JobHandler, Worker, WorkerOptions};

/// Milliseconds since the Unix epoch, the queue's clock (leases, retries, schedules).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
