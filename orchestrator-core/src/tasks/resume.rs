//! `tasks run <list> --resume`: which run is continued, which tasks it already finished, and how
//! the records of a run that ran a task more than once read.
//!
//! A resumed run keeps its run id, so `runs show <id>` tells the whole story. Task records are
//! appended, never changed (like the journal): when a resume runs a task again, its new record
//! *supersedes* the earlier one instead of replacing it, and [`task_attempts`] numbers them.
//! [`current_records`] is the run's result: the latest record of each task.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::RUN_KIND;
use crate::error::{Error, Result};
use crate::state::{RunId, StateStore, TaskRecord};

/// Record statuses that prove a task finished successfully, so a resume does not run it again
/// even when the process died before the journal said so (the record is written after the task
/// ends, the journal entry just after that). `cancelled` and `timed_out` are left out: a task
/// stopped by Ctrl-C or its timeout records them too, and running a task again is the safe side
/// of that doubt.
const DONE_STATUSES: [&str; 4] = ["succeeded", "awaiting_approval", "noop", "skipped"];

/// The unfinished run `--resume` continues, and what it already finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResumePoint {
    /// The run.
    pub(crate) run: RunId,
    /// Each finished task and the status it recorded (`done` when no record says).
    pub(crate) done: BTreeMap<String, String>,
}

/// The newest run of `list` when it did not succeed (failed, interrupted, or killed and still
/// marked running), with the tasks it finished. Refuses when the list's task names or their
/// order changed since that run began: a resume finishes the job that was started.
pub(crate) async fn resume_point(
    store: &dyn StateStore,
    list: &str,
    current: &[String],
) -> Result<Option<ResumePoint>> {
    let Some(run) = store.resumable(RUN_KIND, list).await? else {
        return Ok(None);
    };
    let recorded = crate::workspace::params::decode::<super::TasksParams>(&run)
        .map_err(|_| Error::state(format!("run {} recorded no task list", run.id)))?
        .tasks;
    if let Some(change) = list_change(&recorded, current) {
        return Err(Error::invalid_input(format!(
            "--resume: tasks.{list} changed since run {} began ({change}); restore the list to \
             finish run {}, or run without --resume to start a new run",
            run.id, run.id
        )));
    }
    let journaled: BTreeSet<String> = store
        .journal(run.id)
        .await?
        .into_iter()
        .filter(|r| r.entry.completes_step())
        .filter_map(|r| r.entry.step().map(str::to_owned))
        .collect();
    let latest: BTreeMap<String, String> =
        current_records(store.task_records(Some(run.id), usize::MAX).await?)
            .into_iter()
            .map(|r| (r.task, r.status))
            .collect();
    let done = current
        .iter()
        .filter_map(|task| {
            let status = latest.get(task);
            let proven = status.is_some_and(|s| DONE_STATUSES.contains(&s.as_str()));
            (journaled.contains(task) || proven).then(|| {
                let status = status.cloned().unwrap_or_else(|| "done".to_owned());
                (task.clone(), status)
            })
        })
        .collect();
    Ok(Some(ResumePoint { run: run.id, done }))
}

/// How `current` differs from `recorded`, in one line, or `None` when they are the same tasks in
/// the same order.
pub fn list_change(recorded: &[String], current: &[String]) -> Option<String> {
    if recorded == current {
        return None;
    }
    let added: Vec<&str> = current
        .iter()
        .filter(|t| !recorded.contains(t))
        .map(String::as_str)
        .collect();
    let removed: Vec<&str> = recorded
        .iter()
        .filter(|t| !current.contains(t))
        .map(String::as_str)
        .collect();
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!("added {}", added.join(", ")));
    }
    if !removed.is_empty() {
        parts.push(format!("removed {}", removed.join(", ")));
    }
    // The tasks both lists hold, in each list's order: a difference is a reordering.
    let kept_then: Vec<&String> = recorded.iter().filter(|t| current.contains(t)).collect();
    let kept_now: Vec<&String> = current.iter().filter(|t| recorded.contains(t)).collect();
    if kept_then != kept_now {
        let join = |v: &[&String]| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
        parts.push(format!(
            "reordered: was {}, now {}",
            join(&kept_then),
            join(&kept_now)
        ));
    }
    Some(parts.join("; "))
}

/// A task record as `runs show` lists it: which attempt at its task it was, and whether a later
/// attempt in the same run (a `--resume`) superseded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskAttempt {
    /// The record, as stored.
    #[serde(flatten)]
    pub record: TaskRecord,
    /// 1 for the run's first record of this task, 2 for the one a resume made after it...
    pub attempt: u32,
    /// A later record of the same task in the same run replaces this one as the task's result.
    pub superseded: bool,
}

/// One run's records in the order stored, each numbered among its task's attempts.
pub fn task_attempts(records: Vec<TaskRecord>) -> Vec<TaskAttempt> {
    let mut totals: BTreeMap<(RunId, String), u32> = BTreeMap::new();
    for r in &records {
        *totals.entry((r.run_id, r.task.clone())).or_default() += 1;
    }
    let mut seen: BTreeMap<(RunId, String), u32> = BTreeMap::new();
    records
        .into_iter()
        .map(|record| {
            let key = (record.run_id, record.task.clone());
            let attempt = seen.entry(key.clone()).or_default();
            *attempt += 1;
            TaskAttempt {
                attempt: *attempt,
                superseded: *attempt < totals[&key],
                record,
            }
        })
        .collect()
}

