//! `orchestrator cascade`: a changed repo and everything downstream of it, nothing else.
//!
//! The trigger is a GitHub `repository_dispatch` event (as found in `$GITHUB_EVENT_PATH`) whose
//! `client_payload` names the repo (`repo`, `ref`, `sha`), or `--from`. `--nightly` tags each
//! built repo `nightly-YYYYMMDD-<short sha>` and marks its release a prerelease.

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::{Error, Result};

/// What triggered a cascade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CascadeTrigger {
    /// The configured repo that changed.
    pub repo: String,
    /// The ref that was pushed, if known.
    pub git_ref: Option<String>,
    /// The commit that was pushed, if known.
    pub sha: Option<String>,
    /// The event type, if it came from an event.
    pub event_type: Option<String>,
}

/// Reads a `repository_dispatch` event payload. The repo may be named by its configured name,
/// its `owner/name`, or its bare forge name; `build_all` with no repo is refused (use `--from`).
pub fn parse_dispatch_event(config: &Config, text: &str) -> Result<CascadeTrigger> {
    let bad = |m: String| Error::invalid_input(format!("invalid repository_dispatch event: {m}"));
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let payload = value
        .get("client_payload")
        .ok_or_else(|| bad("no client_payload".into()))?;
    let field = |k: &str| payload.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let named = field("repo").ok_or_else(|| bad("client_payload.repo is missing".into()))?;
    let repo = config
        .repos
        .iter()
        .find(|r| r.name == named || r.github.to_string() == named || r.github.name == named)
        .ok_or_else(|| {
            bad(format!(
                "client_payload.repo {named:?} is not a configured repo (configured: {})",
                config.graph.names().join(", ")
            ))
        })?;
    let sha = field("sha");
    if let Some(s) = &sha
        && (s.len() < 7 || !s.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return Err(bad(format!("client_payload.sha {s:?} is not a commit id")));
    }
    Ok(CascadeTrigger {
        repo: repo.name.clone(),
        git_ref: field("ref"),
        sha,
        event_type: value
            .get("action")
            .and_then(|v| v.as_str())
            .map(str::to_owned),
    })
}

/// The repos a change in `from` must rebuild, in dependency order (waves).
pub fn cascade_waves(config: &Config, from: &str) -> Result<Vec<Vec<String>>> {
    if !config.graph.contains(from) {
        return Err(Error::invalid_input(format!(
            "unknown repo {from:?} (configured: {})",
            config.graph.names().join(", ")
        )));
    }
    let closure = config.graph.dependents_closure([from]);
    Ok(config.graph.waves(Some(&closure)))
}

/// Fills a nightly tag format: `{date}` → `YYYYMMDD` (UTC), `{sha}` → the first 7 characters.
pub fn nightly_tag(format: &str, unix_ms: i64, sha: &str) -> String {
    let days = unix_ms.div_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    format
        .replace("{date}", &format!("{y:04}{m:02}{d:02}"))
        .replace("{sha}", sha.get(..7).unwrap_or(sha))
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nightly_tags_use_the_utc_date_and_short_sha() {
        // 2025-11-17T02:00:00Z
        assert_eq!(
            nightly_tag(
                "nightly-{date}-{sha}",
                1_763_344_800_000,
                "0123456789abcdef"
            ),
            "nightly-20251117-0123456"
        );
        assert_eq!(nightly_tag("n-{date}", 0, "x"), "n-19700101");
        assert_eq!(nightly_tag("{date}", 951_782_400_000, "x"), "20000229");
    }
}
