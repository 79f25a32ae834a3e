//! Release versions and tag formats.
//!
//! Users type `1.2.3` or `v1.2.3`; repositories are tagged by a configurable format (default
//! `v{version}`); asset names embed the version without the `v`. This module is the one place that
//! converts between them.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A SemVer release version, parsed from `1.2.3`, `v1.2.3`, `1.2.3-rc.1` or `v1.2.3-rc.1`.
/// `Display` prints it without the `v`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReleaseVersion(semver::Version);

impl ReleaseVersion {
    /// Parses a version, accepting one optional leading `v`.
    pub fn parse(input: &str) -> Result<Self> {
        let trimmed = input.trim();
        let bare = trimmed.strip_prefix('v').unwrap_or(trimmed);
        semver::Version::parse(bare).map(Self).map_err(|e| {
            Error::invalid_input(format!(
                "invalid version {input:?}: {e} (expected SemVer such as 1.2.3, v1.2.3 or 1.2.3-rc.1)"
            ))
        })
    }

    /// The parsed SemVer value.
    pub fn semver(&self) -> &semver::Version {
        &self.0
    }

    /// True for prereleases such as `1.2.3-rc.1`.
    pub fn is_prerelease(&self) -> bool {
        !self.0.pre.is_empty()
    }
}

impl From<semver::Version> for ReleaseVersion {
    fn from(v: semver::Version) -> Self {
        Self(v)
    }
}

impl FromStr for ReleaseVersion {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl fmt::Display for ReleaseVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The placeholder a tag format or asset pattern uses for the version (without `v`).
pub const VERSION_PLACEHOLDER: &str = "{version}";

/// How a version becomes a tag, e.g. `v{version}` or `ecosystem-v{version}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFormat {
    prefix: String,
    suffix: String,
}

impl TagFormat {
    /// Parses a format; it must contain `{version}` exactly once and make a valid git ref name.
    pub fn parse(format: &str) -> Result<Self> {
        let mut parts = format.split(VERSION_PLACEHOLDER);
        let (Some(prefix), Some(suffix), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Error::invalid_input(format!(
                "tag format {format:?} must contain {VERSION_PLACEHOLDER} exactly once"
            )));
        };
        let bad = |c: char| c.is_whitespace() || c.is_control() || "~^:?*[\\".contains(c);
        if format.chars().any(bad) || format.contains("..") || format.starts_with('-') {
            return Err(Error::invalid_input(format!(
                "tag format {format:?} would not make a valid git tag name"
            )));
        }
        Ok(Self {
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
        })
    }

    /// The tag for a version.
    pub fn render(&self, version: &ReleaseVersion) -> String {
        format!("{}{}{}", self.prefix, version, self.suffix)
    }

    /// The version a tag names, if the tag has this format.
    pub fn parse_tag(&self, tag: &str) -> Option<ReleaseVersion> {
        let inner = tag.strip_prefix(&self.prefix)?.strip_suffix(&self.suffix)?;
        semver::Version::parse(inner).ok().map(ReleaseVersion)
    }
}

impl Default for TagFormat {
    fn default() -> Self {
        Self {
            prefix: "v".into(),
            suffix: String::new(),
        }
    }
}

impl fmt::Display for TagFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{VERSION_PLACEHOLDER}{}", self.prefix, self.suffix)
    }
}

/// Fills `{version}` (without `v`) into a pattern such as an asset name.
pub fn fill_version(pattern: &str, version: &ReleaseVersion) -> String {
    pattern.replace(VERSION_PLACEHOLDER, &version.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_seed_examples() {
        for (input, shown) in [
            ("1.2.3", "1.2.3"),
            ("v1.2.3", "1.2.3"),
            ("1.2.3-rc.1", "1.2.3-rc.1"),
            ("v1.2.3-rc.1", "1.2.3-rc.1"),
            (" v0.1.0 ", "0.1.0"),
        ] {
            assert_eq!(
                ReleaseVersion::parse(input).expect(input).to_string(),
                shown
            );
        }
        assert!(
            ReleaseVersion::parse("1.2.3-rc.1")
                .expect("valid")
                .is_prerelease()
        );
    }

    #[test]
    fn rejects_non_semver_naming_the_value() {
        for input in ["1.2", "vv1.2.3", "", "1.2.3.4", "latest", "V1.2.3"] {
            let err = ReleaseVersion::parse(input).expect_err(input).to_string();
            assert!(err.contains(&format!("{input:?}")), "{err}");
        }
    }

    #[test]
    fn tag_formats_round_trip() {
        let v = ReleaseVersion::parse("2.0.0-rc.1").expect("valid");
        let default = TagFormat::default();
        assert_eq!(default.render(&v), "v2.0.0-rc.1");
        assert_eq!(default.parse_tag("v2.0.0-rc.1"), Some(v.clone()));
        assert_eq!(default.parse_tag("2.0.0"), None);
        let eco = TagFormat::parse("ecosystem-v{version}").expect("valid");
        assert_eq!(eco.render(&v), "ecosystem-v2.0.0-rc.1");
        assert_eq!(eco.to_string(), "ecosystem-v{version}");
        assert_eq!(eco.parse_tag("ecosystem-v2.0.0-rc.1"), Some(v));
    }

    #[test]
    fn bad_tag_formats_are_rejected() {
        for f in [
            "v",
            "{version}-{version}",
            "v {version}",
            "rel..{version}",
            "v{version}:x",
        ] {
            assert!(TagFormat::parse(f).is_err(), "{f}");
        }
    }

    #[test]
    fn fills_assets() {
        let v = ReleaseVersion::parse("v1.2.3").expect("valid");
        assert_eq!(
            fill_version("truthdb-v{version}.iso", &v),
            "truthdb-v1.2.3.iso"
        );
    }
}
