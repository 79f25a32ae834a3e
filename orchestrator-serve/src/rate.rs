//! The forge's rate-limit budget, shared by the replicas that use one token.
//!
//! GitHub counts requests per token, not per replica: two replicas that each believe they have
//! 300 requests left can spend 600. Each replica records the `x-ratelimit-*` headers it sees in
//! the shared store ([`SharedRateLimit`], next to the job queue); the newest observation of any
//! replica wins, and every replica reads it back. Below the floor (`[serve] rate_limit_floor`)
//! a replica defers its polls (re-reads of what it has seen) until the window resets
//! ([`deferral`]); first reads and writes still go, so runs progress and no poll is lost.
//! [`share_until_shutdown`] is the loop a replica runs for it, over the GitHub adapter's
//! process-wide budget.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use orchestrator_core::Result;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::metrics::Metrics;

/// The default floor: requests kept in reserve for urgent work.
pub const DEFAULT_FLOOR: u64 = 200;

/// One observation of the forge's rate limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Requests left in the window.
    pub remaining: u64,
    /// When the window resets (Unix seconds).
    pub reset: u64,
    /// The replica that saw it.
    pub replica: String,
    /// When it was seen (ms since the epoch): the newest wins.
    pub seen_ms: u64,
}

/// Where replicas share their observations (the queue's database).
#[async_trait]
pub trait SharedRateLimit: Send + Sync + std::fmt::Debug {
    /// Records `seen` for `bucket` unless a newer observation is already there.
    async fn record(&self, bucket: &str, seen: &Observed) -> Result<()>;

    /// The newest observation of `bucket`, by any replica.
    async fn read(&self, bucket: &str) -> Result<Option<Observed>>;
}

/// The bucket of a token on a forge: a digest of both, so the token is never stored.
pub fn bucket(api_url: &str, token: Option<&str>) -> String {
    let mut digest = Sha256::new();
    digest.update(api_url.as_bytes());
    digest.update([0]);
    digest.update(token.unwrap_or("").as_bytes());
    hex::encode(&digest.finalize()[..12])
}

/// Until when polls wait (Unix seconds), or `None`: the shared budget is below `floor` and its
/// window has not reset by `now_secs`.
pub fn deferral(shared: Option<&Observed>, floor: u64, now_secs: u64) -> Option<u64> {
    shared
        .filter(|seen| seen.remaining < floor && seen.reset > now_secs)
        .map(|seen| seen.reset)
}

/// One round of sharing: records this replica's newest observation `local` (if any), reads the
/// shared one, and says until when polls wait ([`deferral`]) along with what was read.
///
/// # Errors
/// The store cannot be written or read.
pub async fn share(
    store: &dyn SharedRateLimit,
    bucket: &str,
    local: Option<Observed>,
    floor: u64,
    now_secs: u64,
) -> Result<(Option<Observed>, Option<u64>)> {
    if let Some(local) = &local {
        store.record(bucket, local).await?;
    }
    let shared = store.read(bucket).await?;
    let until = deferral(shared.as_ref(), floor, now_secs);
    Ok((shared, until))
}

/// How often a replica shares what it saw of the rate limit and reads what the others saw.
const SHARE_INTERVAL: Duration = Duration::from_secs(1);

