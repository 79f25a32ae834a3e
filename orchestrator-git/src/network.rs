//! Talking to remotes through the git CLI: fetch, `ls-remote` and push.
//!
//! The CLI is used on purpose: users' SSH keys, agents, `insteadOf` rewrites and credential
//! helpers work unchanged, and no second TLS stack is linked. gix 0.90 cannot push anyway.

use std::path::Path;

use orchestrator_core::error::{Error, Result};
use orchestrator_core::vcs::{RemoteRefs, branch_ref, tag_ref};

use crate::cli::{self, check_arg};
use crate::read;

/// Fetches one branch into its remote-tracking ref, without tags.
pub(crate) fn fetch(path: &Path, remote: &str, branch: &str) -> Result<()> {
    check_arg("remote", remote)?;
    check_arg("branch", branch)?;
    let refspec = format!("+refs/heads/{branch}:refs/remotes/{remote}/{branch}");
    cli::run(
        path,
        [
            "fetch",
            "--no-tags",
            "--no-recurse-submodules",
            remote,
            &refspec,
        ],
    )?;
    Ok(())
}

/// Asks the remote for exactly `refs`, peeling annotated tags to their commit.
pub(crate) fn remote_refs(path: &Path, remote: &str, refs: &[String]) -> Result<RemoteRefs> {
    check_arg("remote", remote)?;
    if refs.is_empty() {
        // `git ls-remote` without patterns lists everything; nothing was asked, nothing to say.
        return Ok(RemoteRefs::new());
    }
    if let Some(local) = local_remote(path, remote)? {
        // A remote on this machine (a mirror, a test origin): read its refs directly, the same
        // answer `ls-remote` would give without starting two processes.
        return read::peeled_refs(&local, refs);
    }
    let mut args = vec!["ls-remote".to_owned(), remote.to_owned()];
    for name in refs {
        check_arg("ref name", name)?;
        args.push(name.clone());
        // `ls-remote` matches patterns against the printed name, so the peeled line of an
        // annotated tag (`refs/tags/X^{}`) only appears when asked for explicitly.
        args.push(format!("{name}^{{}}"));
    }
    let stdout = cli::run(path, &args)?;
    Ok(parse_ls_remote(&stdout, refs))
}

/// The directory of `remote` when its URL is a local path (plain or `file://`), resolved like git
/// does against the work tree; `None` for network URLs (`https://`, `ssh://`, `host:path`).
pub(crate) fn local_remote(path: &Path, remote: &str) -> Result<Option<std::path::PathBuf>> {
    let Some(url) = read::remote_url(path, remote)? else {
        return Ok(None);
    };
    let local = match url.strip_prefix("file://") {
        Some(rest) => rest,
        None if url.contains("://") => return Ok(None),
        None => url.as_str(),
    };
    let candidate = path.join(local);
    // `host:path` is scp-like SSH unless such a directory really exists here.
    Ok(candidate.is_dir().then_some(candidate))
}

/// Parses `git ls-remote` output, keeping only `wanted` refs and preferring peeled ids.
pub(crate) fn parse_ls_remote(stdout: &str, wanted: &[String]) -> RemoteRefs {
    let mut direct = RemoteRefs::new();
    let mut peeled = RemoteRefs::new();
    for line in stdout.lines() {
        let Some((id, name)) = line.split_once('\t') else {
            continue;
        };
        match name.strip_suffix("^{}") {
            Some(base) => peeled.insert(base.to_owned(), id.to_owned()),
            None => direct.insert(name.to_owned(), id.to_owned()),
        };
    }
    wanted
        .iter()
        .filter_map(|name| {
            let id = peeled.get(name).or_else(|| direct.get(name))?;
            Some((name.clone(), id.clone()))
        })
        .collect()
}

/// Pushes exactly `refs/tags/<tag>`: no force, no other refs, no followed tags, no submodules.
pub(crate) fn push_tag(path: &Path, remote: &str, tag: &str) -> Result<()> {
    check_arg("tag", tag)?;
    push_exact_ref(
        path,
        remote,
        &tag_ref(tag),
        &format!("tag {tag}"),
        &["[rejected]", "already exists"],
        |stderr| {
            format!(
                "remote `{remote}` of {} already has tag {tag} at another object: {stderr}",
                path.display()
            )
        },
    )
}

/// Pushes exactly `refs/heads/<branch>`: no force, no other refs, no tags, no submodules.
/// `NotFound` when the branch does not exist locally; `Conflict` when the remote's branch is not
/// an ancestor (a non-fast-forward the push must not overwrite).
pub(crate) fn push_branch(path: &Path, remote: &str, branch: &str) -> Result<()> {
    check_arg("branch", branch)?;
    push_exact_ref(
        path,
        remote,
        &branch_ref(branch),
        &format!("branch {branch}"),
        &["[rejected]", "non-fast-forward"],
        |stderr| {
            format!(
                "remote `{remote}` of {} has commits on {branch} that the local branch lacks: {stderr}",
                path.display()
            )
        },
    )
}

/// Pushes the local ref `full_name` to the same name on `remote` and nothing else (never forced,
/// no followed tags, no submodules). A missing local ref is `NotFound` naming `what`; a rejection
/// whose output contains one of `conflict_markers` is a `Conflict` worded by `conflict`.
fn push_exact_ref(
    path: &Path,
    remote: &str,
    full_name: &str,
    what: &str,
    conflict_markers: &[&str],
    conflict: impl FnOnce(&str) -> String,
) -> Result<()> {
    check_arg("remote", remote)?;
    let refspec = format!("{full_name}:{full_name}");
    let args = [
        "push",
        "--no-follow-tags",
        "--recurse-submodules=no",
        remote,
        &refspec,
    ];
    let mut cmd = cli::command(path);
    cmd.args(args);
    let out = cli::output(&mut cmd, path)?;
    if out.success {
        return Ok(());
    }
    if out.stderr.contains("does not match any") {
        return Err(Error::NotFound {
            what: format!("{what} in {}", path.display()),
        });
    }
    if conflict_markers
        .iter()
        .any(|marker| out.stderr.contains(marker))
    {
        return Err(Error::Conflict {
            message: conflict(&out.stderr),
        });
    }
    let args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
    Err(cli::failure(path, &args, &out))
}

#[cfg(test)]
mod tests {
    use super::parse_ls_remote;

    #[test]
    fn peeled_tag_wins_and_unrequested_refs_are_dropped() {
        let out =
            "aaa\trefs/heads/main\nttt\trefs/tags/v1\nccc\trefs/tags/v1^{}\nlll\trefs/tags/light\n";
        let wanted = vec![
            "refs/tags/v1".to_owned(),
            "refs/tags/light".to_owned(),
            "refs/tags/absent".to_owned(),
        ];
        let refs = parse_ls_remote(out, &wanted);
        assert_eq!(refs.len(), 2);
        assert_eq!(refs["refs/tags/v1"], "ccc");
        assert_eq!(refs["refs/tags/light"], "lll");
    }
}
