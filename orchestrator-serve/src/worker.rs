//! Workers: claim a job, run it through the [`JobHandler`], renew the lease while it runs, and
//! record the outcome. A failed attempt is retried with exponential backoff up to
//! `max_attempts`; a job interrupted by shutdown is given back to the queue at once, so another
//! replica resumes it from the journal instead of waiting for the lease to expire.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use orchestrator_core::{Error, Result};
use tokio::sync::{Notify, watch};

use crate::metrics::{Metrics, bump};
use crate::queue::{Job, JobQueue};
use crate::{cron, now_ms};

/// Runs jobs. The CLI's handler runs the same code as `orchestrator cascade` and `orchestrator
/// pr-command`, so a job obeys the same trust rules as the command.
#[async_trait]
pub trait JobHandler: Send + Sync + std::fmt::Debug {
    /// Runs `job` to its end. `job.attempts > 1` means an earlier attempt was interrupted or
    /// failed: the handler resumes from the journal (nothing is applied twice). `shutdown` turns
    /// true when the service is stopping: finish or journal the current step and return.
    async fn run(&self, job: &Job, shutdown: watch::Receiver<bool>) -> Result<()>;
}

/// How a worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// This worker's name in the queue (host and pid: unique per replica).
    pub name: String,
    /// How long a claim holds without renewal; renewed every third of it.
    pub lease: Duration,
    /// How often an idle worker looks for work another replica enqueued.
    pub idle_poll: Duration,
    /// Attempts before a job is given up on.
    pub max_attempts: u32,
    /// The first retry's delay; doubled per attempt.
    pub retry_base: Duration,
    /// How long a job that could not start because another runner holds the workspace (a
    /// PostgreSQL state is one workspace for every replica) waits before it is tried again; such
    /// a try spends no attempt.
    pub busy_retry: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            name: format!("{}-{}", hostname(), std::process::id()),
            lease: Duration::from_secs(60),
            idle_poll: Duration::from_secs(1),
            max_attempts: 3,
            retry_base: Duration::from_secs(30),
            busy_retry: Duration::from_secs(2),
        }
    }
}

/// The host's name (`HOSTNAME`, the pod name in Kubernetes), else `serve`.
fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "serve".to_owned())
}

