//! The [`JobQueue`] contract as executable behaviours, one `pub async fn` each; every backend
//! runs the whole list through [`queue_conformance_tests!`](crate::queue_conformance_tests),
//! which emits one `#[tokio::test]` per behaviour so one failure does not hide the others.
//!
//! Each function panics (with a message) when the backend breaks the contract.

use std::time::Duration;

use serde_json::json;

use super::{EnqueueOutcome, JobKind, JobQueue, JobState, NewJob};

const LEASE: Duration = Duration::from_secs(60);

fn push(repo: &str, n: u64) -> NewJob {
    NewJob {
        kind: JobKind::Cascade,
        key: format!("cascade:{repo}"),
        trigger: json!({"repo": repo, "n": n}),
        delivery: Some(format!("delivery-{repo}-{n}")),
    }
}

/// A stored job is claimed once, with its trigger, and completed by its worker.
pub async fn enqueue_claim_complete(queue: &dyn JobQueue) {
    let EnqueueOutcome::Enqueued(id) = queue.enqueue(push("o/a", 1), 1000).await.expect("enqueue")
    else {
        panic!("a new job")
    };
    let job = queue
        .claim("w1", LEASE, 1000)
        .await
        .expect("claim")
        .expect("a job");
    assert_eq!(
        (job.id, job.attempts, job.state),
        (id, 1, JobState::Running)
    );
    assert_eq!(job.triggers, vec![json!({"repo": "o/a", "n": 1})]);
    assert!(
        queue
            .claim("w2", LEASE, 1001)
            .await
            .expect("claim")
            .is_none()
    );
    assert!(
        !queue.complete(id, "w2", 1002).await.expect("complete"),
        "not w2's"
    );
    assert!(queue.complete(id, "w1", 1002).await.expect("complete"));
    let stats = queue.stats().await.expect("stats");
    assert_eq!((stats.pending, stats.running, stats.succeeded), (0, 0, 1));
}

/// A delivery id seen before is a replay: nothing new is stored.
pub async fn a_replayed_delivery_is_idempotent(queue: &dyn JobQueue) {
    assert!(matches!(
        queue.enqueue(push("o/a", 1), 1000).await.expect("enqueue"),
        EnqueueOutcome::Enqueued(_)
    ));
    assert_eq!(
        queue.enqueue(push("o/a", 1), 1001).await.expect("enqueue"),
        EnqueueOutcome::Replayed
    );
    let job = queue.recent(10).await.expect("recent");
    assert_eq!(job.len(), 1);
    assert_eq!(job[0].triggers.len(), 1, "the replay added no trigger");
}

/// A burst of 20 pushes to one repo while nothing runs is one job that knows all 20 triggers;
/// another repo's push is its own job.
pub async fn a_burst_of_triggers_coalesces_into_one_job(queue: &dyn JobQueue) {
    for n in 0..20 {
        queue
            .enqueue(push("o/a", n), 1000 + n)
            .await
            .expect("enqueue");
    }
    queue.enqueue(push("o/b", 0), 1100).await.expect("enqueue");
    let jobs = queue.recent(100).await.expect("recent");
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    let a = jobs
        .iter()
        .find(|j| j.key == "cascade:o/a")
        .expect("o/a's job");
    assert_eq!(a.triggers.len(), 20);
    assert_eq!(a.triggers[19], json!({"repo": "o/a", "n": 19}));
    assert_eq!(queue.stats().await.expect("stats").pending, 2);
}

/// A trigger that arrives while its key's job runs becomes one new pending job (not dropped, not
/// merged into the run that may have looked before it), which waits until the running one ends.
pub async fn a_trigger_during_a_run_queues_one_more(queue: &dyn JobQueue) {
    queue.enqueue(push("o/a", 0), 1000).await.expect("enqueue");
    let first = queue
        .claim("w1", LEASE, 1000)
        .await
        .expect("claim")
        .expect("a job");
    for n in 1..=5 {
        queue
            .enqueue(push("o/a", n), 1000 + n)
            .await
            .expect("enqueue");
    }
    let jobs = queue.recent(10).await.expect("recent");
    assert_eq!(
        jobs.len(),
        2,
        "five triggers during the run make one more job"
    );
    assert!(
        queue
            .claim("w2", LEASE, 1010)
            .await
            .expect("claim")
            .is_none(),
        "one job per key runs at a time"
    );
    assert!(
        queue
            .complete(first.id, "w1", 1020)
            .await
            .expect("complete")
    );
    let second = queue
        .claim("w2", LEASE, 1030)
        .await
        .expect("claim")
        .expect("the queued one");
    assert_eq!(second.triggers.len(), 5);
}

