//! Deterministic random faults and the enforced rate-limit window.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A random fault the fault rate picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chaos {
    /// Answer `502 Bad Gateway`.
    BadGateway,
    /// Drop the connection mid-response.
    Reset,
}

/// Decides which requests fail. The decision for the `n`-th request to a given method and URL is
/// a hash of (seed, method, URL, n): the same seed gives the same faults for the same requests,
/// whatever order concurrent clients interleave them in.
#[derive(Debug, Default)]
pub(crate) struct FaultPlan {
    rate: f64,
    seed: u64,
    seen: HashMap<String, u64>,
}

impl FaultPlan {
    pub(crate) fn new(rate: f64, seed: u64) -> Self {
        Self {
            rate: rate.clamp(0.0, 1.0),
            seed,
            seen: HashMap::new(),
        }
    }

    /// The fault for this request, if it gets one.
    pub(crate) fn decide(&mut self, method: &str, url: &str) -> Option<Chaos> {
        if self.rate <= 0.0 {
            return None;
        }
        let key = format!("{method} {url}");
        let n = self.seen.entry(key.clone()).or_default();
        *n += 1;
        let hash = splitmix64(self.seed ^ fnv1a(key.as_bytes()) ^ n.wrapping_mul(0x9E37_79B9));
        let unit = (hash >> 11) as f64 / (1u64 << 53) as f64;
        (unit < self.rate).then_some(if hash & 1 == 0 {
            Chaos::BadGateway
        } else {
            Chaos::Reset
        })
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// GitHub's primary rate limit as fixed windows: `limit` counted requests per `window`.
#[derive(Debug)]
pub(crate) struct RateWindow {
    limit: u64,
    enforced: bool,
    window: Duration,
    started: Instant,
    used: u64,
}

impl RateWindow {
    /// What github.com gives an authenticated user; reported, not enforced.
    const DEFAULT_LIMIT: u64 = 5000;

    pub(crate) fn new(limit: Option<u64>, window: Duration) -> Self {
        Self {
            limit: limit.unwrap_or(Self::DEFAULT_LIMIT),
            enforced: limit.is_some(),
            window: window.max(Duration::from_millis(1)),
            started: Instant::now(),
            used: 0,
        }
    }

    fn roll(&mut self) {
        let elapsed = self.started.elapsed();
        if elapsed >= self.window {
            let windows = (elapsed.as_nanos() / self.window.as_nanos()) as u32;
            self.started += self.window * windows;
            self.used = 0;
        }
    }

    /// True when the limit is enforced and spent for the current window.
    pub(crate) fn exhausted(&mut self) -> bool {
        self.roll();
        self.enforced && self.used >= self.limit
    }

    /// Counts one request against the limit.
    pub(crate) fn spend(&mut self) {
        self.roll();
        self.used += 1;
    }

    /// `x-ratelimit-*` headers: limit, remaining, reset (Unix seconds, rounded up), used.
    pub(crate) fn headers(&mut self) -> [(&'static str, String); 5] {
        self.roll();
        let until_reset = (self.started + self.window).saturating_duration_since(Instant::now());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let reset = (now + until_reset).as_secs_f64().ceil() as u64;
        [
            ("x-ratelimit-limit", self.limit.to_string()),
            (
                "x-ratelimit-remaining",
                self.limit.saturating_sub(self.used).to_string(),
            ),
            ("x-ratelimit-reset", reset.to_string()),
            ("x-ratelimit-used", self.used.to_string()),
            ("x-ratelimit-resource", "core".to_owned()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_faults() {
        let run = |seed| {
            let mut plan = FaultPlan::new(0.3, seed);
            (0..200)
                .map(|i| plan.decide("GET", &format!("/repos/o/r{}", i % 7)))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
        let faults = run(1).iter().filter(|f| f.is_some()).count();
        assert!((30..=90).contains(&faults), "about 30% of 200: {faults}");
        assert!(run(1).contains(&Some(Chaos::Reset)));
        assert!(run(1).contains(&Some(Chaos::BadGateway)));
    }

    #[test]
    fn faults_do_not_depend_on_the_interleaving_of_urls() {
        let mut a = FaultPlan::new(0.5, 9);
        let mut b = FaultPlan::new(0.5, 9);
        let a_x: Vec<_> = (0..20).map(|_| a.decide("GET", "/x")).collect();
        let _ = (0..20).map(|_| b.decide("GET", "/y")).count();
        let b_x: Vec<_> = (0..20).map(|_| b.decide("GET", "/x")).collect();
        assert_eq!(a_x, b_x);
    }

    #[test]
    fn no_rate_no_faults() {
        let mut plan = FaultPlan::new(0.0, 1);
        assert!((0..100).all(|_| plan.decide("GET", "/x").is_none()));
    }

    #[test]
    fn the_window_resets() {
        let mut w = RateWindow::new(Some(2), Duration::from_millis(50));
        assert!(!w.exhausted());
        w.spend();
        w.spend();
        assert!(w.exhausted());
        assert_eq!(w.headers()[1].1, "0");
        std::thread::sleep(Duration::from_millis(60));
        assert!(!w.exhausted());
        assert_eq!(w.headers()[1].1, "2");
    }
}