/// One worker loop.
#[derive(Debug, Clone)]
pub struct Worker {
    queue: Arc<dyn JobQueue>,
    handler: Arc<dyn JobHandler>,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    options: WorkerOptions,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Worker {
    /// A worker over `queue`; `wake` is notified when this process enqueues a job.
    pub fn new(
        queue: Arc<dyn JobQueue>,
        handler: Arc<dyn JobHandler>,
        metrics: Arc<Metrics>,
        wake: Arc<Notify>,
        options: WorkerOptions,
    ) -> Self {
        Self {
            queue,
            handler,
            metrics,
            wake,
            options,
        }
    }

    /// Claims and runs jobs until `shutdown` turns true; then returns once the current job has
    /// ended (given back to the queue when it was interrupted).
    ///
    /// # Errors
    /// A queue that cannot be read (the service's readiness fails with it).
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) -> Result<()> {
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let claimed = self
                .queue
                .claim(&self.options.name, self.options.lease, now_ms())
                .await?;
            match claimed {
                Some(job) => self.run_one(job, shutdown.clone()).await?,
                None => {
                    tokio::select! {
                        () = tokio::time::sleep(self.options.idle_poll) => {}
                        () = self.wake.notified() => {}
                        _ = shutdown.changed() => {}
                    }
                }
            }
        }
    }

    /// Runs one claimed job, renewing its lease, and records how it ended.
    async fn run_one(&self, job: Job, shutdown: watch::Receiver<bool>) -> Result<()> {
        let name = &self.options.name;
        tracing::info!(
            job = job.id,
            kind = job.kind.as_str(),
            key = %job.key,
            attempt = job.attempts,
            triggers = job.triggers.len(),
            "job started"
        );
        let run = self.handler.run(&job, shutdown.clone());
        tokio::pin!(run);
        let mut renew = tokio::time::interval(self.options.lease / 3);
        renew.tick().await;
        let outcome = loop {
            tokio::select! {
                outcome = &mut run => break outcome,
                _ = renew.tick() => {
                    if !self.queue.renew(job.id, name, self.options.lease, now_ms()).await? {
                        tracing::warn!(job = job.id, "lease lost: another worker took the job over");
                    }
                }
            }
        };
        let now = now_ms();
        match outcome {
            Ok(()) => {
                bump(&self.metrics.jobs_succeeded);
                self.queue.complete(job.id, name, now).await?;
                tracing::info!(job = job.id, "job succeeded");
            }
            Err(e) if *shutdown.borrow() || matches!(e, Error::Cancelled) => {
                // Interrupted by shutdown: the journal says where it stopped; hand it on now.
                self.queue.release(name, now).await?;
                tracing::warn!(job = job.id, error = %e, "job interrupted by shutdown, released");
            }
            Err(e @ (Error::Busy { .. } | Error::Locked { .. })) => {
                // Not the job's failure: another run holds the workspace. Try again soon,
                // without spending an attempt (many queued jobs would exhaust them otherwise).
                bump(&self.metrics.jobs_deferred);
                let until = now.saturating_add(ms(self.options.busy_retry));
                self.queue.defer(job.id, name, until, now).await?;
                tracing::info!(job = job.id, error = %e, retry_in_ms = ms(self.options.busy_retry), "job deferred: the workspace is busy");
            }
            Err(e) if job.attempts < self.options.max_attempts => {
                bump(&self.metrics.jobs_retried);
                let delay = ms(self.options.retry_base).saturating_mul(1 << job.attempts.min(16));
                self.queue
                    .fail(job.id, name, &e.to_string(), Some(now + delay), now)
                    .await?;
                tracing::warn!(job = job.id, error = %e, retry_in_ms = delay, "job failed, will retry");
            }
            Err(e) => {
                bump(&self.metrics.jobs_failed);
                self.queue
                    .fail(job.id, name, &e.to_string(), None, now)
                    .await?;
                tracing::error!(job = job.id, error = %e, "job failed for good");
            }
        }
        Ok(())
    }
}

/// Enqueues the nightly job at each slot of `schedule` until `shutdown`. Every replica runs
/// this; the slot is the delivery id, so the queue stores each night's job once.
///
/// # Errors
/// A queue that cannot be written.
pub async fn schedule_nightly(
    queue: Arc<dyn JobQueue>,
    schedule: cron::Schedule,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<()> {
    loop {
        let now = now_ms();
        let Some(slot) = schedule.next_after(now) else {
            tracing::warn!(
                schedule = schedule.as_str(),
                "the nightly schedule never fires"
            );
            return Ok(());
        };
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(slot.saturating_sub(now))) => {}
            _ = shutdown.changed() => return Ok(()),
        }
        let outcome = queue.enqueue(nightly_job(slot), now_ms()).await?;
        tracing::info!(slot, ?outcome, "nightly scheduled");
        wake.notify_one();
    }
}

