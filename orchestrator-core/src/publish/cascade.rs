//! `orchestrator cascade`: a changed repo and everything downstream of it, nothing else.
//!
//! The trigger is a GitHub `repository_dispatch` event (as found in `$GITHUB_EVENT_PATH`) whose
//! `client_payload` names the repo (`repo`, `ref`, `sha`), or `--from`. `--nightly` tags each
//! built repo `nightly-YYYYMMDD-<short sha>` and marks its release a prerelease.

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::{Error, Result};

/// The event type that rebuilds every repo (seed 004's nightly sends it).
pub const BUILD_ALL: &str = "build_all";

/// What triggered a cascade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CascadeTrigger {
    /// The configured repo that changed; `None`: every repo (`--all`, or a `build_all` event).
    pub repo: Option<String>,
    /// The ref that was pushed, if known.
    pub git_ref: Option<String>,
    /// The commit that was pushed, if known.
    pub sha: Option<String>,
    /// The event type, if it came from an event.
    pub event_type: Option<String>,
}

impl CascadeTrigger {
    /// A change in configured repo `repo` (`--from`); an unknown repo is refused.
    pub fn from_repo(config: &Config, repo: &str) -> Result<Self> {
        cascade_waves(config, Some(repo))?;
        Ok(Self {
            repo: Some(repo.to_owned()),
            ..Self::all()
        })
    }

    /// Every repo, in dependency order (`--all`; what a `build_all` event asks).
    pub fn all() -> Self {
        Self {
            repo: None,
            git_ref: None,
            sha: None,
            event_type: None,
        }
    }

    /// The trigger of the `repository_dispatch` event in `path` (`$GITHUB_EVENT_PATH`); a
    /// problem with it names the file.
    pub fn from_event_file(config: &Config, path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::invalid_input(format!("cannot read event file {}: {e}", path.display()))
        })?;
        parse_dispatch_event(config, &text).map_err(|e| match e {
            Error::InvalidInput { message } => {
                Error::invalid_input(format!("{}: {message}", path.display()))
            }
            other => other,
        })
    }

    /// `from <repo>` or `of every repo`, as messages say it.
    pub fn describe(&self) -> String {
        self.repo
            .as_deref()
            .map_or_else(|| "of every repo".to_owned(), |r| format!("from {r}"))
    }
}

/// Reads a `repository_dispatch` event payload. The repo may be named by its configured name,
/// its `owner/name`, or its bare forge name; a [`BUILD_ALL`] event rebuilds every repo.
pub fn parse_dispatch_event(config: &Config, text: &str) -> Result<CascadeTrigger> {
    let bad = |m: String| Error::invalid_input(format!("invalid repository_dispatch event: {m}"));
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let payload = value
        .get("client_payload")
        .ok_or_else(|| bad("no client_payload".into()))?;
    let field = |k: &str| payload.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let event_type = value
        .get("action")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let repo = if event_type.as_deref() == Some(BUILD_ALL) {
        None
    } else {
        let named = field("repo").ok_or_else(|| {
            bad(format!(
                "client_payload.repo is missing (only a {BUILD_ALL} event may leave it out)"
            ))
        })?;
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
        Some(repo.name.clone())
    };
    let sha = field("sha");
    if let Some(s) = &sha
        && (s.len() < 7 || !s.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return Err(bad(format!("client_payload.sha {s:?} is not a commit id")));
    }
    Ok(CascadeTrigger {
        repo,
        git_ref: field("ref"),
        sha,
        event_type,
    })
}

/// The repos a change in `from` must rebuild, in dependency order (waves); `None`: every repo.
pub fn cascade_waves(config: &Config, from: Option<&str>) -> Result<Vec<Vec<String>>> {
    let Some(from) = from else {
        return Ok(config.graph.waves(None));
    };
    if !config.graph.contains(from) {
        return Err(Error::invalid_input(format!(
            "unknown repo {from:?} (configured: {})",
            config.graph.names().join(", ")
        )));
    }
    let closure = config.graph.dependents_closure([from]);
    Ok(config.graph.waves(Some(&closure)))
}

