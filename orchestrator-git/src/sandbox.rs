//! Real git repositories with bare origins in a scratch directory, for tests, examples and demos.
//!
//! A [`Sandbox`] owns a root directory (usually a `tempfile::TempDir` the caller keeps alive).
//! [`Sandbox::create_repo`] makes a bare origin at `<root>/origins/<name>.git` and a clone at
//! `<root>/<name>` on branch `main`, with the given files committed and pushed, so `HEAD ==
//! origin/main` and the tree is clean. Helpers then move the clone or the origin into the states
//! the orchestrator must recognise (dirty, ahead, behind, detached).
//!
//! Every git process runs isolated from the machine it runs on: no system or global config
//! (`GIT_CONFIG_NOSYSTEM=1`, `GIT_CONFIG_GLOBAL` pointed at the null device), `main` as the
//! default branch, no commit or tag signing, and a fixed identity in each clone's local config.
//!
//! ```no_run
//! # fn demo() -> orchestrator_core::error::Result<()> {
//! use orchestrator_git::sandbox::{Sandbox, commit_file};
//! let sandbox = Sandbox::new(std::path::Path::new("/tmp/demo"))?;
//! let repo = sandbox.create_repo("truthdb", &[("README.md", "# truthdb\n")])?;
//! commit_file(&repo.clone, "CHANGELOG.md", "## 0.1.0\n", "Add changelog")?; // ahead of origin
//! sandbox.advance_origin(&repo)?; // and origin moved on too
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use orchestrator_core::error::{Error, Result};

use crate::cli;

/// The identity every sandbox clone commits as.
pub const SANDBOX_USER: (&str, &str) = ("Sandbox User", "sandbox@example.invalid");

/// Where the null device is, for `GIT_CONFIG_GLOBAL`.
const NULL_DEVICE: &str = if cfg!(windows) { "NUL" } else { "/dev/null" };

/// A directory of sandbox repositories.
#[derive(Debug)]
pub struct Sandbox {
    root: PathBuf,
    scratch: AtomicUsize,
}

/// One repository of a [`Sandbox`]: its clone and its bare origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxRepo {
    /// The name given to [`Sandbox::create_repo`].
    pub name: String,
    /// The work tree: `<root>/<name>`.
    pub clone: PathBuf,
    /// The bare origin: `<root>/origins/<name>.git`; also the clone's `origin` URL.
    pub origin: PathBuf,
}

impl Sandbox {
    /// A sandbox rooted at `root`, which is created if missing.
    pub fn new(root: &Path) -> Result<Sandbox> {
        std::fs::create_dir_all(root.join("origins"))
            .map_err(|err| Error::io(format!("creating sandbox {}", root.display()), err))?;
        Ok(Sandbox {
            root: root.to_owned(),
            scratch: AtomicUsize::new(0),
        })
    }

    /// The sandbox's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The paths of repository `name`, whether or not it was created yet.
    pub fn repo(&self, name: &str) -> SandboxRepo {
        SandboxRepo {
            name: name.to_owned(),
            clone: self.root.join(name),
            origin: self.root.join("origins").join(format!("{name}.git")),
        }
    }

    /// Creates a bare origin and a clone of it on `main` holding `files` (path, content) in one
    /// pushed commit. With no files, the commit is empty. Five git processes.
    pub fn create_repo(&self, name: &str, files: &[(&str, &str)]) -> Result<SandboxRepo> {
        check_name(name)?;
        let repo = self.repo(name);
        git(
            &self.root,
            &[
                "init",
                "--quiet",
                "--bare",
                "--initial-branch=main",
                path_str(&repo.origin)?,
            ],
        )?;
        let user_name = format!("user.name={}", SANDBOX_USER.0);
        let user_email = format!("user.email={}", SANDBOX_USER.1);
        git(
            &self.root,
            &[
                "clone",
                "--quiet",
                "--config",
                &user_name,
                "--config",
                &user_email,
                path_str(&repo.origin)?,
                path_str(&repo.clone)?,
            ],
        )?;
        for (path, content) in files {
            write_file(&repo.clone, path, content)?;
        }
        git(&repo.clone, &["add", "--all"])?;
        git(
            &repo.clone,
            &[
                "commit",
                "--quiet",
                "--allow-empty",
                "--message",
                "Initial commit",
            ],
        )?;
        git(
            &repo.clone,
            &["push", "--quiet", "--set-upstream", "origin", "main"],
        )?;
        Ok(repo)
    }

    /// Creates `<root>/<name>` as a fresh repository with no commits, HEAD on `main`.
    pub fn create_empty_repo(&self, name: &str) -> Result<PathBuf> {
        check_name(name)?;
        let path = self.root.join(name);
        git(
            &self.root,
            &["init", "--quiet", "--initial-branch=main", path_str(&path)?],
        )?;
        Ok(path)
    }