/// The nightly job of the slot at `slot_ms`.
pub fn nightly_job(slot_ms: u64) -> crate::queue::NewJob {
    crate::queue::NewJob {
        kind: crate::queue::JobKind::Nightly,
        key: "nightly".to_owned(),
        trigger: serde_json::json!({"event": "schedule", "slot_ms": slot_ms}),
        delivery: Some(format!("nightly:{slot_ms}")),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::queue::{EnqueueOutcome, InMemoryJobQueue, JobState};

    /// Fails the first attempt of each job, then succeeds; records what it ran.
    #[derive(Debug, Default)]
    struct FlakyHandler {
        ran: Mutex<Vec<(u64, u32)>>,
    }

    #[async_trait]
    impl JobHandler for FlakyHandler {
        async fn run(&self, job: &Job, _: watch::Receiver<bool>) -> Result<()> {
            self.ran
                .lock()
                .expect("not poisoned")
                .push((job.id, job.attempts));
            if job.attempts == 1 {
                return Err(Error::invalid_input("first attempt fails"));
            }
            Ok(())
        }
    }

    /// Runs one worker over a queue holding nightly job 1 until the job has succeeded (a generous
    /// bound: a few short attempts), then stops it; the queue and the worker's metrics.
    async fn run_one_job(
        handler: Arc<dyn JobHandler>,
        options: WorkerOptions,
    ) -> (Arc<dyn JobQueue>, Arc<Metrics>) {
        let queue: Arc<dyn JobQueue> = Arc::new(InMemoryJobQueue::new());
        queue
            .enqueue(nightly_job(1), now_ms())
            .await
            .expect("enqueue");
        let metrics = Arc::new(Metrics::default());
        let worker = Worker::new(
            Arc::clone(&queue),
            handler,
            Arc::clone(&metrics),
            Arc::new(Notify::new()),
            WorkerOptions {
                idle_poll: Duration::from_millis(5),
                ..options
            },
        );
        let (stop, shutdown) = watch::channel(false);
        let running = tokio::spawn(async move { worker.run(shutdown).await });
        for _ in 0..2000 {
            if queue.stats().await.expect("stats").succeeded == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stop.send(true).expect("worker listening");
        running.await.expect("no panic").expect("ok");
        (queue, metrics)
    }

    #[tokio::test]
    async fn a_failed_attempt_is_retried_and_then_succeeds() {
        let handler = Arc::new(FlakyHandler::default());
        let (queue, _) = run_one_job(
            handler.clone(),
            WorkerOptions {
                retry_base: Duration::ZERO,
                ..WorkerOptions::default()
            },
        )
        .await;
        assert_eq!(
            *handler.ran.lock().expect("not poisoned"),
            vec![(1, 1), (1, 2)]
        );
        let job = &queue.recent(1).await.expect("recent")[0];
        assert_eq!(job.state, JobState::Succeeded);
        assert_eq!(job.last_error.as_deref(), Some("first attempt fails"));
    }

    /// Says "busy" (another runner holds the workspace) twice, then succeeds.
    #[derive(Debug, Default)]
    struct BusyHandler {
        ran: Mutex<Vec<u32>>,
    }

    #[async_trait]
    impl JobHandler for BusyHandler {
        async fn run(&self, job: &Job, _: watch::Receiver<bool>) -> Result<()> {
            let mut ran = self.ran.lock().expect("not poisoned");
            ran.push(job.attempts);
            if ran.len() <= 2 {
                return Err(Error::Busy {
                    what: "the workspace lock on postgres://db/state".into(),
                    holder: "replica-b".into(),
                });
            }
            Ok(())
        }
    }

    /// Issue 17: on a shared PostgreSQL state one replica's run holds the workspace; a job
    /// another replica claims meanwhile waits and runs later, spending no attempt on it (with
    /// one attempt allowed it would have failed for good).
    #[tokio::test]
    async fn a_job_refused_by_a_busy_workspace_runs_later_without_spending_attempts() {
        let handler = Arc::new(BusyHandler::default());
        let (queue, metrics) = run_one_job(
            handler.clone(),
            WorkerOptions {
                max_attempts: 1,
                busy_retry: Duration::ZERO,
                ..WorkerOptions::default()
            },
        )
        .await;
        assert_eq!(*handler.ran.lock().expect("not poisoned"), vec![1, 1, 1]);
        let stats = queue.stats().await.expect("stats");
        assert_eq!((stats.succeeded, stats.failed), (1, 0));
        assert_eq!(
            metrics
                .jobs_deferred
                .load(std::sync::atomic::Ordering::Relaxed),
            2
        );
    }

    #[tokio::test]
    async fn each_nightly_slot_is_stored_once_across_replicas() {
        let queue = InMemoryJobQueue::new();
        assert!(matches!(
            queue.enqueue(nightly_job(7), 1).await.expect("enqueue"),
            EnqueueOutcome::Enqueued(_)
        ));
        assert_eq!(
            queue.enqueue(nightly_job(7), 2).await.expect("enqueue"),
            EnqueueOutcome::Replayed
        );
    }
}
