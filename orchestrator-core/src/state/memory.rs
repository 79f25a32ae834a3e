//! A state store in memory, for tests and embedders that keep their own durability.
//!
//! It models runners as sessions so that the coordination contract (locks, claims, interrupted
//! runs) can be exercised without a database: [`MemoryStateStore::peer`] opens another runner on
//! the same state, and dropping a store ends its session the way a killed process ends its
//! database session.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::holder::{GuardKind, MemoryRelease};
use super::{
    Holder, JournalEntry, JournalRecord, LockGuard, RunId, RunStatus, RunSummary, StateStore,
    TaskRecord, now_ms,
};
use crate::error::{Error, Result};

/// Runs and journals in a `Vec` behind a lock; lost when the last of its runners is dropped.
#[derive(Debug)]
pub struct MemoryStateStore {
    shared: Arc<Shared>,
    session: u64,
}

#[derive(Debug, Default)]
struct Shared {
    data: Mutex<Data>,
    next_session: AtomicU64,
}

#[derive(Debug, Default)]
struct Data {
    runs: Vec<(RunSummary, Vec<JournalRecord>)>,
    tasks: Vec<TaskRecord>,
    /// Run → the session claiming it and who that is.
    claims: HashMap<RunId, (u64, Holder)>,
    live: HashSet<u64>,
    lock: Option<(u64, Holder)>,
}

fn lock(m: &Mutex<Data>) -> MutexGuard<'_, Data> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Default for MemoryStateStore {
    fn default() -> Self {
        Self::with_shared(Arc::new(Shared::default()))
    }
}

impl MemoryStateStore {
    fn with_shared(shared: Arc<Shared>) -> Self {
        let session = shared.next_session.fetch_add(1, Ordering::SeqCst);
        lock(&shared.data).live.insert(session);
        Self { shared, session }
    }

    /// Another runner on the same state (as a second process on one database would be): it
    /// sees the same runs, and its claims and locks are its own and end when it is dropped.
    pub fn peer(&self) -> Self {
        Self::with_shared(self.shared.clone())
    }

    fn data(&self) -> MutexGuard<'_, Data> {
        lock(&self.shared.data)
    }

    fn with_run<T>(
        &self,
        run: RunId,
        f: impl FnOnce(&mut (RunSummary, Vec<JournalRecord>)) -> T,
    ) -> Result<T> {
        let mut data = self.data();
        data.runs
            .iter_mut()
            .find(|(r, _)| r.id == run)
            .map(f)
            .ok_or_else(|| Error::NotFound {
                what: format!("run {run}"),
            })
    }
}

impl Drop for MemoryStateStore {
    fn drop(&mut self) {
        let mut data = self.data();
        data.live.remove(&self.session);
        let session = self.session;
        data.claims.retain(|_, (s, _)| *s != session);
        if data.lock.as_ref().is_some_and(|(s, _)| *s == session) {
            data.lock = None;
        }
    }
}

impl Data {
    /// The summary as reported: `running` without a live claim reads `interrupted`.
    fn reported(&self, summary: &RunSummary) -> RunSummary {
        let mut summary = summary.clone();
        if summary.status == RunStatus::Running
            && !self
                .claims
                .get(&summary.id)
                .is_some_and(|(s, _)| self.live.contains(s))
        {
            summary.status = RunStatus::Interrupted;
        }
        summary
    }
}

#[async_trait]
impl StateStore for MemoryStateStore {
    async fn begin_run(&self, kind: &str, key: &str, params: &serde_json::Value) -> Result<RunId> {
        let mut data = self.data();
        let id = data.runs.len() as RunId + 1;
        data.runs.push((
            RunSummary {
                id,
                kind: kind.to_owned(),
                key: key.to_owned(),
                status: RunStatus::Running,
                params: params.clone(),
                started_at_ms: now_ms(),
                finished_at_ms: None,
            },
            Vec::new(),
        ));
        data.claims
            .insert(id, (self.session, Holder::current(format!("{kind} {key}"))));
        Ok(id)
    }