/// The repos a cascade from `from` publishes: `from` and everything downstream of it (`None`:
/// every repo) that declares a `manifest`, in dependency order.
pub fn cascade_packages(config: &Config, from: Option<&str>) -> Result<Vec<String>> {
    Ok(cascade_waves(config, from)?
        .into_iter()
        .flatten()
        .filter(|r| config.repo(r).is_some_and(|c| c.publish.manifest.is_some()))
        .collect())
}

/// Checks an event's `client_payload.sha` against the clone of the repo it names: the cascade
/// builds and tags the clone's HEAD, so an event about another commit (a clone not pulled yet, a
/// stale or forged payload) would release something the event never asked for. `sha` may be
/// abbreviated (7 or more hex digits). Nothing to check without a repo or a sha. Read-only.
pub async fn check_trigger_sha(
    config: &Config,
    vcs: &dyn crate::vcs::Vcs,
    trigger: &CascadeTrigger,
) -> Result<()> {
    let (Some(name), Some(sha)) = (&trigger.repo, &trigger.sha) else {
        return Ok(());
    };
    let repo = config
        .repo(name)
        .ok_or_else(|| Error::invalid_input(format!("unknown repo {name}")))?;
    let head = vcs.head(&repo.path).await?;
    let Some(commit) = head.commit() else {
        return Err(Error::invalid_input(format!(
            "client_payload.sha {sha}: {name} ({}) has no commits",
            repo.path.display()
        )));
    };
    if commit
        .to_ascii_lowercase()
        .starts_with(&sha.to_ascii_lowercase())
    {
        return Ok(());
    }
    Err(Error::invalid_input(format!(
        "client_payload.sha {sha} is not HEAD of {name} ({}, HEAD {}): check out the pushed \
         commit in the clone before cascading",
        repo.path.display(),
        commit.get(..12).unwrap_or(commit)
    )))
}

/// Fills a nightly tag format: `{date}` → `YYYYMMDD` (UTC), `{sha}` → the first 7 characters.
pub fn nightly_tag(format: &str, unix_ms: i64, sha: &str) -> String {
    let (y, m, d) = crate::time::utc_date(unix_ms);
    format
        .replace("{date}", &format!("{y:04}{m:02}{d:02}"))
        .replace("{sha}", sha.get(..7).unwrap_or(sha))
}

/// Whether `tag` is a tag [`nightly_tag`] makes from `format`: `{date}` stands for 8 digits and
/// `{sha}` for 7 hex digits (or the whole sha when it is shorter); the rest must match exactly.
/// What CI (and the simulated CI) uses to recognise a nightly build.
pub fn is_nightly_tag(format: &str, tag: &str) -> bool {
    fn matches(format: &str, tag: &str) -> bool {
        if format.is_empty() {
            return tag.is_empty();
        }
        if let Some(rest) = format.strip_prefix("{date}") {
            return tag.len() >= 8
                && tag.is_char_boundary(8)
                && tag[..8].bytes().all(|b| b.is_ascii_digit())
                && matches(rest, &tag[8..]);
        }
        if let Some(rest) = format.strip_prefix("{sha}") {
            let hex = tag.bytes().take_while(u8::is_ascii_hexdigit).count().min(7);
            return (1..=hex).rev().any(|n| matches(rest, &tag[n..]));
        }
        let mut chars = format.chars();
        let first = chars.next().expect("format is not empty");
        tag.starts_with(first) && matches(chars.as_str(), &tag[first.len_utf8()..])
    }
    matches(format, tag)
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

    #[test]
    fn nightly_tags_are_recognised_by_their_format() {
        let format = "nightly-{date}-{sha}";
        let tag = nightly_tag(format, 1_763_344_800_000, "0123456789abcdef");
        assert!(is_nightly_tag(format, &tag));
        assert!(is_nightly_tag(format, "nightly-20251117-abc"));
        for other in [
            "v1.2.3",
            "nightly-2025111-0123456",
            "nightly-20251117-",
            "nightly-20251117-0123456x",
            "nightly-20251117-01234567",
            "nightly-2025111x-0123456",
            "nightly-20251117",
        ] {
            assert!(!is_nightly_tag(format, other), "{other}");
        }
        assert!(is_nightly_tag("{sha}-n", "abcdef1-n"));
        assert!(is_nightly_tag("n/{date}", "n/20000229"));
    }
}
