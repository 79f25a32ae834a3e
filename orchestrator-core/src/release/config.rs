//! `[release]` and each repo's `assets`: the tag format, how the asset waits poll and when they
//! give up, and how many repos are in flight. The release feature owns these keys, so their
//! defaults and checks live beside the code that uses them.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::assets::AssetPattern;
use crate::config::errors::ErrFn;
use crate::config::values::{duration_field, in_range, positive};
use crate::error::Result;
use crate::version::TagFormat;

/// `[release]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseConfig {
    /// Tag format, default `v{version}`.
    pub tag: TagFormat,
    /// Base poll interval while waiting for assets.
    pub poll_interval: Duration,
    /// Per-repo wait deadline.
    pub timeout: Duration,
    /// Unchanged polls before assets count as settled.
    pub stable_polls: u32,
    /// Repos in flight at once.
    pub concurrency: usize,
}

impl Default for ReleaseConfig {
    fn default() -> Self {
        Self {
            tag: TagFormat::default(),
            poll_interval: Duration::from_secs(10),
            timeout: Duration::from_secs(45 * 60),
            stable_polls: 1,
            concurrency: 4,
        }
    }
}

// The name appears in serde's messages ("expected struct RawRelease"): keep it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRelease {
    tag: Option<Spanned<String>>,
    poll_interval: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    stable_polls: Option<Spanned<i64>>,
    concurrency: Option<Spanned<i64>>,
}

/// Validates `[release]`; an absent key takes its default.
pub(crate) fn parse_release(raw: Option<RawRelease>, err: &ErrFn<'_>) -> Result<ReleaseConfig> {
    let raw = raw.unwrap_or_default();
    let defaults = ReleaseConfig::default();
    Ok(ReleaseConfig {
        tag: match raw.tag {
            None => defaults.tag,
            Some(t) => {
                let span = t.span();
                TagFormat::parse(t.get_ref())
                    .map_err(|e| err(Some(span), Some("release.tag".into()), e.to_string()))?
            }
        },
        poll_interval: duration_field(
            raw.poll_interval,
            "release.poll_interval",
            defaults.poll_interval,
            err,
        )?,
        timeout: duration_field(raw.timeout, "release.timeout", defaults.timeout, err)?,
        // 0 is allowed: the first complete observation settles the wait. Meant for waits that
        // webhooks wake (`serve`), where every later change to the release is announced.
        stable_polls: in_range(
            raw.stable_polls,
            "release.stable_polls",
            i64::from(defaults.stable_polls),
            0,
            err,
        )? as u32,
        concurrency: positive(
            raw.concurrency,
            "release.concurrency",
            defaults.concurrency as i64,
            err,
        )? as usize,
    })
}

/// Validates `repo[index].assets`.
pub(crate) fn parse_assets(
    raw: Option<Vec<Spanned<String>>>,
    index: usize,
    err: &ErrFn<'_>,
) -> Result<Vec<AssetPattern>> {
    raw.unwrap_or_default()
        .into_iter()
        .map(|a| {
            AssetPattern::parse(a.get_ref()).map_err(|e| {
                err(
                    Some(a.span()),
                    Some(format!("repo[{index}].assets")),
                    e.to_string(),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::{assert_errors, parse};

    #[test]
    fn loads_every_key() {
        let c = parse(
            "[release]\ntag = \"release-{version}\"\npoll_interval = \"10s\"\ntimeout = \"45m\"\nstable_polls = 2\nconcurrency = 3\n",
        )
        .expect("valid");
        let v = crate::version::ReleaseVersion::parse("1.2.3").expect("valid");
        assert_eq!(c.release.tag.render(&v), "release-1.2.3");
        assert_eq!(c.release.poll_interval, Duration::from_secs(10));
        assert_eq!(c.release.timeout, Duration::from_secs(2700));
        assert_eq!(c.release.stable_polls, 2);
        assert_eq!(c.release.concurrency, 3);
    }

    #[test]
    fn defaults_apply() {
        let c = parse("[[repo]]\nname = \"a\"\ngithub = \"o/a\"\n").expect("valid");
        assert_eq!(c.release, ReleaseConfig::default());
        assert!(c.repos[0].assets.is_empty());
    }

    /// `stable_polls = 0`: a wait settles on its first complete observation (for waits that
    /// webhooks wake; every later change is announced).
    #[test]
    fn stable_polls_may_be_zero() {
        let config = parse("[release]\nstable_polls = 0\n").expect("valid");
        assert_eq!(config.release.stable_polls, 0);
    }

    #[test]
    fn bad_values_name_file_line_and_key() {
        assert_errors(&[
            (
                "[release]\npoll_interval = \"10q\"\n",
                ":2: `release.poll_interval`: invalid duration \"10q\"",
            ),
            (
                "[release]\ntimeout = \"0s\"\n",
                ":2: `release.timeout`: \"0s\" must be above zero",
            ),
            (
                "[release]\nconcurrency = 0\n",
                ":2: `release.concurrency`: 0 is out of range (1 to 10000)",
            ),
            (
                "[release]\nstable_polls = -1\n",
                ":2: `release.stable_polls`: -1 is out of range (0 to 10000)",
            ),
            (
                "[release]\ntag = \"release\"\n",
                ":2: `release.tag`: tag format \"release\" must contain {version}",
            ),
            (
                "[release]\nstable_polls = \"two\"\n",
                ":2: `stable_polls`: invalid type: string \"two\", expected i64",
            ),
        ]);
    }

    #[test]
    fn bad_asset_patterns_name_the_repo_and_the_line() {
        assert_errors(&[
            (
                "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\nassets = [\"dir/x\"]\n",
                ":5: `repo[0].assets`: invalid asset pattern \"dir/x\"",
            ),
            (
                "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\nassets = [\"a-{ver}.tgz\"]\n",
                ":5: `repo[0].assets`: invalid asset pattern \"a-{ver}.tgz\": the only placeholder is {version}",
            ),
            (
                "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\nassets = [\"a-{VERSION}.tgz\"]\n",
                ":5: `repo[0].assets`: invalid asset pattern \"a-{VERSION}.tgz\": the only placeholder",
            ),
            (
                "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\nassets = [\"a\\\\b.tgz\"]\n",
                ":5: `repo[0].assets`: invalid asset pattern \"a\\\\b.tgz\": control characters and backslashes",
            ),
            (
                "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\nassets = [\"a\\u0000.tgz\"]\n",
                ":5: `repo[0].assets`: invalid asset pattern \"a\\0.tgz\": control characters",
            ),
        ]);
    }
}
