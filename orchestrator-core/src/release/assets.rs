//! Release asset patterns: what a repo's CI must attach to its release before the release counts
//! as done. A pattern is checked once, when the config loads, so a wait never runs to its timeout
//! on a pattern no asset name could match.

use crate::error::{Error, Result};
use crate::version::{ReleaseVersion, VERSION_PLACEHOLDER, fill_version};

/// An asset name pattern: an exact name or a `*`/`?` glob, with `{version}` (no `v`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetPattern(String);

impl AssetPattern {
    /// Validates a pattern.
    pub fn parse(pattern: &str) -> Result<Self> {
        if pattern.trim().is_empty() || pattern.contains('/') {
            return Err(Error::invalid_input(format!(
                "invalid asset pattern {pattern:?}: expected a file name or a glob such as app-v{VERSION_PLACEHOLDER}-*.tar.gz"
            )));
        }
        // No asset name can hold these, so such a pattern would wait until the timeout after the
        // tags are pushed: refuse it now. `{version}` is the only placeholder; a brace left after
        // removing it is a misspelt one (`{ver}`, `{VERSION}`).
        if pattern.chars().any(|c| c.is_control() || c == '\\') {
            return Err(Error::invalid_input(format!(
                "invalid asset pattern {pattern:?}: control characters and backslashes cannot \
                 appear in an asset name"
            )));
        }
        if pattern
            .replace(VERSION_PLACEHOLDER, "")
            .contains(['{', '}'])
        {
            return Err(Error::invalid_input(format!(
                "invalid asset pattern {pattern:?}: the only placeholder is {VERSION_PLACEHOLDER}"
            )));
        }
        let probe = pattern.replace(VERSION_PLACEHOLDER, "0.0.0");
        globset::Glob::new(&probe)
            .map_err(|e| Error::invalid_input(format!("invalid asset pattern {pattern:?}: {e}")))?;
        Ok(Self(pattern.to_owned()))
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The pattern for a version: a matcher over asset names.
    pub fn for_version(&self, version: &ReleaseVersion) -> AssetMatcher {
        Self::matcher(fill_version(&self.0, version))
    }

    /// The pattern for a build that carries no release version (a nightly tag): `{version}`
    /// matches anything, since CI names such assets after the tag or the build.
    pub fn for_any_version(&self) -> AssetMatcher {
        Self::matcher(self.0.replace(VERSION_PLACEHOLDER, "*"))
    }

    fn matcher(filled: String) -> AssetMatcher {
        let glob = filled
            .contains(['*', '?', '['])
            .then(|| {
                globset::Glob::new(&filled)
                    .ok()
                    .map(|g| g.compile_matcher())
            })
            .flatten();
        AssetMatcher { filled, glob }
    }
}

/// An [`AssetPattern`] with the version filled in.
#[derive(Debug, Clone)]
pub struct AssetMatcher {
    filled: String,
    glob: Option<globset::GlobMatcher>,
}

impl AssetMatcher {
    /// The pattern with the version, as shown to users.
    pub fn pattern(&self) -> &str {
        &self.filled
    }

    /// Whether an asset name matches.
    pub fn matches(&self, name: &str) -> bool {
        match &self.glob {
            Some(glob) => glob.is_match(name),
            None => self.filled == name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_matches_the_names_of_its_version() {
        let v = ReleaseVersion::parse("1.2.3").expect("valid");
        let exact = AssetPattern::parse("truthdb-installer-v{version}.iso").expect("valid");
        let m = exact.for_version(&v);
        assert_eq!(m.pattern(), "truthdb-installer-v1.2.3.iso");
        assert!(m.matches("truthdb-installer-v1.2.3.iso"));
        assert!(!m.matches("truthdb-installer-v1.2.4.iso"));
        let glob = AssetPattern::parse("*.sha256").expect("valid");
        assert!(
            glob.for_version(&v)
                .matches("truthdb-installer-v1.2.3.iso.sha256")
        );
        assert!(!glob.for_version(&v).matches("truthdb-installer-v1.2.3.iso"));
        let any = AssetPattern::parse("app-{version}.tgz").expect("valid");
        assert!(any.for_any_version().matches("app-nightly-20260101.tgz"));
    }

    #[test]
    fn a_pattern_no_asset_name_could_match_is_refused() {
        for bad in [
            "",
            " ",
            "dir/x",
            "a-{ver}.tgz",
            "a-{VERSION}.tgz",
            "a\\b",
            "a\u{7}",
            "a-[.tgz",
        ] {
            assert!(AssetPattern::parse(bad).is_err(), "{bad:?}");
        }
    }
}
