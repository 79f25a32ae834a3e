//! Counters for `/metrics`, rendered in the Prometheus text format (version 0.0.4) by hand: a
//! dozen lines do not justify a metrics framework.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::queue::{JobState, QueueStats};

/// The service's counters (process-local; gauges come from the queue when rendered).
#[derive(Debug)]
pub struct Metrics {
    /// Deliveries stored as a new job or merged into one.
    pub webhooks_accepted: AtomicU64,
    /// Deliveries whose id was seen before.
    pub webhooks_replayed: AtomicU64,
    /// Verified deliveries with nothing to do.
    pub webhooks_ignored: AtomicU64,
    /// Deliveries that woke waits.
    pub webhooks_woke: AtomicU64,
    /// Wakes heard from other replicas (their webhooks, this replica's waits).
    pub remote_wakes: AtomicU64,
    /// Refused: bad or missing signature.
    pub verification_failures: AtomicU64,
    /// Refused: malformed payload or missing event header.
    pub bad_payloads: AtomicU64,
    /// Refused: body over the limit.
    pub too_large: AtomicU64,
    /// Job attempts that succeeded.
    pub jobs_succeeded: AtomicU64,
    /// Job attempts that failed and will be retried.
    pub jobs_retried: AtomicU64,
    /// Jobs given up on.
    pub jobs_failed: AtomicU64,
    /// Job starts put off because another run held the workspace (no attempt spent).
    pub jobs_deferred: AtomicU64,
    /// The forge's rate limit as the replicas last saw it: requests left (`u64::MAX`: unknown).
    pub rate_limit_remaining: AtomicU64,
    /// When that window resets (Unix seconds).
    pub rate_limit_reset: AtomicU64,
    /// Until when this replica defers its polls (Unix seconds; 0: it does not).
    pub polls_deferred_until: AtomicU64,
}

impl Default for Metrics {
    /// Counters at zero, the rate limit unknown.
    fn default() -> Self {
        let zero = || AtomicU64::new(0);
        Self {
            webhooks_accepted: zero(),
            webhooks_replayed: zero(),
            webhooks_ignored: zero(),
            webhooks_woke: zero(),
            remote_wakes: zero(),
            verification_failures: zero(),
            bad_payloads: zero(),
            too_large: zero(),
            jobs_succeeded: zero(),
            jobs_retried: zero(),
            jobs_failed: zero(),
            jobs_deferred: zero(),
            rate_limit_remaining: AtomicU64::new(u64::MAX),
            rate_limit_reset: zero(),
            polls_deferred_until: zero(),
        }
    }
}

/// Adds one to a counter.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    /// The Prometheus text exposition: the counters, the queue's `stats`, and `waits` in flight.
    pub fn render(&self, stats: &QueueStats, waits: usize) -> String {
        let mut out = String::new();
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut family = |name: &str, kind: &str, help: &str, samples: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        family(
            "orchestrator_queue_depth",
            "gauge",
            "Jobs waiting for a worker.",
            &[("", stats.pending)],
        );
        let by_state: Vec<(String, u64)> = JobState::ALL
            .iter()
            .map(|s| (format!("{{state=\"{}\"}}", s.as_str()), stats.get(*s)))
            .collect();
        let by_state: Vec<(&str, u64)> = by_state.iter().map(|(l, v)| (l.as_str(), *v)).collect();
        family(
            "orchestrator_jobs",
            "gauge",
            "Jobs in the queue by state.",
            &by_state,
        );
        family(
            "orchestrator_waits_in_flight",
            "gauge",
            "Release waits in progress in this process.",
            &[("", u64::try_from(waits).unwrap_or(u64::MAX))],
        );
        family(
            "orchestrator_webhooks_total",
            "counter",
            "Webhook deliveries by outcome.",
            &[
                ("{outcome=\"accepted\"}", get(&self.webhooks_accepted)),
                ("{outcome=\"replayed\"}", get(&self.webhooks_replayed)),
                ("{outcome=\"ignored\"}", get(&self.webhooks_ignored)),
                ("{outcome=\"woke\"}", get(&self.webhooks_woke)),
                (
                    "{outcome=\"bad_signature\"}",
                    get(&self.verification_failures),
                ),
                ("{outcome=\"bad_payload\"}", get(&self.bad_payloads)),
                ("{outcome=\"too_large\"}", get(&self.too_large)),
            ],
        );
        family(
            "orchestrator_webhook_verification_failures_total",
            "counter",
            "Deliveries refused for a bad or missing X-Hub-Signature-256.",
            &[("", get(&self.verification_failures))],
        );
        family(
            "orchestrator_remote_wakes_total",
            "counter",
            "Wakes for release waits heard from other replicas.",
            &[("", get(&self.remote_wakes))],
        );
        let remaining = get(&self.rate_limit_remaining);
        if remaining != u64::MAX {
            family(
                "orchestrator_forge_rate_limit_remaining",
                "gauge",
                "Requests left in the forge's rate-limit window, as any replica sharing the token last saw it.",
                &[("", remaining)],
            );
            family(
                "orchestrator_forge_rate_limit_reset_seconds",
                "gauge",
                "When that window resets (Unix time).",
                &[("", get(&self.rate_limit_reset))],
            );
        }
        family(
            "orchestrator_polls_deferred",
            "gauge",
            "1 while this replica defers its polls (the shared budget is below its floor).",
            &[("", u64::from(get(&self.polls_deferred_until) != 0))],
        );
        family(
            "orchestrator_job_attempts_total",
            "counter",
            "Job attempts by outcome.",
            &[
                ("{outcome=\"succeeded\"}", get(&self.jobs_succeeded)),
                ("{outcome=\"retried\"}", get(&self.jobs_retried)),
                ("{outcome=\"failed\"}", get(&self.jobs_failed)),
                ("{outcome=\"deferred\"}", get(&self.jobs_deferred)),
            ],
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text_with_the_queue_gauges() {
        let metrics = Metrics::default();
        bump(&metrics.verification_failures);
        let stats = QueueStats {
            pending: 3,
            running: 1,
            succeeded: 7,
            failed: 0,
        };
        let text = metrics.render(&stats, 2);
        assert!(
            text.contains("# TYPE orchestrator_queue_depth gauge\norchestrator_queue_depth 3\n")
        );
        assert!(text.contains("orchestrator_jobs{state=\"succeeded\"} 7\n"));
        assert!(text.contains("orchestrator_waits_in_flight 2\n"));
        assert!(text.contains("orchestrator_webhook_verification_failures_total 1\n"));
        assert!(
            !text.contains("orchestrator_forge_rate_limit_remaining"),
            "not known yet: not shown"
        );
        metrics.rate_limit_remaining.store(150, Ordering::Relaxed);
        metrics.polls_deferred_until.store(99, Ordering::Relaxed);
        let text = metrics.render(&stats, 2);
        assert!(text.contains("orchestrator_forge_rate_limit_remaining 150\n"));
        assert!(text.contains("orchestrator_polls_deferred 1\n"));
        // Every sample line is `name{labels} value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').expect("name value");
            value.parse::<u64>().expect("a number");
        }
    }
}
