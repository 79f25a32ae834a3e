//! Reading history with gix: the commits since a tag, for release notes and version bumps.

use std::path::Path;

use gix::revision::walk::Sorting;
use gix::traverse::commit::simple::CommitTimeOrder;
use orchestrator_core::error::{Error, Result};
use orchestrator_core::vcs::CommitInfo;

use crate::util::{gix_error, open};

/// Commits reachable from HEAD and not from `since` (a tag, branch or commit id), newest first by
/// commit time; empty on an unborn HEAD. An unknown `since` is `NotFound`.
pub(crate) fn commits_since(path: &Path, since: Option<&str>) -> Result<Vec<CommitInfo>> {
    let repo = open(path)?;
    let head = repo
        .head()
        .map_err(|err| gix_error(path, "cannot read HEAD", err))?;
    if head.is_unborn() {
        return Ok(Vec::new());
    }
    let tip = head
        .into_peeled_id()
        .map_err(|err| gix_error(path, "cannot peel HEAD to a commit", err))?
        .detach();
    let hidden = match since {
        Some(since) => Some(resolve_commit(&repo, path, since)?),
        None => None,
    };
    let walk = repo
        .rev_walk([tip])
        .sorting(Sorting::ByCommitTime(CommitTimeOrder::NewestFirst))
        .with_hidden(hidden)
        .all()
        .map_err(|err| gix_error(path, "cannot walk history", err))?;
    let mut commits = Vec::new();
    for info in walk {
        let info = info.map_err(|err| gix_error(path, "cannot walk history", err))?;
        let commit = repo
            .find_commit(info.id)
            .map_err(|err| gix_error(path, &format!("cannot read commit {}", info.id), err))?;
        let message = commit
            .message_raw()
            .map_err(|err| gix_error(path, &format!("cannot read commit {}", info.id), err))?;
        let (summary, body) = split_message(&String::from_utf8_lossy(message));
        commits.push(CommitInfo {
            id: info.id.to_string(),
            summary,
            body,
        });
    }
    Ok(commits)
}

/// The commit `rev` (a tag, branch or id) names, tags peeled.
fn resolve_commit(repo: &gix::Repository, path: &Path, rev: &str) -> Result<gix::ObjectId> {
    let not_found = || Error::NotFound {
        what: format!("revision `{rev}` in {}", path.display()),
    };
    // A tag wins over a branch of the same name, as for `git log <name>..`.
    let tag = format!("refs/tags/{rev}");
    let id = match repo.try_find_reference(tag.as_str()) {
        Ok(Some(mut reference)) => reference
            .peel_to_id()
            .map_err(|err| gix_error(path, &format!("cannot peel {tag}"), err))?
            .detach(),
        _ => repo
            .rev_parse_single(rev)
            .map_err(|_| not_found())?
            .detach(),
    };
    let commit = repo
        .find_object(id)
        .map_err(|_| not_found())?
        .peel_to_commit()
        .map_err(|err| gix_error(path, &format!("`{rev}` is not a commit"), err))?;
    Ok(commit.id)
}

/// `(summary, body)`: the first line, and the rest without the blank separator line or the
/// trailing newline.
fn split_message(message: &str) -> (String, String) {
    let (summary, rest) = message.split_once('\n').unwrap_or((message, ""));
    let body = rest.trim_start_matches(['\n', '\r']).trim_end();
    (summary.trim_end().to_owned(), body.to_owned())
}

#[cfg(test)]
mod tests {
    use super::split_message;

    #[test]
    fn messages_split_into_summary_and_body() {
        assert_eq!(
            split_message("feat: x\n\nBREAKING CHANGE: y\n"),
            ("feat: x".to_owned(), "BREAKING CHANGE: y".to_owned())
        );
        assert_eq!(
            split_message("fix: one line\n"),
            ("fix: one line".to_owned(), String::new())
        );
        assert_eq!(split_message("bare"), ("bare".to_owned(), String::new()));
    }
}
