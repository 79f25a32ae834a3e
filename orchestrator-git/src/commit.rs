//! Writing commits and branches in a work tree. These go through the `git` CLI: gix 0.90 can
//! write objects and refs but not update the index and work tree the way `git add`/`git commit`
//! and `git checkout` do, and a commit whose index disagrees with it would leave the clone dirty.
//! gix still answers the questions around them (does the branch exist, who is the committer).

use std::path::{Component, Path};

use orchestrator_core::error::{Error, Result};
use orchestrator_core::vcs::Head;

use crate::cli::{self, check_arg};
use crate::read;
use crate::tags::FALLBACK_TAGGER;
use crate::util::{gix_error, open};

/// Writes `files`, stages exactly those paths and commits only them on the current branch
/// (anything else already staged stays staged and uncommitted). The committer is the
/// repository's (config or environment), else the tag code's fallback identity. Hooks run as for
/// `git commit`. `Conflict` when the files already have that content (nothing to commit).
pub(crate) fn commit_files(
    path: &Path,
    files: &[(String, Vec<u8>)],
    message: &str,
) -> Result<String> {
    if files.is_empty() {
        return Err(Error::invalid_input("no files to commit"));
    }
    if message.trim().is_empty() {
        return Err(Error::invalid_input("an empty commit message"));
    }
    if let Head::Detached { .. } = read::head(path)? {
        return Err(Error::invalid_input(format!(
            "cannot commit in {}: HEAD is detached, not on a branch",
            path.display()
        )));
    }
    for (name, _) in files {
        check_path(name)?;
    }
    for (name, content) in files {
        let target = path.join(name);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|err| Error::io(format!("cannot create {}", parent.display()), err))?;
        }
        std::fs::write(&target, content)
            .map_err(|err| Error::io(format!("cannot write {}", target.display()), err))?;
    }
    let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    let mut add = vec!["add", "--"];
    add.extend(&names);
    cli::run(path, &add)?;

    let identity = identity_overrides(path)?;
    let mut args: Vec<String> = identity;
    args.extend(["commit", "--quiet", "--only", "-m", message, "--"].map(str::to_owned));
    args.extend(names.iter().map(|n| (*n).to_owned()));
    let mut cmd = cli::command(path);
    cmd.args(&args);
    let out = cli::output(&mut cmd, path)?;
    if !out.success {
        let said = format!("{}\n{}", out.stdout, out.stderr);
        if said.contains("nothing to commit") || said.contains("no changes added") {
            return Err(Error::Conflict {
                message: format!(
                    "nothing to commit in {}: {} already have that content",
                    path.display(),
                    names.join(", ")
                ),
            });
        }
        let args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
        return Err(cli::failure(path, &args, &out));
    }
    Ok(cli::run(path, ["rev-parse", "HEAD"])?.trim().to_owned())
}

/// `-c user.name=… -c user.email=…` with the fallback identity when neither the environment nor
/// the config names a committer (gix answers that question as git would); else nothing.
pub(crate) fn identity_overrides(path: &Path) -> Result<Vec<String>> {
    let repo = open(path)?;
    let configured = match repo.committer() {
        Some(Ok(_)) => true,
        Some(Err(err)) => return Err(gix_error(path, "cannot determine the committer", err)),
        None => false,
    };
    if configured && repo.author().is_some() {
        return Ok(Vec::new());
    }
    let (name, email) = FALLBACK_TAGGER;
    Ok(vec![
        "-c".into(),
        format!("user.name={name}"),
        "-c".into(),
        format!("user.email={email}"),
    ])
}

/// A work-tree-relative path that stays inside the work tree and out of `.git`.
fn check_path(name: &str) -> Result<()> {
    let path = Path::new(name);
    let bad = name.is_empty()
        || name.starts_with('-')
        || name.contains('\0')
        || path.is_absolute()
        || path
            .components()
            .any(|c| !matches!(c, Component::Normal(part) if part != ".git"));
    if bad {
        return Err(Error::invalid_input(format!(
            "invalid path `{name}`: expected a relative path inside the work tree"
        )));
    }
    Ok(())
}

/// Creates `branch` at `start` and checks it out (`git checkout -b`, without tracking `start`).
/// `AlreadyExists` if the branch exists; `NotFound` if `start` names nothing.
pub(crate) fn checkout_new_branch(path: &Path, branch: &str, start: &str) -> Result<()> {
    check_arg("branch", branch)?;
    check_arg("start point", start)?;
    let full_name = orchestrator_core::vcs::branch_ref(branch);
    if gix::refs::FullName::try_from(full_name.as_str()).is_err() {
        return Err(Error::invalid_input(format!(
            "invalid branch name `{branch}`"
        )));
    }
    let repo = open(path)?;
    let exists = repo
        .try_find_reference(full_name.as_str())
        .map_err(|err| gix_error(path, &format!("cannot read {full_name}"), err))?
        .is_some();
    if exists {
        return Err(Error::AlreadyExists {
            what: format!("branch {branch} in {}", path.display()),
        });
    }
    let start_commit = format!("{start}^{{commit}}");
    if repo.rev_parse_single(start_commit.as_str()).is_err() {
        return Err(Error::NotFound {
            what: format!("start point `{start}` in {}", path.display()),
        });
    }
    cli::run(
        path,
        ["checkout", "--quiet", "--no-track", "-b", branch, start],
    )?;
    Ok(())
}

/// Moves the checked-out branch forward to `commit` and updates the work tree
/// (`git merge --ff-only`, which never creates a commit). A detached HEAD is refused: the move
/// is meant for a release branch, and a detached clone has none to move.
pub(crate) fn fast_forward(path: &Path, commit: &str) -> Result<()> {
    check_arg("commit", commit)?;
    match read::head(path)? {
        Head::Branch { .. } => {}
        other => {
            return Err(Error::invalid_input(format!(
                "{}: cannot fast-forward to {commit}: HEAD is not on a branch ({other:?})",
                path.display()
            )));
        }
    }
    cli::run(path, ["merge", "--ff-only", "--quiet", commit])?;
    Ok(())
}
