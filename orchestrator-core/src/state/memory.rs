//! A state store in memory, for tests and embedders that keep their own durability.

use std::sync::Mutex;

use super::{
    JournalEntry, JournalRecord, RunId, RunStatus, RunSummary, StateStore, TaskRecord, now_ms,
};
use crate::error::{Error, Result};

/// Runs and journals in a `Vec` behind a lock; lost when dropped.
#[derive(Debug, Default)]
pub struct MemoryStateStore {
    runs: Mutex<Vec<(RunSummary, Vec<JournalRecord>)>>,
    tasks: Mutex<Vec<TaskRecord>>,
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

    fn run(&self, run: RunId) -> Result<Option<RunSummary>> {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        Ok(runs
            .iter()
            .find(|(r, _)| r.id == run)
            .map(|(r, _)| r.clone()))
    }

    fn record_task(&self, record: &TaskRecord) -> Result<()> {
        self.tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(record.clone());
        Ok(())
    }

    fn task_records(&self, run: Option<RunId>, limit: usize) -> Result<Vec<TaskRecord>> {
        let tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<TaskRecord> = match run {
            Some(run) => tasks.iter().filter(|t| t.run_id == run).cloned().collect(),
            None => {
                let mut all: Vec<(usize, &TaskRecord)> = tasks.iter().enumerate().collect();
                all.sort_by_key(|(i, t)| (std::cmp::Reverse(t.run_id), *i));
                all.into_iter().map(|(_, t)| t.clone()).collect()
            }
        };
        out.truncate(limit);
        Ok(out)
    }
}
