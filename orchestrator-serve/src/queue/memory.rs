//! [`InMemoryJobQueue`]: the whole contract over a map behind a lock, for one process and tests.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use orchestrator_core::Result;

use super::{EnqueueOutcome, Job, JobQueue, JobState, NewJob, QueueStats, lease_end};

/// A [`JobQueue`] in memory: lost with the process (use [`super::SqliteJobQueue`] to keep jobs).
#[derive(Debug, Default)]
pub struct InMemoryJobQueue {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    jobs: BTreeMap<u64, Job>,
    deliveries: HashSet<String>,
    next_id: u64,
}

impl InMemoryJobQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (each method edits one job).
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The job `worker` holds with `id`, if it still does.
fn held<'a>(inner: &'a mut Inner, id: u64, worker: &str) -> Option<&'a mut Job> {
    inner
        .jobs
        .get_mut(&id)
        .filter(|j| j.state == JobState::Running && j.owner.as_deref() == Some(worker))
}

#[async_trait]
impl JobQueue for InMemoryJobQueue {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn enqueue(&self, job: NewJob, now: u64) -> Result<EnqueueOutcome> {
        let mut inner = self.lock();
        if let Some(delivery) = &job.delivery
            && !inner.deliveries.insert(delivery.clone())
        {
            return Ok(EnqueueOutcome::Replayed);
        }
        if let Some(pending) = inner
            .jobs
            .values_mut()
            .find(|j| j.state == JobState::Pending && j.key == job.key && j.kind == job.kind)
        {
            pending.triggers.push(job.trigger);
            pending.updated = now;
            return Ok(EnqueueOutcome::Coalesced(pending.id));
        }
        inner.next_id += 1;
        let id = inner.next_id;
        inner.jobs.insert(
            id,
            Job {
                id,
                kind: job.kind,
                key: job.key,
                triggers: vec![job.trigger],
                state: JobState::Pending,
                attempts: 0,
                owner: None,
                lease_until: 0,
                run_after: now,
                created: now,
                updated: now,
                last_error: None,
            },
        );
        Ok(EnqueueOutcome::Enqueued(id))
    }

    async fn claim(&self, worker: &str, lease: Duration, now: u64) -> Result<Option<Job>> {
        let mut inner = self.lock();
        let busy: HashSet<String> = inner
            .jobs
            .values()
            .filter(|j| j.state == JobState::Running && j.lease_until >= now)
            .map(|j| j.key.clone())
            .collect();
        let Some(job) = inner.jobs.values_mut().find(|j| {
            let due = match j.state {
                JobState::Pending => j.run_after <= now,
                JobState::Running => j.lease_until < now,
                JobState::Succeeded | JobState::Failed => false,
            };
            due && !busy.contains(&j.key)
        }) else {
            return Ok(None);
        };
        job.state = JobState::Running;
        job.owner = Some(worker.to_owned());
        job.lease_until = lease_end(now, lease);
        job.attempts += 1;
        job.updated = now;
        Ok(Some(job.clone()))
    }

    async fn renew(&self, id: u64, worker: &str, lease: Duration, now: u64) -> Result<bool> {
        let mut inner = self.lock();
        Ok(held(&mut inner, id, worker).is_some_and(|job| {
            job.lease_until = lease_end(now, lease);
            true
        }))
    }

    async fn complete(&self, id: u64, worker: &str, now: u64) -> Result<bool> {
        let mut inner = self.lock();
        Ok(held(&mut inner, id, worker).is_some_and(|job| {
            job.state = JobState::Succeeded;
            job.updated = now;
            true
        }))
    }

    async fn fail(
        &self,
        id: u64,
        worker: &str,
        error: &str,
        retry_at: Option<u64>,
        now: u64,
    ) -> Result<bool> {
        let mut inner = self.lock();
        Ok(held(&mut inner, id, worker).is_some_and(|job| {
            job.last_error = Some(error.to_owned());
            job.updated = now;
            match retry_at {
                Some(at) => {
                    job.state = JobState::Pending;
                    job.run_after = at;
                    job.owner = None;
                }
                None => job.state = JobState::Failed,
            }
            true
        }))
    }

    async fn defer(&self, id: u64, worker: &str, until: u64, now: u64) -> Result<bool> {
        let mut inner = self.lock();
        let Some(job) = held(&mut inner, id, worker) else {
            return Ok(false);
        };
        job.state = JobState::Pending;
        job.owner = None;
        job.attempts = job.attempts.saturating_sub(1);
        job.run_after = until;
        job.updated = now;
        Ok(true)
    }

    async fn release(&self, worker: &str, now: u64) -> Result<usize> {
        let mut inner = self.lock();
        let mut released = 0;
        for job in inner.jobs.values_mut() {
            if job.state == JobState::Running && job.owner.as_deref() == Some(worker) {
                job.state = JobState::Pending;
                job.owner = None;
                job.run_after = now;
                job.updated = now;
                released += 1;
            }
        }
        Ok(released)
    }

    async fn stats(&self) -> Result<QueueStats> {
        let inner = self.lock();
        let mut stats = QueueStats::default();
        for job in inner.jobs.values() {
            *match job.state {
                JobState::Pending => &mut stats.pending,
                JobState::Running => &mut stats.running,
                JobState::Succeeded => &mut stats.succeeded,
                JobState::Failed => &mut stats.failed,
            } += 1;
        }
        Ok(stats)
    }

    async fn recent(&self, limit: usize) -> Result<Vec<Job>> {
        Ok(self
            .lock()
            .jobs
            .values()
            .rev()
            .take(limit)
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::queue_conformance_tests!((InMemoryJobQueue::new(), ()));
}
