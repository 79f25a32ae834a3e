//! Running the `git` command line: the network half of [`GixVcs`](crate::GixVcs) and the sandbox.
//!
//! Every call passes its arguments as a vector (never through a shell), never prompts on the
//! terminal, and ignores `GIT_DIR` and friends inherited from the environment so `-C <dir>` always
//! names the repository (the orchestrator may itself run inside a git hook).

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

use orchestrator_core::error::{Error, Result};

/// Variables that would make `git -C <dir>` act on another repository than `<dir>`.
const REPOSITORY_LOCATING_VARS: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
];

/// What a finished `git` process left behind.
#[derive(Debug)]
pub(crate) struct GitOutput {
    /// Whether it exited with status 0.
    pub(crate) success: bool,
    /// Standard output, lossily decoded.
    pub(crate) stdout: String,
    /// Standard error, lossily decoded and trimmed.
    pub(crate) stderr: String,
}

impl GitOutput {
    fn from_output(output: Output) -> Self {
        GitOutput {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        }
    }
}

/// A `git -C <dir>` command with the environment every caller wants.
pub(crate) fn command(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(dir);
    for var in REPOSITORY_LOCATING_VARS {
        cmd.env_remove(var);
    }
    // Never block on a terminal prompt: a missing credential is an error, not a hang. Credential
    // helpers and SSH agents still work.
    cmd.env("GIT_TERMINAL_PROMPT", "0");
    // English messages, so the few we recognise (`already exists`) are stable.
    cmd.env("LC_ALL", "C");
    cmd
}

/// Runs `cmd` to completion, failing only when git cannot be started.
pub(crate) fn output(cmd: &mut Command, repo: &Path) -> Result<GitOutput> {
    let output = cmd.output().map_err(|err| Error::Vcs {
        repo: repo.display().to_string(),
        message: format!("cannot run `git` (is it installed and on PATH?): {err}"),
    })?;
    Ok(GitOutput::from_output(output))
}

/// Runs `git -C dir args...` and returns its stdout, or an [`Error::Vcs`] quoting git's stderr.
pub(crate) fn run<I, S>(dir: &Path, args: I) -> Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let out = output(command(dir).args(&args), dir)?;
    if out.success {
        Ok(out.stdout)
    } else {
        Err(failure(dir, &args, &out))
    }
}

/// The [`Error::Vcs`] for a failed git invocation.
pub(crate) fn failure(dir: &Path, args: &[std::ffi::OsString], out: &GitOutput) -> Error {
    let shown: Vec<_> = args.iter().map(|a| a.to_string_lossy()).collect();
    Error::Vcs {
        repo: dir.display().to_string(),
        message: format!("`git {}` failed: {}", shown.join(" "), out.stderr),
    }
}

/// Rejects names that git would read as an option, so user data never becomes a flag.
pub(crate) fn check_arg(what: &str, value: &str) -> Result<()> {
    if value.is_empty() || value.starts_with('-') || value.contains('\0') {
        return Err(Error::invalid_input(format!("invalid {what} `{value}`")));
    }
    Ok(())
}
