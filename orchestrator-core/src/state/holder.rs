//! Who holds a lock or a run, and the guard of a held workspace lock.
//!
//! A holder is recorded with every lock and claim so a refused runner can say who it waits for
//! (host, pid, what it runs), and so a store can tell a live holder from a dead one.

use serde::{Deserialize, Serialize};

use super::WorkspaceLock;

/// A runner: the process (host and pid) and what it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The host name of the runner's machine.
    pub host: String,
    /// The runner's process id on that host.
    pub pid: u32,
    /// What it runs, e.g. `publish` or `release 1.2.3`.
    pub what: String,
}

impl Holder {
    /// This process, running `what`.
    pub fn current(what: impl Into<String>) -> Self {
        Self {
            host: host_name(),
            pid: std::process::id(),
            what: what.into(),
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} on {} ({})", self.pid, self.host, self.what)
    }
}

/// This machine's host name (`/proc/sys/kernel/hostname`, else `$HOSTNAME`, else `localhost`):
/// in a Kubernetes pod or a CI container it names the pod or the runner.
pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Whether process `pid` on this host is alive (signal 0: exists, whoever owns it).
pub(crate) fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Some(pid) = i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            return false;
        };
        match rustix::process::test_kill_process(pid) {
            Ok(()) => true,
            // It exists but belongs to someone else.
            Err(e) => e == rustix::io::Errno::PERM,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// The held workspace lock; dropping it releases the lock.
#[derive(Debug)]
pub struct LockGuard {
    kind: GuardKind,
}

#[derive(Debug)]
pub(crate) enum GuardKind {
    /// `flock` on `<state dir>/lock` (SQLite).
    File(WorkspaceLock),
    /// An advisory lock held by a database session of its own: dropping the guard closes the
    /// session, which releases the lock (as the death of the process does).
    Session(tokio::task::JoinHandle<()>),
    /// An in-process lock (the memory store); the closure releases it.
    Memory(MemoryRelease),
}

/// Releases an in-process lock once.
pub(crate) struct MemoryRelease(pub(crate) Option<Box<dyn FnOnce() + Send + Sync>>);

impl std::fmt::Debug for MemoryRelease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryRelease")
    }
}

impl LockGuard {
    pub(crate) fn new(kind: GuardKind) -> Self {
        Self { kind }
    }

    /// The holder recorded by a run that died without releasing a file lock, when this lock was
    /// taken over from one (its journal is intact; `--resume` continues it).
    pub fn recovered(&self) -> Option<&str> {
        match &self.kind {
            GuardKind::File(lock) => lock.recovered(),
            _ => None,
        }
    }

    /// The file lock, when the lock is one (SQLite workspaces): pipelines hand it down to the
    /// capability steps they run.
    pub fn file_lock(&self) -> Option<&WorkspaceLock> {
        match &self.kind {
            GuardKind::File(lock) => Some(lock),
            _ => None,
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        match &mut self.kind {
            GuardKind::File(_) => {}
            GuardKind::Session(task) => task.abort(),
            GuardKind::Memory(release) => {
                if let Some(release) = release.0.take() {
                    release();
                }
            }
        }
    }
}
