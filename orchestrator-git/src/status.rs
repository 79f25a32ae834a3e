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
    let staged_unchanged = index_matches_head(&repo);
    let platform = repo
        .status(gix::progress::Discard)
        .map_err(|err| gix_error(path, "cannot prepare status", err))?
        // Collapsed is what `git status` shows by default; set it explicitly so a user's
        // `status.showUntrackedFiles=no` cannot hide untracked files from the check.
        .untracked_files(UntrackedFiles::Collapsed)
        // Only "is anything dirty" matters: renames are changes either way, so skip pairing them.
        .tree_index_track_renames(gix::status::tree_index::TrackRenames::Disabled)
        // Preflight checks many clones at once, each on its own blocking thread: one thread per
        // status avoids oversubscribing the machine (measured with `orchestrator-bench preflight`).
        .index_worktree_options_mut(|options| options.thread_limit = Some(1));
    let mut paths = BTreeSet::new();
    let mut record = |location: String| {
        paths.insert(location);
        paths.len() < MAX_DIRTY_PATHS
    };
    if staged_unchanged {
        // The index is HEAD's tree (its cache-tree says so): only the work tree can differ, and
        // reading every tree object of HEAD, the costliest part of a status, can be skipped.
        let iter = platform
            .into_index_worktree_iter(None)
            .map_err(|err| gix_error(path, "cannot compute status", err))?;
        for change in iter {
            let change = change.map_err(|err| gix_error(path, "cannot compute status", err))?;
            if let Some(location) = worktree_change(&change)
                && !record(location)
            {
                // Dropping the iterator interrupts the remaining work.
                break;
            }
        }
    } else {
        let iter = platform
            .into_iter(None)
            .map_err(|err| gix_error(path, "cannot compute status", err))?;
        for item in iter {
            let item = item.map_err(|err| gix_error(path, "cannot compute status", err))?;
            let location = match &item {
                Item::TreeIndex(_) => Some(item.location().to_string()),
                Item::IndexWorktree(change) => worktree_change(change),
            };
            if let Some(location) = location
                && !record(location)
            {
                break;
            }
        }
    }
    Ok(paths.into_iter().collect())
}

/// The path a work-tree change reports, as `git status --porcelain` would show it; `None` for
/// entries that do not make the tree dirty.
fn worktree_change(change: &index_worktree::Item) -> Option<String> {
    // `summary()` is `None` for directory-walk entries that are not untracked (ignored ones,
    // should a configuration ask for them) and for stat-only index refreshes (which gix 0.90's
    // iterator already swallows; the check keeps us correct if that changes).
    change.summary()?;
    let mut location = change.rela_path().to_string();
    if is_collapsed_dir(change) {
        // `git status --porcelain` marks a collapsed untracked directory with a slash.
        location.push('/');
    }
    Some(location)
}

/// Whether the index provably equals HEAD's tree: its root cache-tree entry is valid and names
/// HEAD's tree, which git keeps true across commits and invalidates on every staged change.
fn index_matches_head(repo: &gix::Repository) -> bool {
    let Ok(head_tree) = repo.head_tree_id() else {
        return false;
    };
    let Ok(index) = repo.index_or_empty() else {
        return false;
    };
    index
        .tree()
        .is_some_and(|root| root.num_entries.is_some() && root.id == head_tree.detach())
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