    /// A new, empty directory under the root that is not a repository.
    pub fn plain_dir(&self) -> Result<PathBuf> {
        let path = self.scratch_path("plain");
        std::fs::create_dir_all(&path)
            .map_err(|err| Error::io(format!("creating {}", path.display()), err))?;
        Ok(path)
    }

    /// Moves the origin's `main` one commit ahead, as a colleague's push would, without touching
    /// `repo.clone` (its `origin/main` stays stale until it fetches). Returns the new commit.
    pub fn advance_origin(&self, repo: &SandboxRepo) -> Result<String> {
        self.in_throwaway_clone(repo, |elsewhere, n| {
            commit_file(
                elsewhere,
                &format!("elsewhere-{n}.txt"),
                "pushed by someone else\n",
                "Change pushed from elsewhere",
            )?;
            git(elsewhere, &["push", "--quiet", "origin", "main"])?;
            git(elsewhere, &["rev-parse", "HEAD"])
        })
    }

    /// Puts an annotated tag `tag` on the origin, at a new commit that is on no branch, without
    /// touching `repo.clone`. Returns the tagged commit.
    pub fn tag_origin_elsewhere(&self, repo: &SandboxRepo, tag: &str) -> Result<String> {
        self.in_throwaway_clone(repo, |elsewhere, n| {
            let commit = commit_file(
                elsewhere,
                &format!("tagged-elsewhere-{n}.txt"),
                "tagged by someone else\n",
                "Change tagged from elsewhere",
            )?;
            git(
                elsewhere,
                &["tag", "--annotate", "--message", "tagged elsewhere", tag],
            )?;
            let refspec = format!("refs/tags/{tag}:refs/tags/{tag}");
            git(elsewhere, &["push", "--quiet", "origin", &refspec])?;
            Ok(commit)
        })
    }

    /// Runs `act` in a throw-away clone of `repo.origin`, then deletes the clone.
    fn in_throwaway_clone(
        &self,
        repo: &SandboxRepo,
        act: impl FnOnce(&Path, usize) -> Result<String>,
    ) -> Result<String> {
        let n = self.scratch.fetch_add(1, Ordering::Relaxed);
        let elsewhere = self.root.join(format!(".elsewhere-{}-{n}", repo.name));
        let user_name = format!("user.name={}", SANDBOX_USER.0);
        let user_email = format!("user.email={}", SANDBOX_USER.1);
        git(
            &self.root,
            &[
                "clone",
                "--quiet",
                "--config",
                &user_name,
                "--config",
                &user_email,
                path_str(&repo.origin)?,
                path_str(&elsewhere)?,
            ],
        )?;
        let result = act(&elsewhere, n);
        std::fs::remove_dir_all(&elsewhere)
            .map_err(|err| Error::io(format!("removing {}", elsewhere.display()), err))?;
        result
    }

    fn scratch_path(&self, prefix: &str) -> PathBuf {
        let n = self.scratch.fetch_add(1, Ordering::Relaxed);
        self.root.join(format!(".{prefix}-{n}"))
    }
}

/// Runs `git args...` in `dir`, isolated from system and global config, and returns its trimmed
/// stdout; a failure is an [`Error::Vcs`] quoting git's stderr.
pub fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let mut cmd = cli::command(dir);
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", NULL_DEVICE)
        .args(["-c", "init.defaultBranch=main"])
        .args(["-c", "commit.gpgsign=false"])
        .args(["-c", "tag.gpgsign=false"])
        .args(["-c", "core.autocrlf=false"])
        .args(args);
    let out = cli::output(&mut cmd, dir)?;
    if out.success {
        Ok(out.stdout.trim().to_owned())
    } else {
        let args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
        Err(cli::failure(dir, &args, &out))
    }
}

/// Writes `content` to `path` (relative to `clone`), commits it alone with `message`, and
/// returns the new HEAD commit. Nothing is pushed.
pub fn commit_file(clone: &Path, path: &str, content: &str, message: &str) -> Result<String> {
    write_file(clone, path, content)?;
    git(clone, &["add", "--", path])?;
    git(
        clone,
        &["commit", "--quiet", "--message", message, "--", path],
    )?;
    git(clone, &["rev-parse", "HEAD"])
}

/// Writes `content` to `path` relative to `dir`, creating parent directories.
pub fn write_file(dir: &Path, path: &str, content: &str) -> Result<()> {
    let full = dir.join(path);
    if let Some(parent) = full.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|err| Error::io(format!("creating {}", parent.display()), err))?;
    }
    std::fs::write(&full, content)
        .map_err(|err| Error::io(format!("writing {}", full.display()), err))
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with(['.', '-'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "sandbox repository name `{name}`: use letters, digits, `-`, `_` and `.`"
        )))
    }
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str().ok_or_else(|| {
        Error::invalid_input(format!("sandbox path {} is not UTF-8", path.display()))
    })
}
