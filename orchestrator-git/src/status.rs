//! The dirty-tree check: `git status --porcelain` without spawning git.

use std::collections::BTreeSet;
use std::path::Path;

use gix::dir::entry::Kind;
use gix::status::{Item, UntrackedFiles, index_worktree};
use orchestrator_core::error::Result;

use crate::util::{gix_error, open};

/// How many dirty paths are enough to say "dirty" and show the user an example.
pub(crate) const MAX_DIRTY_PATHS: usize = 100;

/// Repo-relative paths that make the tree dirty: staged and unstaged changes, and untracked files
/// that are not ignored (collapsed to their directory, like git). Sorted, at most
/// [`MAX_DIRTY_PATHS`].
pub(crate) fn dirty_paths(path: &Path) -> Result<Vec<String>> {
    let repo = open(path)?;
    let iter = repo
        .status(gix::progress::Discard)
        .map_err(|err| gix_error(path, "cannot prepare status", err))?
        // Collapsed is what `git status` shows by default; set it explicitly so a user's
        // `status.showUntrackedFiles=no` cannot hide untracked files from the check.
        .untracked_files(UntrackedFiles::Collapsed)
        .into_iter(None)
        .map_err(|err| gix_error(path, "cannot compute status", err))?;
    let mut paths = BTreeSet::new();
    for item in iter {
        let item = item.map_err(|err| gix_error(path, "cannot compute status", err))?;
        let (counts, is_dir) = match &item {
            Item::TreeIndex(_) => (true, false),
            // `summary()` is `None` for directory-walk entries that are not untracked (ignored
            // ones, should a configuration ask for them) and for stat-only index refreshes (which
            // gix 0.90's iterator already swallows; the check keeps us correct if that changes).
            Item::IndexWorktree(change) => (change.summary().is_some(), is_collapsed_dir(change)),
        };
        if counts {
            let mut location = item.location().to_string();
            if is_dir {
                // `git status --porcelain` marks a collapsed untracked directory with a slash.
                location.push('/');
            }
            paths.insert(location);
            if paths.len() >= MAX_DIRTY_PATHS {
                // Dropping the iterator interrupts the remaining work.
                break;
            }
        }
    }
    Ok(paths.into_iter().collect())
}

/// Whether a status item is an untracked directory reported as one entry.
fn is_collapsed_dir(change: &index_worktree::Item) -> bool {
    match change {
        index_worktree::Item::DirectoryContents { entry, .. } => {
            matches!(entry.disk_kind, Some(Kind::Directory | Kind::Repository))
        }
        _ => false,
    }
}
