//! Small helpers shared by the gix-backed operations.

use std::fmt::Display;
use std::path::Path;

use orchestrator_core::error::{Error, Result};

/// Opens the repository at `path` (no upward discovery).
pub(crate) fn open(path: &Path) -> Result<gix::Repository> {
    gix::open(path).map_err(|err| gix_error(path, "cannot open repository", err))
}

/// An [`Error::Vcs`] saying what we were doing and gix's reason.
pub(crate) fn gix_error(path: &Path, doing: &str, err: impl Display) -> Error {
    Error::Vcs {
        repo: path.display().to_string(),
        message: format!("{doing}: {err}"),
    }
}

/// Runs a synchronous git operation on the blocking pool, keeping the async runtime responsive.
pub(crate) async fn blocking<T, F>(path: &Path, op: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&Path) -> Result<T> + Send + 'static,
{
    let path = path.to_owned();
    match tokio::task::spawn_blocking(move || op(&path)).await {
        Ok(result) => result,
        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
        // Only happens when the runtime shuts down under us.
        Err(_) => Err(Error::Cancelled),
    }
}
