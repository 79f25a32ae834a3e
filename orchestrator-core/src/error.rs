//! The one public error type every backend maps into.
//!
//! Callers match on meaning (`NotFound`, `RateLimited`, `Preflight`...) rather than on strings, and
//! the same test can assert the same variant against every backend.

use std::path::PathBuf;
use std::time::Duration;

/// The result type of the whole orchestrator.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, by meaning.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The thing asked for does not exist (a release, a repository, a run).
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, e.g. "release v1.2.3 of Truthdb/truthdb".
        what: String,
    },
    /// Creating something that already exists.
    #[error("{what} already exists")]
    AlreadyExists {
        /// What already exists.
        what: String,
    },
    /// The remote state disagrees with what the request assumed (HTTP 409/422, a tag at another
    /// commit).
    #[error("conflict: {message}")]
    Conflict {
        /// Why.
        message: String,
    },
    /// The credentials were missing or rejected (HTTP 401).
    #[error("not authenticated: {message}")]
    Unauthenticated {
        /// Why.
        message: String,
    },
    /// The credentials are valid but not allowed to do this (HTTP 403 without a rate limit).
    #[error("permission denied: {message}")]
    PermissionDenied {
        /// Why.
        message: String,
    },
    /// A primary or secondary rate limit; retry after the given delay when known.
    #[error("rate limited: {message}")]
    RateLimited {
        /// How long the server asked us to wait.
        retry_after: Option<Duration>,
        /// What was limited.
        message: String,
    },
    /// A failure that is expected to go away (HTTP 5xx, connection reset, timeout of one request).
    #[error("transient failure: {message}")]
    Transient {
        /// Why.
        message: String,
    },
    /// The backend cannot answer this operation (say, an endpoint an older server lacks). A
    /// capability a backend lacks altogether is a forge capability trait it does not implement,
    /// which the compiler reports, not this error.
    #[error("{what} is not supported by the {backend} backend")]
    NotSupported {
        /// The backend's name.
        backend: String,
        /// The missing capability.
        what: String,
    },
    /// A request value is invalid (a version, a `--only` name, a flag).
    #[error("{message}")]
    InvalidInput {
        /// One line naming the field and the value.
        message: String,
    },
    /// The configuration file is invalid.
    #[error("{}", config_location(file, *line, key.as_deref(), message))]
    Config {
        /// The file.
        file: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// The dotted key, when known.
        key: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// Preflight found problems; nothing was changed.
    #[error("{}", preflight_summary(failures))]
    Preflight {
        /// Every failure, across every repository.
        failures: Vec<PreflightFailure>,
    },
    /// A wait passed its deadline.
    #[error("timed out after {} waiting for {what}{}", whole_secs_or_ms(*waited), missing_list(missing))]
    Timeout {
        /// What was awaited.
        what: String,
        /// What was still missing when the deadline passed.
        missing: Vec<String>,
        /// How long we waited.
        waited: Duration,
    },
    /// A workload's controller gave up on its rollout (a Deployment's progress deadline passed).
    #[error("{workload} failed to roll out: {reason}")]
    RolloutFailed {
        /// The workload, e.g. `Deployment/web (ns: assistant)`.
        workload: String,
        /// Why, and what was still missing.
        reason: String,
    },
    /// A git operation failed.
    #[error("git: {repo}: {message}")]
    Vcs {
        /// The clone's path or name.
        repo: String,
        /// What failed, with git's own message.
        message: String,
    },
    /// The state store (journal, run history) failed.
    #[error("state store: {message}")]
    State {
        /// Why.
        message: String,
    },
    /// Another run holds the workspace lock.
    #[error("another orchestrator run holds the lock {} ({holder}); wait for it to end: the lock is released the moment that process exits, even if it is killed, so a lock that stays held has a live holder (`fuser -v {}` shows it; do not delete the file, that lets two runs collide)", path.display(), path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// Who holds it, as recorded in the file.
        holder: String,
    },
    /// A shared lock or a run's claim is held by another live runner (a PostgreSQL advisory lock,
    /// or a claim whose process is alive).
    #[error(
        "{what} is held by {holder}; wait for that runner to end: the hold ends the moment its process or database session does, even if it is killed"
    )]
    Busy {
        /// What is held, e.g. `the workspace lock on postgres://ci@db/orchestrator` or `run 7`.
        what: String,
        /// Who holds it (host, pid, run), as recorded when it was taken.
        holder: String,
    },
    /// The run was stopped (Ctrl-C); the journal says where, `--resume` continues.
    #[error("cancelled")]
    Cancelled,
    /// A step failed; its own error is the source.
    #[error("step {step} failed: {source}")]
    Step {
        /// The step id.
        step: String,
        /// The step's error.
        #[source]
        source: Box<Error>,
    },
    /// A command run by a step or task did not succeed (non-zero exit, signal, timeout).
    #[error("`{command}` {status}{}", output_tail(tail))]
    CommandFailed {
        /// The command line, secrets masked.
        command: String,
        /// What happened: `exited with code 3`, `timed out after 5s (killed)`.
        status: String,
        /// The last lines of its output, secrets masked.
        tail: Vec<String>,
    },
    /// An operating-system I/O error, with what we were doing.
    // The OS error is part of the message and deliberately not a `#[source]`: an error chain
    // printed in full (`{:#}`) would say it twice ("… (os error 2): … (os error 2)").
    #[error("{context}: {error}")]
    Io {
        /// What we were doing, naming the path.
        context: String,
        /// The OS error (named `error`, not `source`, which thiserror would chain).
        error: std::io::Error,
    },
}

