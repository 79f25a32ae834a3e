//! Read-only checks of every selected clone before anything is tagged.
//!
//! Each check yields its own one-line reason; all failures of all repos are reported together so
//! one run shows everything to fix.

use std::path::Path;

use serde::Serialize;

use crate::config::RepoConfig;
use crate::error::Result;
use crate::forge::RepoId;
use crate::vcs::{Head, Vcs, branch_ref, tag_ref};

/// The remote every check is made against.
pub const ORIGIN: &str = "origin";

/// What the release will do with a repo that passed preflight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RepoAction {
    /// Create the tag at HEAD and push it.
    TagAndPush,
    /// `--resume`: the tag exists locally at HEAD; push it.
    PushOnly,
    /// `--resume`: the tag is already on origin at HEAD; only wait.
    WaitOnly,
}

/// A repo that passed preflight.
#[derive(Debug, Clone, Serialize)]
pub struct RepoPreflight {
    /// The configured name.
    pub name: String,
    /// The commit to tag (HEAD).
    pub commit: String,
    /// The branch HEAD is on (`None` when only waiting on an existing tag).
    pub branch: Option<String>,
    /// What to do.
    pub action: RepoAction,
}

/// Checks one repository; `Err` holds every reason it cannot be released.
pub async fn preflight_repo(
    vcs: &dyn Vcs,
    repo: &RepoConfig,
    tag: &str,
    resume: bool,
) -> Result<RepoPreflight, Vec<String>> {
    let path = repo.path.as_path();
    let fail = |reason: String| vec![reason];
    if !path.is_dir() {
        return Err(fail(format!(
            "clone not found at {} (clone it there or set `path` in its [[repo]])",
            path.display()
        )));
    }
    let is_repo = vcs
        .is_repository(path)
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !is_repo {
        return Err(fail(format!("{} is not a git repository", path.display())));
    }
    let mut reasons = Vec::new();
    match vcs.remote_url(path, ORIGIN).await {
        Ok(Some(url)) => {
            if !origin_matches(&url, &repo.github) {
                reasons.push(format!("origin is {url}, which is not {}", repo.github));
            }
        }
        Ok(None) => reasons.push("no `origin` remote".into()),
        Err(e) => reasons.push(e.to_string()),
    }
    let head = match vcs.head(path).await {
        Ok(head) => head,
        Err(e) => return Err(fail(e.to_string())),
    };
    let (branch, commit) = match &head {
        Head::Branch { name, commit } => (Some(name.clone()), commit.clone()),
        Head::Detached { commit } => (None, commit.clone()),
        Head::Unborn { name } => {
            reasons.push(format!("branch {name} has no commits"));
            return Err(reasons);
        }
    };
    let mut wanted = vec![tag_ref(tag)];
    if let Some(b) = &branch {
        wanted.push(branch_ref(b));
    }
    let remote = match vcs.remote_refs(path, ORIGIN, &wanted).await {
        Ok(refs) => refs,
        Err(e) => {
            reasons.push(format!("cannot query origin: {e}"));
            return Err(reasons);
        }
    };
    if let Some(on_origin) = remote.get(&tag_ref(tag)) {
        if !resume {
            reasons.push(format!(
                "tag {tag} already exists on origin at {} (pass --resume to continue an interrupted release)",
                short(on_origin)
            ));
        } else if *on_origin != commit {
            reasons.push(format!(
                "tag {tag} on origin points at {}, not at HEAD {}; refusing to release a different commit",
                short(on_origin),
                short(&commit)
            ));
        }
        // Already tagged where we would tag: nothing left but waiting (the seed skips strict checks here too).
        return if reasons.is_empty() {
            Ok(RepoPreflight {
                name: repo.name.clone(),
                commit,
                branch,
                action: RepoAction::WaitOnly,
            })
        } else {
            Err(reasons)
        };
    }
    let Some(branch_name) = branch.clone() else {
        reasons.push(format!(
            "HEAD is detached at {}; check out the release branch",
            short(&commit)
        ));
        return Err(reasons);
    };
    match vcs.dirty_paths(path).await {
        Ok(dirty) if !dirty.is_empty() => {
            let shown: Vec<&str> = dirty.iter().take(3).map(String::as_str).collect();
            let more = if dirty.len() > 3 {
                format!(" and {} more", dirty.len() - 3)
            } else {
                String::new()
            };
            reasons.push(format!(
                "working tree is not clean: {}{more}",
                shown.join(", ")
            ));
        }
        Ok(_) => {}
        Err(e) => reasons.push(e.to_string()),
    }
    match remote.get(&branch_ref(&branch_name)) {
        None => reasons.push(format!("origin has no branch {branch_name}; push it first")),
        Some(origin_commit) if *origin_commit != commit => reasons.push(format!(
            "HEAD {} is not origin/{branch_name} ({}); pull or push so they match",
            short(&commit),
            short(origin_commit)
        )),
        Some(_) => {}
    }
    let action = match vcs.local_tag(path, tag).await {
        Ok(None) => RepoAction::TagAndPush,
        Ok(Some(local)) if resume && local == commit => RepoAction::PushOnly,
        Ok(Some(local)) if resume => {
            reasons.push(format!(
                "local tag {tag} points at {}, not at HEAD {}",
                short(&local),
                short(&commit)
            ));
            RepoAction::PushOnly
        }
        Ok(Some(local)) => {
            reasons.push(format!(
                "tag {tag} already exists locally at {} (delete it with `git tag -d {tag}`, or pass --resume if an interrupted release made it)",
                short(&local)
            ));
            RepoAction::PushOnly
        }
        Err(e) => {
            reasons.push(e.to_string());
            RepoAction::TagAndPush
        }
    };
    if reasons.is_empty() {
        Ok(RepoPreflight {
            name: repo.name.clone(),
            commit,
            branch,
            action,
        })
    } else {
        Err(reasons)
    }
}

