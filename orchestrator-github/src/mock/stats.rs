//! [`MockStats`]: what the mock served, for tests and benchmarks that count API calls
//! (`GET /_mock/stats`, or [`MockGitHub::stats`](super::MockGitHub::stats)).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Request counts of a [`MockGitHub`](super::MockGitHub). Requests to `/_mock/*` are not counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MockStats {
    /// Every API request received, including faulted ones.
    pub requests: u64,
    /// Requests that counted against the rate limit: everything answered but `304`s.
    pub rate_limited: u64,
    /// `304 Not Modified` answers (free on GitHub).
    pub not_modified: u64,
    /// Answers by status code; dropped connections are counted in `faults`, not here.
    pub by_status: BTreeMap<u16, u64>,
    /// By route template, e.g. `GET /repos/{owner}/{repo}/releases/tags/{tag}`.
    pub by_route: BTreeMap<String, RouteStats>,
    /// By repository `owner/name`, for requests under `/repos/{owner}/{repo}`.
    pub by_repo: BTreeMap<String, RouteStats>,
    /// Faults the server produced.
    pub faults: FaultStats,
    /// Webhook deliveries (see [`MockOptions::webhook`](super::MockOptions::webhook)); not
    /// requests, so not in the counts above.
    #[serde(default)]
    pub webhooks: super::WebhookStats,
}

/// Counts of one route or one repository.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteStats {
    /// Requests.
    pub requests: u64,
    /// Of which counted against the rate limit (not `304`).
    pub rate_limited: u64,
    /// Of which answered `304 Not Modified`.
    pub not_modified: u64,
    /// Answers by status code.
    pub by_status: BTreeMap<u16, u64>,
}

/// Faults the server produced, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultStats {
    /// `5xx` answers from the fault rate or injected faults.
    pub server_errors: u64,
    /// Connections dropped mid-response.
    pub connection_resets: u64,
    /// `403`/`429` rate-limit answers (the enforced limit or injected faults).
    pub rate_limit_rejections: u64,
    /// Answers held back by [`MockOptions::slow_rate`](super::MockOptions::slow_rate).
    #[serde(default)]
    pub slow_responses: u64,
}

/// How one request ended, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// An HTTP answer with this status.
    Status(u16),
    /// The connection was dropped.
    Reset,
}

impl MockStats {
    /// Counts one request.
    pub(crate) fn record(&mut self, route: &str, repo: Option<&str>, outcome: Outcome) {
        self.requests += 1;
        let status = match outcome {
            Outcome::Status(status) => Some(status),
            Outcome::Reset => {
                self.faults.connection_resets += 1;
                None
            }
        };
        if let Some(status) = status {
            if status == 304 {
                self.not_modified += 1;
            } else {
                self.rate_limited += 1;
            }
            *self.by_status.entry(status).or_default() += 1;
        }
        let count = |stats: &mut RouteStats| {
            stats.requests += 1;
            if let Some(status) = status {
                if status == 304 {
                    stats.not_modified += 1;
                } else {
                    stats.rate_limited += 1;
                }
                *stats.by_status.entry(status).or_default() += 1;
            }
        };
        count(self.by_route.entry(route.to_owned()).or_default());
        if let Some(repo) = repo {
            count(self.by_repo.entry(repo.to_owned()).or_default());
        }
    }

    /// The share of `GET`s of releases by tag answered `304` (0 when there were none): how much
    /// of a release wait conditional requests made free.
    pub fn not_modified_share(&self) -> f64 {
        self.by_route
            .get(RELEASE_BY_TAG)
            .filter(|r| r.requests > 0)
            .map_or(0.0, |r| r.not_modified as f64 / r.requests as f64)
    }
}

/// The route template of a release by tag.
pub(crate) const RELEASE_BY_TAG: &str = "GET /repos/{owner}/{repo}/releases/tags/{tag}";
