//! `[forge]` and `[forge.simulate]`: which forge the orchestrator talks to, as whom by default,
//! or the in-process forge with simulated CI. The section is parsed here rather than under
//! `forge/`, which holds the forge trait and its backends and knows nothing of the file.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::errors::ErrFn;
use super::values::duration_field;
use crate::error::Result;
use crate::forge::RepoId;

/// `[forge]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ForgeConfig {
    /// The API base URL (GitHub Enterprise, the mock server); `None` means api.github.com.
    pub api_url: Option<String>,
    /// The default owner of every repo.
    pub owner: Option<String>,
    /// `[forge.simulate]`: use the in-process forge with simulated CI instead of a real one.
    pub simulate: Option<SimulateConfig>,
}

/// `[forge.simulate]`: the in-process forge watches each repo's local bare origin for pushed tags
/// and publishes the configured assets after these delays. For rehearsals, demos and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulateConfig {
    /// From tag push to release.
    pub ci_delay: Duration,
    /// Upload time of each asset.
    pub asset_interval: Duration,
}

/// Checks a forge API URL (`forge.api_url`, `--forge-url`): `http://` or `https://`, a host, and
/// no whitespace or control characters. Returns it without a trailing slash, or the reason.
pub fn validate_api_url(url: &str) -> std::result::Result<String, String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    // Credentials in the URL (`user:secret@`) never reach a message.
    let shown = match rest.map(|r| (r, r.split(['/', '?', '#']).next().unwrap_or_default())) {
        Some((r, authority)) if authority.contains('@') => {
            let scheme = &url[..url.len() - r.len()];
            let after = &r[authority.rfind('@').map_or(0, |i| i + 1)..];
            format!("{scheme}[redacted]@{after}")
        }
        _ => url.to_owned(),
    };
    let invalid = |why: &str| Err(format!("invalid URL {shown:?}: {why}"));
    let Some(rest) = rest else {
        return invalid("expected http:// or https://");
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid("it contains whitespace or control characters");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        match v6.split_once(']') {
            Some((addr, port)) if !addr.is_empty() => (addr, port.strip_prefix(':')),
            _ => return invalid("expected a host"),
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._:".contains(c));
    if !host_ok {
        return invalid("expected a host");
    }
    if let Some(port) = port
        && port.parse::<u16>().is_err()
    {
        return invalid("the port is not a number up to 65535");
    }
    Ok(url.trim_end_matches('/').to_owned())
}

// The raw types' names appear in serde's messages ("expected struct RawForge"): keep them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawForge {
    api_url: Option<Spanned<String>>,
    owner: Option<Spanned<String>>,
    simulate: Option<RawSimulate>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSimulate {
    ci_delay: Option<Spanned<String>>,
    asset_interval: Option<Spanned<String>>,
}

/// Validates `[forge]`; its absence means api.github.com, no default owner, no simulation.
pub(super) fn parse_forge(raw: Option<RawForge>, err: &ErrFn<'_>) -> Result<ForgeConfig> {
    let raw = raw.unwrap_or_default();
    let owner = match raw.owner {
        None => None,
        Some(o) => {
            // GitHub's owner charset, as in `github = "owner/name"`: a space or a slash in an
            // owner would only fail later, at the first request.
            let span = o.span();
            let o = o.into_inner();
            if o.contains('/') || format!("{o}/x").parse::<RepoId>().is_err() {
                return Err(err(
                    Some(span),
                    Some("forge.owner".into()),
                    format!("invalid owner {o:?}"),
                ));
            }
            Some(o)
        }
    };
    let simulate = match raw.simulate {
        None => None,
        Some(s) => Some(SimulateConfig {
            ci_delay: duration_field(
                s.ci_delay,
                "forge.simulate.ci_delay",
                Duration::from_secs(1),
                err,
            )?,
            asset_interval: duration_field(
                s.asset_interval,
                "forge.simulate.asset_interval",
                Duration::from_millis(200),
                err,
            )?,
        }),
    };
    let api_url = match raw.api_url {
        None => None,
        Some(u) => {
            let span = u.span();
            // Checked even when unused ([forge.simulate], --dry-run): the next real run uses it.
            Some(
                validate_api_url(u.get_ref())
                    .map_err(|m| err(Some(span), Some("forge.api_url".into()), m))?,
            )
        }
    };
    Ok(ForgeConfig {
        api_url,
        owner,
        simulate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::{assert_errors, parse};

    #[test]
    fn defaults_and_simulation_delays() {
        let c = parse("").expect("valid");
        assert_eq!(c.forge, ForgeConfig::default());
        let c = parse("[forge]\nowner = \"o\"\n[forge.simulate]\n").expect("valid");
        assert_eq!(c.forge.owner.as_deref(), Some("o"));
        assert_eq!(
            c.forge.simulate,
            Some(SimulateConfig {
                ci_delay: Duration::from_secs(1),
                asset_interval: Duration::from_millis(200),
            })
        );
        let c = parse(
            "[forge]\napi_url = \"http://h/api/\"\n[forge.simulate]\nci_delay = \"5s\"\nasset_interval = \"1ms\"\n",
        )
        .expect("valid");
        assert_eq!(c.forge.api_url.as_deref(), Some("http://h/api"));
        let simulate = c.forge.simulate.expect("simulate");
        assert_eq!(simulate.ci_delay, Duration::from_secs(5));
        assert_eq!(simulate.asset_interval, Duration::from_millis(1));
    }

    #[test]
    fn bad_values_name_file_line_and_key() {
        assert_errors(&[
            (
                "[forge]\napi_url = \"ftp://x\"\n",
                ":2: `forge.api_url`: invalid URL",
            ),
            (
                "[forge]\nowner = \"o o\"\n",
                ":2: `forge.owner`: invalid owner \"o o\"",
            ),
            (
                "[forge]\nowner = \"o\"\napi_url = \"http://exa mple\"\n[forge.simulate]\n",
                ":3: `forge.api_url`: invalid URL \"http://exa mple\": it contains whitespace",
            ),
        ]);
    }

    #[test]
    fn api_urls_need_a_scheme_and_a_host_and_never_show_credentials() {
        for good in [
            "https://api.github.com",
            "http://127.0.0.1:8080/",
            "https://ghe.example.com/api/v3",
            "http://[::1]:3000",
            "https://user:pw@ghe.example.com",
        ] {
            assert!(validate_api_url(good).is_ok(), "{good}");
        }
        assert_eq!(
            validate_api_url("http://h/api/").as_deref(),
            Ok("http://h/api")
        );
        for bad in [
            "ftp://x",
            "http://",
            "https:///path",
            "http://h:99999",
            "http://h:port",
            "http://a b",
            "http://h/\n",
            "https://[]/",
            "http://h%/",
        ] {
            assert!(validate_api_url(bad).is_err(), "{bad}");
        }
        let message = validate_api_url("https://u:s3cret@ho st/").expect_err("space");
        assert!(!message.contains("s3cret"), "{message}");
        assert!(message.contains("https://[redacted]@ho st/"), "{message}");
    }
}