/// A worker that stops renewing loses the job when its lease expires; the next claim is attempt 2,
/// and the first worker can no longer complete it.
pub async fn an_expired_lease_passes_the_job_on(queue: &dyn JobQueue) {
    queue.enqueue(push("o/a", 0), 1000).await.expect("enqueue");
    let job = queue
        .claim("dead", LEASE, 1000)
        .await
        .expect("claim")
        .expect("a job");
    assert!(
        queue
            .renew(job.id, "dead", LEASE, 30_000)
            .await
            .expect("renew")
    );
    assert!(
        queue
            .claim("w2", LEASE, 60_000)
            .await
            .expect("claim")
            .is_none(),
        "renewed until 90000"
    );
    let taken = queue
        .claim("w2", LEASE, 90_001)
        .await
        .expect("claim")
        .expect("the expired job");
    assert_eq!((taken.id, taken.attempts), (job.id, 2));
    assert_eq!(taken.owner.as_deref(), Some("w2"));
    assert!(
        !queue
            .renew(job.id, "dead", LEASE, 90_002)
            .await
            .expect("renew")
    );
    assert!(
        !queue
            .complete(job.id, "dead", 90_003)
            .await
            .expect("complete")
    );
    assert!(
        queue
            .complete(job.id, "w2", 90_004)
            .await
            .expect("complete")
    );
}

/// A failed attempt with a retry time is pending again from then; without one it has failed.
pub async fn failures_retry_later_or_end(queue: &dyn JobQueue) {
    queue.enqueue(push("o/a", 0), 1000).await.expect("enqueue");
    let job = queue
        .claim("w1", LEASE, 1000)
        .await
        .expect("claim")
        .expect("job");
    assert!(
        queue
            .fail(job.id, "w1", "forge down", Some(5000), 1001)
            .await
            .expect("fail")
    );
    assert!(
        queue
            .claim("w1", LEASE, 4999)
            .await
            .expect("claim")
            .is_none()
    );
    let again = queue
        .claim("w1", LEASE, 5000)
        .await
        .expect("claim")
        .expect("job");
    assert_eq!(again.last_error.as_deref(), Some("forge down"));
    assert!(
        queue
            .fail(again.id, "w1", "still down", None, 5001)
            .await
            .expect("fail")
    );
    assert!(
        queue
            .claim("w1", LEASE, 99_999)
            .await
            .expect("claim")
            .is_none()
    );
    assert_eq!(queue.stats().await.expect("stats").failed, 1);
}

/// A worker shutting down gives its jobs back, claimable at once by another.
pub async fn release_gives_a_workers_jobs_back(queue: &dyn JobQueue) {
    queue.enqueue(push("o/a", 0), 1000).await.expect("enqueue");
    queue.enqueue(push("o/b", 0), 1000).await.expect("enqueue");
    queue
        .claim("w1", LEASE, 1000)
        .await
        .expect("claim")
        .expect("job");
    queue
        .claim("w2", LEASE, 1000)
        .await
        .expect("claim")
        .expect("job");
    assert_eq!(queue.release("w1", 1001).await.expect("release"), 1);
    let stats = queue.stats().await.expect("stats");
    assert_eq!((stats.pending, stats.running), (1, 1));
    let back = queue
        .claim("w3", LEASE, 1002)
        .await
        .expect("claim")
        .expect("job");
    assert_eq!(back.attempts, 2);
}

/// A job that could not start (the workspace is busy) goes back without spending an attempt:
/// claimable again from the given time, as attempt 1 again, and no longer its worker's.
pub async fn a_deferred_job_keeps_its_attempts(queue: &dyn JobQueue) {
    queue.enqueue(push("o/a", 0), 1000).await.expect("enqueue");
    let job = queue
        .claim("w1", LEASE, 1000)
        .await
        .expect("claim")
        .expect("job");
    assert!(queue.defer(job.id, "w1", 5000, 1001).await.expect("defer"));
    assert!(
        !queue.defer(job.id, "w1", 5000, 1002).await.expect("defer"),
        "no longer w1's"
    );
    assert!(!queue.complete(job.id, "w1", 1003).await.expect("complete"));
    assert!(
        queue
            .claim("w2", LEASE, 4999)
            .await
            .expect("claim")
            .is_none(),
        "not before the given time"
    );
    let again = queue
        .claim("w2", LEASE, 5000)
        .await
        .expect("claim")
        .expect("job");
    assert_eq!((again.id, again.attempts), (job.id, 1));
}

/// Calls macro `$callback` (a path, in parentheses) with `$args`, then `;` and the name of every behaviour of
/// [`crate::queue::conformance`]: the one list both test shapes are made from (one test per
/// behaviour here, one database per behaviour on a shared server in the PostgreSQL tests).
#[macro_export]
macro_rules! queue_conformance_behaviours {
    (($($callback:tt)+) { $($args:tt)* }) => {
        $($callback)+! { $($args)*;
            enqueue_claim_complete,
            a_replayed_delivery_is_idempotent,
            a_burst_of_triggers_coalesces_into_one_job,
            a_trigger_during_a_run_queues_one_more,
            an_expired_lease_passes_the_job_on,
            failures_retry_later_or_end,
            release_gives_a_workers_jobs_back,
            a_deferred_job_keeps_its_attempts,
        }
    };
}

/// Emits one `#[tokio::test]` per behaviour of [`crate::queue::conformance`], each on a fresh
/// queue made by `$make`: an expression giving `(queue, guard)`, where the guard (e.g. a temp
/// dir) lives as long as the test.
#[macro_export]
macro_rules! queue_conformance_tests {
    ($make:expr) => {
        $crate::queue_conformance_behaviours!(($crate::queue_conformance_tests) { @each $make });
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (queue, _guard) = $make;
                $crate::queue::conformance::$name(&queue).await;
            }
        )*
    };
}