/// Whether a remote URL names the configured repository.
///
/// GitHub-style URLs (`https://host/owner/name(.git)`, `git@host:owner/name.git`,
/// `ssh://git@host/owner/name`) must name `owner/name` (case-insensitively, like GitHub); a local
/// path (tests, mirrors) must at least end in the repository's name.
pub fn origin_matches(url: &str, repo: &RepoId) -> bool {
    let url = url.trim().trim_end_matches('/');
    let strip = |s: &str| s.strip_suffix(".git").unwrap_or(s).to_owned();
    let is_remote = url.contains("://") && !url.starts_with("file://");
    let scp_like = !url.contains("://")
        && url
            .split_once(':')
            .is_some_and(|(host, _)| host.contains('@') || host.contains('.'))
        && !Path::new(url).exists();
    if is_remote || scp_like {
        let path = if is_remote {
            url.split_once("://")
                .map(|(_, rest)| rest.split_once('/').map_or("", |(_, p)| p))
                .unwrap_or("")
        } else {
            url.split_once(':').map_or("", |(_, p)| p)
        };
        let mut parts = path.rsplitn(2, '/');
        let name = strip(parts.next().unwrap_or(""));
        let owner = parts.next().unwrap_or("").rsplit('/').next().unwrap_or("");
        return owner.eq_ignore_ascii_case(&repo.owner) && name.eq_ignore_ascii_case(&repo.name);
    }
    let local = url.strip_prefix("file://").unwrap_or(url);
    Path::new(local)
        .file_name()
        .is_some_and(|last| strip(&last.to_string_lossy()) == repo.name)
}

/// The first 7 characters of a commit id.
pub(crate) fn short(commit: &str) -> &str {
    commit.get(..7).unwrap_or(commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_urls() {
        let repo = RepoId::new("Truthdb", "installer-iso");
        for ok in [
            "https://github.com/Truthdb/installer-iso.git",
            "https://github.com/truthdb/installer-iso",
            "git@github.com:Truthdb/installer-iso.git",
            "ssh://git@github.com/Truthdb/installer-iso.git",
            "https://ghe.example.com/Truthdb/installer-iso/",
            "/srv/mirrors/installer-iso.git",
            "../origins/installer-iso",
            "file:///tmp/x/installer-iso.git",
        ] {
            assert!(origin_matches(ok, &repo), "{ok}");
        }
        for bad in [
            "https://github.com/Evil/installer-iso.git",
            "https://github.com/Truthdb/installer.git",
            "git@github.com:Truthdb/installer-iso-fork.git",
            "/srv/mirrors/installer.git",
        ] {
            assert!(!origin_matches(bad, &repo), "{bad}");
        }
    }
}
