//! One fault-injecting wrapper for every state store, for crash harnesses.
//!
//! The harshest crash is the one right before a journal write: the effect the entry announces
//! may or may not have happened, and the next run must find out. [`FaultyStateStore`] produces it
//! deterministically at the k-th append on any backend (memory, SQLite, PostgreSQL), either as a
//! simulated death (every write from then on fails) or by running a hook there (the CLI's
//! harness kills or signals its own process).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;

use super::{
    Holder, JournalEntry, JournalRecord, LockGuard, RunId, RunStatus, RunSummary, StateStore,
    TaskRecord,
};
use crate::error::{Error, Result};

/// What happens at the chosen journal append.
#[derive(Clone)]
pub enum Fault {
    /// The process "dies" just before its k-th append (1-based): that write and every later
    /// write fail; reads still work (the next process reads the same store).
    CrashAtAppend(usize),
    /// The hook runs just before the k-th append (it may kill or signal the process); then the
    /// append goes through.
    HookAtAppend(usize, Arc<dyn Fn() + Send + Sync>),
}

impl std::fmt::Debug for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::CrashAtAppend(k) => write!(f, "CrashAtAppend({k})"),
            Fault::HookAtAppend(k, _) => write!(f, "HookAtAppend({k})"),
        }
    }
}

/// Passes everything to `inner`, except the [`Fault`] at the chosen append.
#[derive(Debug)]
pub struct FaultyStateStore {
    inner: Arc<dyn StateStore>,
    fault: Fault,
    appends: AtomicUsize,
    crashed: AtomicBool,
}

impl FaultyStateStore {
    /// Wraps `inner` with `fault`.
    pub fn new(inner: Arc<dyn StateStore>, fault: Fault) -> Self {
        Self {
            inner,
            fault,
            appends: AtomicUsize::new(0),
            crashed: AtomicBool::new(false),
        }
    }

    /// A store whose process "dies" before its k-th append.
    pub fn crash_at_append(inner: Arc<dyn StateStore>, k: usize) -> Self {
        Self::new(inner, Fault::CrashAtAppend(k))
    }

    /// The appends attempted so far.
    pub fn appends(&self) -> usize {
        self.appends.load(Ordering::SeqCst)
    }

    /// Whether the simulated crash happened.
    pub fn crashed(&self) -> bool {
        self.crashed.load(Ordering::SeqCst)
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<dyn StateStore> {
        &self.inner
    }

    fn check_alive(&self) -> Result<()> {
        if self.crashed() {
            return Err(Error::state("simulated crash: the process is dead"));
        }
        Ok(())
    }
}

#[async_trait]
impl StateStore for FaultyStateStore {
    async fn begin_run(&self, kind: &str, key: &str, params: &serde_json::Value) -> Result<RunId> {
        self.check_alive()?;
        self.inner.begin_run(kind, key, params).await
    }

    async fn append(&self, run: RunId, entry: &JournalEntry) -> Result<()> {
        let n = self.appends.fetch_add(1, Ordering::SeqCst) + 1;
        match &self.fault {
            Fault::CrashAtAppend(k) if n >= *k => {
                self.crashed.store(true, Ordering::SeqCst);
                return Err(Error::state(format!(
                    "simulated crash at journal write {n}"
                )));
            }
            Fault::HookAtAppend(k, hook) if n == *k => hook(),
            _ => {}
        }
        self.check_alive()?;
        self.inner.append(run, entry).await
    }

    async fn journal(&self, run: RunId) -> Result<Vec<JournalRecord>> {
        self.inner.journal(run).await
    }

    async fn set_status(&self, run: RunId, status: RunStatus) -> Result<()> {
        self.check_alive()?;
        self.inner.set_status(run, status).await
    }

    async fn runs(
        &self,
        kind: Option<&str>,
        key: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RunSummary>> {
        self.inner.runs(kind, key, limit).await
    }

    async fn run(&self, run: RunId) -> Result<Option<RunSummary>> {
        self.inner.run(run).await
    }

    async fn record_task(&self, record: &TaskRecord) -> Result<()> {
        self.check_alive()?;
        self.inner.record_task(record).await
    }

    async fn task_records(&self, run: Option<RunId>, limit: usize) -> Result<Vec<TaskRecord>> {
        self.inner.task_records(run, limit).await
    }

    async fn claim_run(&self, run: RunId, holder: &Holder) -> Result<()> {
        self.check_alive()?;
        self.inner.claim_run(run, holder).await
    }

    async fn claim_holder(&self, run: RunId) -> Result<Option<Holder>> {
        self.inner.claim_holder(run).await
    }

    async fn lock_workspace(&self, holder: &Holder) -> Result<LockGuard> {
        self.check_alive()?;
        self.inner.lock_workspace(holder).await
    }
}
