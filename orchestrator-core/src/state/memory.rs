//! A state store in memory, for tests and embedders that keep their own durability.

use std::sync::Mutex;

use super::{JournalEntry, JournalRecord, RunId, RunStatus, RunSummary, StateStore, now_ms};
use crate::error::{Error, Result};

/// Runs and journals in a `Vec` behind a lock; lost when dropped.
#[derive(Debug, Default)]
pub struct MemoryStateStore {
    runs: Mutex<Vec<(RunSummary, Vec<JournalRecord>)>>,
}

impl MemoryStateStore {
    fn with_run<T>(
        &self,
        run: RunId,
        f: impl FnOnce(&mut (RunSummary, Vec<JournalRecord>)) -> T,
    ) -> Result<T> {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.iter_mut()
            .find(|(r, _)| r.id == run)
            .map(f)
            .ok_or_else(|| Error::NotFound {
                what: format!("run {run}"),
            })
    }
}

impl StateStore for MemoryStateStore {
    fn begin_run(&self, kind: &str, key: &str, params: &serde_json::Value) -> Result<RunId> {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        let id = runs.len() as RunId + 1;
        runs.push((
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
        Ok(id)
    }

    fn append(&self, run: RunId, entry: &JournalEntry) -> Result<()> {
        self.with_run(run, |(_, journal)| {
            let seq = journal.len() as u64 + 1;
            journal.push(JournalRecord {
                seq,
                at_ms: now_ms(),
                entry: entry.clone(),
            });
        })
    }

    fn journal(&self, run: RunId) -> Result<Vec<JournalRecord>> {
        self.with_run(run, |(_, journal)| journal.clone())
    }

    fn set_status(&self, run: RunId, status: RunStatus) -> Result<()> {
        self.with_run(run, |(summary, _)| {
            summary.status = status;
            summary.finished_at_ms = (status != RunStatus::Running).then(now_ms);
        })
    }

    fn runs(&self, kind: Option<&str>, key: Option<&str>, limit: usize) -> Result<Vec<RunSummary>> {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        Ok(runs
            .iter()
            .rev()
            .map(|(r, _)| r)
            .filter(|r| kind.is_none_or(|k| r.kind == k) && key.is_none_or(|k| r.key == k))
            .take(limit)
            .cloned()
            .collect())
    }
}
