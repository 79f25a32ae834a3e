//! The coordination manifest (seed 004's `versions.toml`): which versions of which repos go
//! together, one line per repo:
//!
//! ```toml
//! consensus-proof = { version = "0.4.0", git_tag = "v0.4.0", git_commit = "1a2b…", requires = [] }
//! protocol-engine = { version = "0.5.0", git_tag = "v0.5.0", git_commit = "3c4d…", requires = ["consensus-proof=0.4.0"] }
//! ```
//!
//! `publish` updates the entries of what it released and keeps every other line, comment and
//! extra key (such as `binaries`) as it was; `status` compares the forge against it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One repo's entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoordinatedVersion {
    /// The version (no `v`).
    pub version: String,
    /// The tag it was released under.
    pub git_tag: String,
    /// The tagged commit.
    pub git_commit: String,
    /// `other=version` for every repo it was built against.
    #[serde(default)]
    pub requires: Vec<String>,
    /// Binaries it ships (kept as written; `publish` does not set them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binaries: Vec<String>,
}

/// The whole manifest, by repo name.
pub type CoordinationManifest = BTreeMap<String, CoordinatedVersion>;

/// Parses a coordination manifest.
pub fn read_coordination(text: &str) -> Result<CoordinationManifest> {
    toml::from_str(text).map_err(|e| {
        Error::invalid_input(format!("invalid coordination manifest: {}", e.message()))
    })
}

/// Updates `existing` (the file's text, empty for a new file) with `entries`, keeping other
/// entries, comments and unknown keys.
pub fn write_coordination(
    existing: &str,
    entries: &BTreeMap<String, CoordinatedVersion>,
) -> Result<String> {
    let mut doc: toml_edit::DocumentMut = if existing.trim().is_empty() {
        let mut doc = toml_edit::DocumentMut::new();
        doc.decor_mut().set_prefix(
            "# Coordination manifest written by `orchestrator publish`: which versions go together.\n",
        );
        doc
    } else {
        let doc: toml_edit::DocumentMut = existing
            .parse()
            .map_err(|e| Error::invalid_input(format!("invalid coordination manifest: {e}")))?;
        if doc.is_empty() {
            // Only comments: toml_edit keeps them as the document's trailing text, which would
            // put them after the entries. They are a header; keep them on top.
            let mut fresh = toml_edit::DocumentMut::new();
            let header = existing.trim_end();
            fresh.decor_mut().set_prefix(format!("{header}\n"));
            fresh
        } else {
            doc
        }
    };
    for (name, entry) in entries {
        let mut table = doc
            .get(name)
            .and_then(|i| i.as_inline_table())
            .cloned()
            .unwrap_or_default();
        table.insert("version", entry.version.as_str().into());
        table.insert("git_tag", entry.git_tag.as_str().into());
        table.insert("git_commit", entry.git_commit.as_str().into());
        let requires: toml_edit::Array = entry.requires.iter().map(String::as_str).collect();
        table.insert("requires", requires.into());
        if !entry.binaries.is_empty() {
            let binaries: toml_edit::Array = entry.binaries.iter().map(String::as_str).collect();
            table.insert("binaries", binaries.into());
        }
        table.fmt();
        doc.insert(name, toml_edit::value(table));
    }
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(version: &str, commit: &str, requires: &[&str]) -> CoordinatedVersion {
        CoordinatedVersion {
            version: version.into(),
            git_tag: format!("v{version}"),
            git_commit: commit.into(),
            requires: requires.iter().map(|s| (*s).to_owned()).collect(),
            binaries: Vec::new(),
        }
    }

    #[test]
    fn writes_the_seed_shape_and_keeps_what_it_does_not_own() {
        let existing = "# bllvm ecosystem\nconsensus-proof = { version = \"0.3.0\", git_tag = \"v0.3.0\", git_commit = \"aaa\", requires = [], binaries = [\"cp-verify\"] }\ndeveloper-sdk = { version = \"1.0.0\", git_tag = \"v1.0.0\", git_commit = \"bbb\", requires = [] } # untouched\n";
        let mut update = BTreeMap::new();
        update.insert("consensus-proof".into(), entry("0.4.0", "ccc", &[]));
        update.insert(
            "protocol-engine".into(),
            entry("0.5.0", "ddd", &["consensus-proof=0.4.0"]),
        );
        let text = write_coordination(existing, &update).expect("valid");
        insta::assert_snapshot!(text);
        let back = read_coordination(&text).expect("valid");
        assert_eq!(back["consensus-proof"].binaries, vec!["cp-verify"]);
        assert_eq!(
            back["protocol-engine"].requires,
            vec!["consensus-proof=0.4.0"]
        );
        assert_eq!(back["developer-sdk"].version, "1.0.0");
        let headed = write_coordination("# bllvm ecosystem\n\n", &update).expect("valid");
        assert!(
            headed.starts_with("# bllvm ecosystem\nconsensus-proof = "),
            "{headed}"
        );
        let fresh = write_coordination("", &update).expect("valid");
        assert!(fresh.starts_with("# Coordination manifest"));
        assert!(fresh.contains("\"@scope/x\"") || !fresh.contains('@'));
    }
}
