//! `[serve]`: what `orchestrator serve` schedules and how it shares the forge's rate limit. The
//! service lives in `orchestrator-serve`, which checks the cron syntax with its scheduler; the
//! section is read here so every command loads one file the same way.

use serde::Deserialize;

/// `[serve]`: the service's schedule. The cron syntax is checked by `orchestrator-serve`, which
/// owns the scheduler; here it is only a string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServeConfig {
    /// `nightly = "0 2 * * *"`: when the nightly cascade runs (five-field cron, UTC).
    pub nightly: Option<String>,
    /// `rate_limit_floor = 200`: below this many requests left in the forge's rate-limit window
    /// (shared by every replica using the token), replicas defer their polls until the reset.
    pub rate_limit_floor: Option<u64>,
}

// The name appears in serde's messages ("expected struct RawServe"): keep it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServe {
    nightly: Option<String>,
    rate_limit_floor: Option<u64>,
}

/// `[serve]` as read: serde's types are its only checks.
pub(super) fn parse_serve(raw: Option<RawServe>) -> ServeConfig {
    raw.map_or_else(ServeConfig::default, |s| ServeConfig {
        nightly: s.nightly,
        rate_limit_floor: s.rate_limit_floor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::parse;

    #[test]
    fn every_key_is_read() {
        assert_eq!(parse("").expect("valid").serve, ServeConfig::default());
        let c = parse("[serve]\nnightly = \"0 2 * * *\"\nrate_limit_floor = 200\n").expect("valid");
        assert_eq!(
            c.serve,
            ServeConfig {
                nightly: Some("0 2 * * *".into()),
                rate_limit_floor: Some(200),
            }
        );
    }
}
