//! Local, read-only questions answered with gix: is it a repository, where is HEAD, what does a
//! ref point at, what is a remote's URL.

use std::path::Path;

use gix::head::Kind;
use orchestrator_core::error::Result;
use orchestrator_core::vcs::{Head, RemoteRefs};

use crate::util::{gix_error, open};

/// Whether `path` is the top of a repository's work tree: not a bare repository, not its `.git`
/// directory, not a subdirectory. Any failure to open means "no".
pub(crate) fn is_repository(path: &Path) -> bool {
    let repo = match gix::open(path) {
        Ok(repo) => repo,
        Err(err) => {
            tracing::debug!(path = %path.display(), error = %err, "not a git repository");
            return false;
        }
    };
    let Some(workdir) = repo.workdir() else {
        return false;
    };
    match (std::fs::canonicalize(workdir), std::fs::canonicalize(path)) {
        (Ok(workdir), Ok(path)) => workdir == path,
        _ => false,
    }
}

/// Where HEAD points, with the commit peeled.
pub(crate) fn head(path: &Path) -> Result<Head> {
    let repo = open(path)?;
    let head = repo
        .head()
        .map_err(|err| gix_error(path, "cannot read HEAD", err))?;
    let branch = match &head.kind {
        Kind::Unborn(name) => {
            return Ok(Head::Unborn {
                name: name.shorten().to_string(),
            });
        }
        Kind::Symbolic(reference) => Some(reference.name.shorten().to_string()),
        Kind::Detached { .. } => None,
    };
    let commit = head
        .into_peeled_id()
        .map_err(|err| gix_error(path, "cannot peel HEAD to a commit", err))?
        .to_string();
    Ok(match branch {
        Some(name) => Head::Branch { name, commit },
        None => Head::Detached { commit },
    })
}

/// The commit a full ref name points at after peeling tags, or `None` if the ref is absent.
pub(crate) fn peeled_ref(path: &Path, full_name: &str) -> Result<Option<String>> {
    let repo = open(path)?;
    let reference = repo
        .try_find_reference(full_name)
        .map_err(|err| gix_error(path, &format!("cannot read {full_name}"), err))?;
    let Some(mut reference) = reference else {
        return Ok(None);
    };
    let commit = reference
        .peel_to_commit()
        .map_err(|err| gix_error(path, &format!("cannot peel {full_name} to a commit"), err))?;
    Ok(Some(commit.id.to_string()))
}

/// The commits `full_names` point at in the repository at `path` (tags peeled), skipping absent
/// refs: what `git ls-remote` reports, read directly from a local repository.
pub(crate) fn peeled_refs(path: &Path, full_names: &[String]) -> Result<RemoteRefs> {
    let repo = open(path)?;
    let mut found = RemoteRefs::new();
    for full_name in full_names {
        let reference = repo
            .try_find_reference(full_name.as_str())
            .map_err(|err| gix_error(path, &format!("cannot read {full_name}"), err))?;
        if let Some(mut reference) = reference {
            let commit = reference.peel_to_commit().map_err(|err| {
                gix_error(path, &format!("cannot peel {full_name} to a commit"), err)
            })?;
            found.insert(full_name.clone(), commit.id.to_string());
        }
    }
    Ok(found)
}

/// `remote.<remote>.url` from the repository's configuration, as written (no `insteadOf`).
pub(crate) fn remote_url(path: &Path, remote: &str) -> Result<Option<String>> {
    let repo = open(path)?;
    let url = repo
        .config_snapshot()
        .plumbing()
        .string_by("remote", remote, "url")
        .map(|url| url.to_string());
    Ok(url)
}
