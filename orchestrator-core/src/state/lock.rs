//! One run per workspace at a time.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// An exclusive advisory lock on `<state dir>/lock`, released when dropped (or when the process
/// dies, so a crash never leaves a stale lock behind).
///
/// The file also records the holder while held and is emptied on a clean release, so a lock
/// taken over from a process that died is recognised and reported ([`WorkspaceLock::recovered`]).
#[derive(Debug)]
pub struct WorkspaceLock {
    file: File,
    path: PathBuf,
    recovered: Option<String>,
    /// Held by the parent process, which handed it down: not ours to release.
    inherited: bool,
}

/// A lock the parent process holds and handed down, before its file is opened.
struct Inherited {
    path: PathBuf,
}

impl Inherited {
    fn with_file(self, file: File) -> WorkspaceLock {
        WorkspaceLock {
            file,
            path: self.path,
            recovered: None,
            inherited: true,
        }
    }
}

impl WorkspaceLock {
    /// Takes the lock or fails at once with [`Error::Locked`] naming the holder.
    pub fn acquire(state_dir: &Path, holder: &str) -> Result<Self> {
        std::fs::create_dir_all(state_dir)
            .map_err(|e| Error::io(format!("creating {}", state_dir.display()), e))?;
        let path = state_dir.join("lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        if let Some(inherited) = Self::inherited(&path) {
            return Ok(inherited.with_file(file));
        }
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path)
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                return Err(Error::Locked {
                    path,
                    holder: if holder.is_empty() {
                        "unknown".into()
                    } else {
                        holder
                    },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::io(format!("locking {}", path.display()), e));
            }
        }
        let previous = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .trim()
            .to_owned();
        file.set_len(0)
            .and_then(|()| writeln!(file, "pid {} {holder}", std::process::id()))
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        Ok(Self {
            file,
            path,
            recovered: (!previous.is_empty()).then_some(previous),
            inherited: false,
        })
    }

    /// A pipeline's capability step (`orchestrator = ["release", ...]`) runs under the lock its
    /// parent `orchestrator run` holds: the parent names the lock file in
    /// `ORCHESTRATOR_INHERITED_LOCK`, and the child accepts it only when the file records the
    /// parent process as the holder, so no other process can claim a held lock this way.
    #[cfg(unix)]
    fn inherited(path: &Path) -> Option<Inherited> {
        let named = std::env::var_os(crate::pipeline::INHERITED_LOCK_VAR)?;
        if Path::new(&named) != path {
            return None;
        }
        let holder = std::fs::read_to_string(path).ok()?;
        let parent = std::os::unix::process::parent_id();
        holder
            .starts_with(&format!("pid {parent} "))
            .then(|| Inherited {
                path: path.to_owned(),
            })
    }

    #[cfg(not(unix))]
    fn inherited(_path: &Path) -> Option<Inherited> {
        None
    }

    /// Whether this lock is held by the parent process and was handed down to this one.
    pub fn is_inherited(&self) -> bool {
        self.inherited
    }

    /// The holder recorded by a run that died without releasing the lock, if this lock was taken
    /// over from one (its journal is intact; `--resume` continues it).
    pub fn recovered(&self) -> Option<&str> {
        self.recovered.as_deref()
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WorkspaceLock {
    fn drop(&mut self) {
        // A clean release leaves the file empty; content at the next acquire means a crash. An
        // inherited lock is the parent's to release.
        if !self.inherited {
            let _ = self.file.set_len(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_naming_the_holder_until_released() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = WorkspaceLock::acquire(dir.path(), "release 1.2.3").expect("first");
        let err = WorkspaceLock::acquire(dir.path(), "release 1.2.4").expect_err("held");
        assert!(err.to_string().contains("release 1.2.3"), "{err}");
        // Deleting a held lock's file lets a second run start beside the live one: never advise it.
        let message = err.to_string();
        assert!(
            message.contains("released the moment that process exits"),
            "{message}"
        );
        assert!(!message.contains("remove the file"), "{message}");
        assert_eq!(err.exit_code(), 2);
        drop(first);
        let second = WorkspaceLock::acquire(dir.path(), "release 1.2.4").expect("free again");
        assert_eq!(
            second.recovered(),
            None,
            "a clean release is not a recovery"
        );
    }

    #[test]
    fn a_lock_left_by_a_dead_process_is_recovered_and_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        // What a killed holder leaves: its record in a file nobody holds.
        std::fs::write(dir.path().join("lock"), "pid 4242 release 1.0.0\n").expect("write");
        let lock = WorkspaceLock::acquire(dir.path(), "release 1.0.0").expect("recovered");
        assert_eq!(lock.recovered(), Some("pid 4242 release 1.0.0"));
    }
}