/// One preflight problem of one repository.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PreflightFailure {
    /// The repository's configured name.
    pub repo: String,
    /// One line saying what is wrong and how to fix it.
    pub reason: String,
}

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Error::InvalidInput {
            message: message.into(),
        }
    }

    /// Shorthand for an [`Error::Io`] with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            error: source,
        }
    }

    /// Shorthand for [`Error::State`].
    pub fn state(message: impl std::fmt::Display) -> Self {
        Error::State {
            message: message.to_string(),
        }
    }

    /// True for errors that a retry may cure: transient failures and rate limits.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Transient { .. } | Error::RateLimited { .. } => true,
            Error::Step { source, .. } => source.is_retriable(),
            _ => false,
        }
    }

    /// True when the error is the user's input and nothing was changed: exit code 2.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Error::InvalidInput { .. }
                | Error::Config { .. }
                | Error::Preflight { .. }
                | Error::Locked { .. }
                | Error::Busy { .. }
        )
    }

    /// The documented process exit code: 2 for bad input, failed preflight or rejected
    /// credentials (nothing changed; fix the input or the token and run again), 1 for a run that
    /// failed, timed out or was cancelled (the journal says where).
    pub fn exit_code(&self) -> u8 {
        if self.is_bad_input() || matches!(self, Error::Unauthenticated { .. }) {
            2
        } else {
            1
        }
    }
}

fn config_location(
    file: &std::path::Path,
    line: Option<usize>,
    key: Option<&str>,
    message: &str,
) -> String {
    let mut out = file.display().to_string();
    if let Some(line) = line {
        out.push_str(&format!(":{line}"));
    }
    out.push_str(": ");
    if let Some(key) = key {
        out.push_str(&format!("`{key}`: "));
    }
    out.push_str(message);
    out
}

fn preflight_summary(failures: &[PreflightFailure]) -> String {
    let repos: std::collections::BTreeSet<&str> =
        failures.iter().map(|f| f.repo.as_str()).collect();
    let mut out = format!(
        "preflight failed ({} problem{} in {} repo{}); nothing was changed",
        failures.len(),
        if failures.len() == 1 { "" } else { "s" },
        repos.len(),
        if repos.len() == 1 { "" } else { "s" },
    );
    for f in failures {
        out.push_str(&format!("\n  - {}: {}", f.repo, f.reason));
    }
    out
}

fn output_tail(tail: &[String]) -> String {
    if tail.is_empty() {
        "; no output".into()
    } else {
        let mut out = format!("; last {} line(s) of output:", tail.len());
        for line in tail {
            out.push_str("\n    | ");
            out.push_str(line);
        }
        out
    }
}

/// `300s`; below a second (test timeouts), `250ms` rather than `0s`.
fn whole_secs_or_ms(d: Duration) -> String {
    if d.as_secs() == 0 && !d.is_zero() {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs())
    }
}

fn missing_list(missing: &[String]) -> String {
    if missing.is_empty() {
        String::new()
    } else {
        format!("; still missing: {}", missing.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_says_how_long_in_whole_seconds_or_below_one_in_milliseconds() {
        let timeout = |waited| Error::Timeout {
            what: "x".into(),
            missing: vec!["y".into()],
            waited,
        };
        assert_eq!(
            timeout(Duration::from_millis(300_900)).to_string(),
            "timed out after 300s waiting for x; still missing: y"
        );
        assert_eq!(
            timeout(Duration::from_millis(250)).to_string(),
            "timed out after 250ms waiting for x; still missing: y"
        );
    }
}
