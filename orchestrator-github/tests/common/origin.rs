//! A real bare git origin made with the git CLI, as a rehearsal pushes to one.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A bare repository and a scratch clone to commit through.
pub(crate) struct BareOrigin {
    bare: PathBuf,
    work: tempfile::TempDir,
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Mona")
        .env("GIT_AUTHOR_EMAIL", "mona@users.noreply.github.com")
        .env("GIT_COMMITTER_NAME", "Mona")
        .env("GIT_COMMITTER_EMAIL", "mona@users.noreply.github.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl BareOrigin {
    /// An empty bare repository at `path` whose `HEAD` is `main`.
    pub(crate) fn create(path: &Path) -> Self {
        std::fs::create_dir_all(path).expect("origin dir");
        git(path, &["init", "--bare", "-q", "-b", "main"]);
        let work = tempfile::tempdir().expect("work dir");
        git(work.path(), &["init", "-q", "-b", "main"]);
        git(
            work.path(),
            &["remote", "add", "origin", &path.display().to_string()],
        );
        Self {
            bare: path.to_owned(),
            work,
        }
    }

    /// The bare repository.
    pub(crate) fn path(&self) -> &Path {
        &self.bare
    }

    /// Commits `content` at `file` on `branch` (created from `main`'s tip when new) and pushes
    /// it; the new commit.
    pub(crate) fn commit_file(
        &self,
        branch: &str,
        file: &str,
        content: &str,
        message: &str,
    ) -> String {
        let work = self.work.path();
        let has_commits = git(work, &["rev-list", "--all", "--count"]) != "0";
        if has_commits {
            let exists = Command::new("git")
                .arg("-C")
                .arg(work)
                .args([
                    "rev-parse",
                    "--verify",
                    "-q",
                    &format!("refs/heads/{branch}"),
                ])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            if exists {
                git(work, &["checkout", "-q", branch]);
            } else {
                git(work, &["checkout", "-q", "-b", branch, "main"]);
            }
        } else if branch != "main" {
            git(work, &["checkout", "-q", "-b", branch]);
        }
        let path = work.join(file);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
        std::fs::write(&path, content).expect("write");
        git(work, &["add", "-A"]);
        git(work, &["commit", "-q", "-m", message]);
        git(work, &["push", "-q", "origin", branch]);
        git(work, &["rev-parse", "HEAD"])
    }

    /// Pushes tag `name` at `sha`.
    pub(crate) fn tag(&self, name: &str, sha: &str) {
        let work = self.work.path();
        git(work, &["tag", name, sha]);
        git(work, &["push", "-q", "origin", name]);
    }
}