/// Until `shutdown`: records this process's newest rate-limit observation (from the GitHub
/// adapter's headers, [`orchestrator_github::rate_budget`]) in the shared store as `replica`,
/// reads the newest of any replica, shows it in `/metrics`, and defers this process's polls while
/// it is below `floor`. A store that does not answer is logged and tried again (polls then go
/// undeferred: the forge's own 403/429 handling remains).
///
/// # Errors
/// None today: a failing store is logged, not fatal (the `Result` is the service's task shape).
pub async fn share_until_shutdown(
    store: Arc<dyn SharedRateLimit>,
    bucket: String,
    floor: u64,
    replica: String,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<()> {
    let budget = orchestrator_github::rate_budget();
    let mut shared_ms = None;
    loop {
        let local = budget
            .latest()
            .filter(|seen| Some(seen.seen_ms) != shared_ms)
            .map(|seen| Observed {
                remaining: seen.remaining,
                reset: seen.reset,
                replica: replica.clone(),
                seen_ms: seen.seen_ms,
            });
        let now = crate::now_ms() / 1000;
        let seen_ms = local.as_ref().map(|l| l.seen_ms);
        match share(store.as_ref(), &bucket, local, floor, now).await {
            Ok((shared, until)) => {
                shared_ms = seen_ms.or(shared_ms);
                if let Some(shared) = shared {
                    metrics
                        .rate_limit_remaining
                        .store(shared.remaining, Ordering::Relaxed);
                    metrics
                        .rate_limit_reset
                        .store(shared.reset, Ordering::Relaxed);
                }
                let until = until.unwrap_or(0);
                if until != budget.polls_deferred_until() {
                    tracing::info!(
                        until,
                        floor,
                        "rate-limit budget: polls {}",
                        if until == 0 {
                            "resume"
                        } else {
                            "deferred until the reset"
                        }
                    );
                }
                budget.defer_polls_until(until);
                metrics.polls_deferred_until.store(until, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(error = %e, "rate-limit budget: cannot share"),
        }
        tokio::select! {
            () = tokio::time::sleep(SHARE_INTERVAL) => {}
            _ = shutdown.changed() => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::SqliteJobQueue;

    fn seen(remaining: u64, reset: u64, replica: &str, seen_ms: u64) -> Observed {
        Observed {
            remaining,
            reset,
            replica: replica.to_owned(),
            seen_ms,
        }
    }

    #[test]
    fn polls_wait_only_below_the_floor_and_before_the_reset() {
        assert_eq!(deferral(None, 200, 1000), None);
        assert_eq!(
            deferral(Some(&seen(199, 2000, "a", 1)), 200, 1000),
            Some(2000)
        );
        assert_eq!(deferral(Some(&seen(200, 2000, "a", 1)), 200, 1000), None);
        assert_eq!(
            deferral(Some(&seen(5, 1000, "a", 1)), 200, 1000),
            None,
            "reset"
        );
    }

    #[test]
    fn the_bucket_names_the_token_without_holding_it() {
        let a = bucket("https://api.github.com", Some("ghp_secret"));
        assert!(!a.contains("ghp_secret"));
        assert_eq!(a, bucket("https://api.github.com", Some("ghp_secret")));
        assert_ne!(a, bucket("https://api.github.com", Some("ghp_other")));
        assert_ne!(
            a,
            bucket("https://ghe.example.com/api/v3", Some("ghp_secret"))
        );
    }

    /// Issue 17: replica A sees the budget low; replica B (same token, same queue file) has
    /// only an older, healthy observation of its own, and still defers its polls until the
    /// reset, because A's is newer. An older observation never overwrites a newer one.
    #[tokio::test]
    async fn a_low_budget_seen_by_one_replica_defers_the_others_polls() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("queue.db");
        let a = SqliteJobQueue::open(&file).expect("open");
        let b = SqliteJobQueue::open(&file).expect("open");
        let bucket = bucket("https://api.github.com", Some("token"));
        let (_, until) = share(&a, &bucket, Some(seen(150, 5000, "a", 2000)), 200, 1000)
            .await
            .expect("share");
        assert_eq!(until, Some(5000));
        let (shared, until) = share(&b, &bucket, Some(seen(4000, 5000, "b", 1000)), 200, 1000)
            .await
            .expect("share");
        assert_eq!(until, Some(5000), "{shared:?}");
        assert_eq!(shared.expect("shared").replica, "a", "the newest wins");
        // After the reset the same observation defers nothing.
        let (_, until) = share(&b, &bucket, None, 200, 5000).await.expect("share");
        assert_eq!(until, None);
        // Another token's budget is its own.
        let (_, until) = share(&b, "other", None, 200, 1000).await.expect("share");
        assert_eq!(until, None);
    }
}
