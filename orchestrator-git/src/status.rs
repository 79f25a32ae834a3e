//! The dirty-tree check: `git status --porcelain` without spawning git.

use std::collections::BTreeSet;
use std::path::Path;

use gix::status::{Item, UntrackedFiles};
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
        let counts = match &item {
            Item::TreeIndex(_) => true,
            // `summary()` is `None` for entries that only need an index stat refresh and for
            // directory-walk entries that are not untracked (ignored ones, for instance).
            Item::IndexWorktree(change) => change.summary().is_some(),
        };
        if counts {
            paths.insert(item.location().to_string());
            if paths.len() >= MAX_DIRTY_PATHS {
                // Dropping the iterator interrupts the remaining work.
                break;
            }
        }
    }
    Ok(paths.into_iter().collect())
}