/// The latest record of each task of each run (what the run's result is), in the order each
/// task first appears; superseded records are left out.
pub fn current_records(records: Vec<TaskRecord>) -> Vec<TaskRecord> {
    let mut out: Vec<TaskRecord> = Vec::new();
    for record in records {
        match out
            .iter_mut()
            .find(|r| r.run_id == record.run_id && r.task == record.task)
        {
            Some(slot) => *slot = record,
            None => out.push(record),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{JournalEntry, MemoryStateStore, RunStatus};

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    fn record(run: RunId, task: &str, status: &str) -> TaskRecord {
        TaskRecord {
            task: task.into(),
            run_id: run,
            status: status.into(),
            started_at: "2026-01-01T00:00:00.000Z".into(),
            finished_at: "2026-01-01T00:00:01.000Z".into(),
            duration_ms: 1000,
            outputs_uri: None,
            approval_state: None,
            log_excerpt: String::new(),
        }
    }

    #[test]
    fn list_change_names_added_removed_and_reordered_tasks() {
        let was = names(&["a", "b", "c"]);
        assert_eq!(list_change(&was, &was), None);
        assert_eq!(
            list_change(&was, &names(&["a", "b", "c", "d"])).as_deref(),
            Some("added d")
        );
        assert_eq!(
            list_change(&was, &names(&["a", "c"])).as_deref(),
            Some("removed b")
        );
        assert_eq!(
            list_change(&was, &names(&["c", "a", "b"])).as_deref(),
            Some("reordered: was a, b, c, now c, a, b")
        );
        assert_eq!(
            list_change(&was, &names(&["x", "c", "a"])).as_deref(),
            Some("added x; removed b; reordered: was a, c, now c, a")
        );
    }

    #[test]
    fn a_resumed_task_supersedes_its_earlier_record() {
        let records = vec![
            record(1, "a", "succeeded"),
            record(1, "b", "failed"),
            record(1, "c", "succeeded"),
            record(1, "b", "cancelled"),
            record(1, "b", "succeeded"),
        ];
        let attempts = task_attempts(records.clone());
        let shape: Vec<(&str, u32, bool)> = attempts
            .iter()
            .map(|a| (a.record.task.as_str(), a.attempt, a.superseded))
            .collect();
        assert_eq!(
            shape,
            [
                ("a", 1, false),
                ("b", 1, true),
                ("c", 1, false),
                ("b", 2, true),
                ("b", 3, false),
            ]
        );
        let current: Vec<(String, String)> = current_records(records)
            .into_iter()
            .map(|r| (r.task, r.status))
            .collect();
        assert_eq!(
            current,
            [
                ("a".into(), "succeeded".into()),
                ("b".into(), "succeeded".into()),
                ("c".into(), "succeeded".into()),
            ]
        );
        let json = serde_json::to_value(&attempts[1]).expect("json");
        assert_eq!(json["task"], "b");
        assert_eq!(json["attempt"], 1);
        assert_eq!(json["superseded"], true);
    }

    #[tokio::test]
    async fn resume_point_is_the_newest_unfinished_run_and_what_it_finished() {
        let store = MemoryStateStore::default();
        let list = names(&["a", "b", "c", "d"]);
        assert_eq!(
            resume_point(&store, "nightly", &list).await.expect("query"),
            None
        );
        let params = serde_json::json!({ "list": "nightly", "tasks": list });
        let run = store
            .begin_run(RUN_KIND, "nightly", &params)
            .await
            .expect("begin");
        // a: journaled done. b: failed. c: recorded as done, killed before the journal said so.
        // d: never started.
        for entry in [
            JournalEntry::StepStarted { step: "a".into() },
            JournalEntry::StepSucceeded {
                step: "a".into(),
                summary: "awaiting_approval".into(),
                data: serde_json::Value::Null,
            },
            JournalEntry::StepStarted { step: "b".into() },
            JournalEntry::StepFailed {
                step: "b".into(),
                error: "exit 3".into(),
            },
            JournalEntry::StepStarted { step: "c".into() },
        ] {
            store.append(run, &entry).await.expect("append");
        }
        for r in [
            record(run, "a", "awaiting_approval"),
            record(run, "b", "failed"),
            record(run, "c", "succeeded"),
        ] {
            store.record_task(&r).await.expect("record");
        }
        let point = resume_point(&store, "nightly", &list)
            .await
            .expect("query")
            .expect("an unfinished run");
        assert_eq!(point.run, run);
        assert_eq!(
            point.done.into_iter().collect::<Vec<_>>(),
            [
                ("a".to_owned(), "awaiting_approval".to_owned()),
                ("c".to_owned(), "succeeded".to_owned()),
            ]
        );
        // Another list's runs are not this one's.
        assert_eq!(
            resume_point(&store, "weekly", &list).await.expect("query"),
            None
        );

        let err = resume_point(&store, "nightly", &names(&["a", "b", "d"]))
            .await
            .expect_err("a changed list is refused");
        assert!(err.is_bad_input(), "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "--resume: tasks.nightly changed since run {run} began (removed c); restore the \
                 list to finish run {run}, or run without --resume to start a new run"
            )
        );

        // Once the newest run succeeded there is nothing to resume.
        store
            .set_status(run, RunStatus::Succeeded)
            .await
            .expect("status");
        assert_eq!(
            resume_point(&store, "nightly", &list).await.expect("query"),
            None
        );
    }
}
