//! Data types shared by every forge backend.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A repository on the forge, `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RepoId {
    /// The owner (user or organisation).
    pub owner: String,
    /// The repository name.
    pub name: String,
}

impl RepoId {
    /// A repository id from its parts.
    pub fn new(owner: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            owner: owner.into(),
            name: name.into(),
        }
    }
}

impl FromStr for RepoId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let valid = |part: &str| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        match s.split_once('/') {
            Some((owner, name)) if valid(owner) && valid(name) => Ok(Self::new(owner, name)),
            _ => Err(Error::invalid_input(format!(
                "invalid repository {s:?}: expected owner/name"
            ))),
        }
    }
}

impl fmt::Display for RepoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// Upload state of a release asset, as GitHub reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AssetState {
    /// Fully uploaded.
    Uploaded,
    /// Created but still uploading (GitHub's `starter`/`new`).
    Uploading,
}

/// One asset of a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseAsset {
    /// The forge's id.
    pub id: u64,
    /// The file name.
    pub name: String,
    /// Size in bytes so far.
    pub size: u64,
    /// Upload state.
    pub state: AssetState,
    /// Where to download it.
    pub download_url: String,
}

/// A release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// The forge's id.
    pub id: u64,
    /// The tag it belongs to.
    pub tag: String,
    /// Its title.
    pub name: Option<String>,
    /// Release notes.
    pub body: Option<String>,
    /// Still a draft (not published).
    pub draft: bool,
    /// Marked as a prerelease.
    pub prerelease: bool,
    /// The web page.
    pub html_url: String,
    /// Its assets.
    pub assets: Vec<ReleaseAsset>,
}

/// What [`super::Forge::create_release`] needs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NewRelease {
    /// The tag (created on the forge at `target` if absent).
    pub tag: String,
    /// The commit-ish to tag when the tag does not exist.
    pub target: Option<String>,
    /// Title.
    pub name: Option<String>,
    /// Release notes.
    pub body: Option<String>,
    /// Create as a draft.
    pub draft: bool,
    /// Mark as prerelease.
    pub prerelease: bool,
}

/// Request counts of a forge backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RequestStats {
    /// Every request sent (or served).
    pub requests: u64,
    /// Requests that counted against the rate limit (everything but `304 Not Modified`).
    pub rate_limited: u64,
    /// `304 Not Modified` answers to conditional requests.
    pub not_modified: u64,
    /// Requests retried after a transient error or a rate limit.
    pub retries: u64,
}
