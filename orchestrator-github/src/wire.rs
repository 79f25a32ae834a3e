//! GitHub's JSON shapes for the release endpoints, and their conversion into core types.
//!
//! Only the fields the adapter reads are declared; serde ignores the rest, so GitHub adding fields
//! never breaks us. The mock server serialises the same structs, so both sides agree on names.

use orchestrator_core::forge::{AssetState, NewRelease, Release, ReleaseAsset};
use serde::{Deserialize, Serialize};

/// A release as GitHub returns it (`GET /repos/{o}/{r}/releases/tags/{tag}` and friends).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhRelease {
    pub(crate) id: u64,
    pub(crate) tag_name: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) body: Option<String>,
    #[serde(default)]
    pub(crate) draft: bool,
    #[serde(default)]
    pub(crate) prerelease: bool,
    #[serde(default)]
    pub(crate) html_url: String,
    #[serde(default)]
    pub(crate) assets: Vec<GhAsset>,
}

/// A release asset as GitHub returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhAsset {
    pub(crate) id: u64,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) size: u64,
    /// `uploaded` once complete; `new`/`starter` (and anything else) while uploading.
    #[serde(default)]
    pub(crate) state: String,
    #[serde(default)]
    pub(crate) browser_download_url: String,
}

/// The body of `POST /repos/{o}/{r}/releases`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhNewRelease {
    pub(crate) tag_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) target_commitish: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) body: Option<String>,
    #[serde(default)]
    pub(crate) draft: bool,
    #[serde(default)]
    pub(crate) prerelease: bool,
}

/// GitHub's error body: `{"message": "...", "errors": [{"code": "already_exists", ...}]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhError {
    #[serde(default)]
    pub(crate) message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) errors: Vec<GhErrorDetail>,
}

/// One entry of [`GhError::errors`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GhErrorDetail {
    #[serde(default)]
    pub(crate) resource: String,
    #[serde(default)]
    pub(crate) code: String,
    #[serde(default)]
    pub(crate) field: String,
}

impl GhError {
    /// Parses an error body; a body that is not GitHub's JSON becomes the message itself.
    pub(crate) fn parse(body: &str) -> Self {
        serde_json::from_str(body).unwrap_or_else(|_| GhError {
            message: body.trim().chars().take(200).collect(),
            errors: Vec::new(),
        })
    }

    /// True when one of the details is `already_exists`.
    pub(crate) fn already_exists(&self) -> bool {
        self.errors.iter().any(|e| e.code == "already_exists")
    }
}

impl From<GhAsset> for ReleaseAsset {
    fn from(a: GhAsset) -> Self {
        ReleaseAsset {
            id: a.id,
            name: a.name,
            size: a.size,
            state: if a.state == "uploaded" {
                AssetState::Uploaded
            } else {
                AssetState::Uploading
            },
            download_url: a.browser_download_url,
        }
    }
}

impl From<GhRelease> for Release {
    fn from(r: GhRelease) -> Self {
        Release {
            id: r.id,
            tag: r.tag_name,
            name: r.name,
            body: r.body,
            draft: r.draft,
            prerelease: r.prerelease,
            html_url: r.html_url,
            assets: r.assets.into_iter().map(ReleaseAsset::from).collect(),
        }
    }
}

impl From<&NewRelease> for GhNewRelease {
    fn from(r: &NewRelease) -> Self {
        GhNewRelease {
            tag_name: r.tag.clone(),
            target_commitish: r.target.clone(),
            name: r.name.clone(),
            body: r.body.clone(),
            draft: r.draft,
            prerelease: r.prerelease,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_release_json_maps_into_core_types() {
        // Trimmed from a real `GET /repos/{o}/{r}/releases/tags/{tag}` answer, unknown fields kept.
        let json = r#"{
            "url": "https://api.github.com/repos/o/r/releases/1",
            "id": 1, "tag_name": "v1.0.0", "name": null, "body": "notes",
            "draft": false, "prerelease": true,
            "html_url": "https://github.com/o/r/releases/tag/v1.0.0",
            "author": {"login": "octocat"},
            "assets": [
                {"id": 7, "name": "a.tgz", "size": 10, "state": "uploaded",
                 "browser_download_url": "https://github.com/o/r/releases/download/v1.0.0/a.tgz",
                 "content_type": "application/gzip"},
                {"id": 8, "name": "b.tgz", "size": 3, "state": "starter",
                 "browser_download_url": "u"},
                {"id": 9, "name": "c.tgz", "size": 0, "state": "new", "browser_download_url": "u"}
            ]
        }"#;
        let release: Release = serde_json::from_str::<GhRelease>(json)
            .expect("valid")
            .into();
        assert_eq!(release.id, 1);
        assert_eq!(release.tag, "v1.0.0");
        assert_eq!(release.name, None);
        assert_eq!(release.body.as_deref(), Some("notes"));
        assert!(release.prerelease && !release.draft);
        let states: Vec<_> = release.assets.iter().map(|a| a.state).collect();
        assert_eq!(
            states,
            [
                AssetState::Uploaded,
                AssetState::Uploading,
                AssetState::Uploading
            ]
        );
        assert_eq!(
            release.assets[0].download_url,
            "https://github.com/o/r/releases/download/v1.0.0/a.tgz"
        );
    }

    #[test]
    fn error_bodies_are_parsed_leniently() {
        let e = GhError::parse(
            r#"{"message":"Validation Failed","errors":[{"resource":"Release","code":"already_exists","field":"tag_name"}]}"#,
        );
        assert!(e.already_exists());
        assert_eq!(e.message, "Validation Failed");
        let e = GhError::parse("<html>502 Bad Gateway</html>");
        assert!(!e.already_exists());
        assert_eq!(e.message, "<html>502 Bad Gateway</html>");
    }
}