    async fn append(&self, run: RunId, entry: &JournalEntry) -> Result<()> {
        self.with_run(run, |(_, journal)| {
            let seq = journal.len() as u64 + 1;
            journal.push(JournalRecord {
                seq,
                at_ms: now_ms(),
                entry: entry.clone(),
            });
        })
    }

    async fn journal(&self, run: RunId) -> Result<Vec<JournalRecord>> {
        self.with_run(run, |(_, journal)| journal.clone())
    }

    async fn set_status(&self, run: RunId, status: RunStatus) -> Result<()> {
        self.with_run(run, |(summary, _)| {
            summary.status = status;
            summary.finished_at_ms = (status != RunStatus::Running).then(now_ms);
        })?;
        if status != RunStatus::Running {
            let session = self.session;
            let mut data = self.data();
            if data.claims.get(&run).is_some_and(|(s, _)| *s == session) {
                data.claims.remove(&run);
            }
        }
        Ok(())
    }

    async fn runs(
        &self,
        kind: Option<&str>,
        key: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RunSummary>> {
        let data = self.data();
        Ok(data
            .runs
            .iter()
            .rev()
            .map(|(r, _)| r)
            .filter(|r| kind.is_none_or(|k| r.kind == k) && key.is_none_or(|k| r.key == k))
            .take(limit)
            .map(|r| data.reported(r))
            .collect())
    }

    async fn run(&self, run: RunId) -> Result<Option<RunSummary>> {
        let data = self.data();
        Ok(data
            .runs
            .iter()
            .find(|(r, _)| r.id == run)
            .map(|(r, _)| data.reported(r)))
    }

    async fn record_task(&self, record: &TaskRecord) -> Result<()> {
        self.data().tasks.push(record.clone());
        Ok(())
    }

    async fn task_records(&self, run: Option<RunId>, limit: usize) -> Result<Vec<TaskRecord>> {
        let data = self.data();
        let mut out: Vec<TaskRecord> = match run {
            Some(run) => data
                .tasks
                .iter()
                .filter(|t| t.run_id == run)
                .cloned()
                .collect(),
            None => {
                let mut all: Vec<(usize, &TaskRecord)> = data.tasks.iter().enumerate().collect();
                all.sort_by_key(|(i, t)| (std::cmp::Reverse(t.run_id), *i));
                all.into_iter().map(|(_, t)| t.clone()).collect()
            }
        };
        out.truncate(limit);
        Ok(out)
    }

    async fn claim_run(&self, run: RunId, holder: &Holder) -> Result<()> {
        let mut data = self.data();
        if !data.runs.iter().any(|(r, _)| r.id == run) {
            return Err(Error::NotFound {
                what: format!("run {run}"),
            });
        }
        if let Some((session, current)) = data.claims.get(&run)
            && *session != self.session
            && data.live.contains(session)
        {
            return Err(Error::Busy {
                what: format!("run {run}"),
                holder: current.to_string(),
            });
        }
        data.claims.insert(run, (self.session, holder.clone()));
        Ok(())
    }

    async fn claim_holder(&self, run: RunId) -> Result<Option<Holder>> {
        let data = self.data();
        Ok(data
            .claims
            .get(&run)
            .filter(|(s, _)| data.live.contains(s))
            .map(|(_, h)| h.clone()))
    }

    async fn lock_workspace(&self, holder: &Holder) -> Result<LockGuard> {
        let mut data = self.data();
        if let Some((_, current)) = &data.lock {
            return Err(Error::Busy {
                what: "the workspace lock (in memory)".into(),
                holder: current.to_string(),
            });
        }
        data.lock = Some((self.session, holder.clone()));
        let shared = self.shared.clone();
        let session = self.session;
        Ok(LockGuard::new(GuardKind::Memory(MemoryRelease(Some(
            Box::new(move || {
                let mut data = lock(&shared.data);
                if data.lock.as_ref().is_some_and(|(s, _)| *s == session) {
                    data.lock = None;
                }
            }),
        )))))
    }
}
