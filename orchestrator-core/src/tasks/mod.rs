//! `orchestrator tasks`: a scheduled list of gated tasks with a stored record per task (seed
//! 003's nightly orchestrator).
//!
//! [`plan_tasks`] decides each task of a list (its `enabled` gate, `--skip`, `SKIP_TASKS`) and
//! checks each program exists; [`TaskRunner::execute`] runs the list on the engine (one task at
//! a time; a failed task does not stop the others) and stores a [`TaskRecord`] per task,
//! skipped ones included. Each task's output is scanned for `outputs_uri=` (else the first
//! pull-request URL) and its final status word (`succeeded`, `awaiting_approval`, `failed`...).
//!
//! With [`TasksRequest::resume`], the plan continues the newest unfinished run of the list (see
//! [`resume`]): the tasks it finished keep their records and do not run again; the others run
//! under the same run id, their new records superseding the old.

pub mod config;
pub mod resume;
pub mod scan;

pub use resume::{TaskAttempt, current_records, list_change, task_attempts};
pub use scan::{EXCERPT_LINES, STATUS_WORDS, TaskOutputScan};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use serde::Serialize;

use crate::config::Config;
use crate::engine::{CancelToken, EngineOptions, Observer, Plan, PlannedStep};
use crate::error::{Error, Result};
use crate::pipeline::{CommandSpec, ResolvedEnv, run_command_scanned};
use crate::state::{RunId, RunStatus, StateStore, TaskRecord, now_ms};
use crate::step::{Check, Step, StepContext, StepOutput};
use crate::workspace::{JournaledRunner, RunStart};
use resume::resume_point;

/// The run kind under which task-list runs are journaled (the key is the list's name).
pub const RUN_KIND: &str = "tasks";

/// What a task-list run records (see [`crate::workspace::params`]): the task names in order,
/// which a later `--resume` checks the list against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TasksParams {
    /// The list.
    #[serde(default)]
    pub list: String,
    /// Its tasks, in order.
    pub tasks: Vec<String>,
}

impl crate::workspace::params::RunParams for TasksParams {
    const KIND: &'static str = RUN_KIND;
    const VERSION: u32 = 1;
}

/// Grace between SIGTERM and SIGKILL for tasks.
const TASK_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TasksRequest {
    /// The list's name (`[[tasks.<list>]]`).
    pub list: String,
    /// Task names to skip (`--skip`), on top of `SKIP_TASKS`.
    pub skip: Vec<String>,
    /// Continue the newest unfinished run of the list (a new run when there is none).
    pub resume: bool,
}

/// One task in a plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedTask {
    /// Its name.
    pub name: String,
    /// It runs (else it is recorded as skipped).
    pub runs: bool,
    /// Why: `enabled: ENABLE_INFRA_SCALE=1`, `gate ENABLE_INFRA_SCALE=1 is off (unset)`, `--skip`...
    pub reason: String,
    /// The command line, secrets masked.
    pub command: String,
    /// Set on `--resume` when the run being resumed finished this task: the status it recorded.
    /// The task does not run again (whatever `runs` says) and its record stays as it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub done: Option<String>,
    #[serde(skip)]
    spec: CommandSpec,
}

/// A validated task-list run; nothing has run yet.
#[derive(Debug, Clone, Serialize)]
pub struct TasksPlan {
    /// The list.
    pub list: String,
    /// Every task, in order.
    pub tasks: Vec<PlannedTask>,
    /// The run being resumed; `None` for a new run (also on `--resume` with nothing unfinished).
    pub resume_run: Option<RunId>,
}

impl TasksPlan {
    /// The tasks the run being resumed finished; they do not run again.
    pub fn done(&self) -> impl Iterator<Item = &PlannedTask> {
        self.tasks.iter().filter(|t| t.done.is_some())
    }
}

/// Decides each task of the list and checks each program that will run exists. Changes nothing:
/// this is `--dry-run`.
///
/// With `request.resume`, `store` is asked for the newest unfinished run of the list: its
/// finished tasks are marked [`PlannedTask::done`], and a list whose task names or order changed
/// since that run began is refused (bad input). Plan under the workspace lock when the plan is
/// to be executed, so the journal cannot move in between.
pub async fn plan_tasks(
    config: &Config,
    request: &TasksRequest,
    process: BTreeMap<String, String>,
    store: &dyn StateStore,
) -> Result<TasksPlan> {
    let tasks = config.tasks.get(&request.list).ok_or_else(|| {
        let known: Vec<&str> = config.tasks.keys().map(String::as_str).collect();
        Error::invalid_input(format!(
            "unknown task list {:?} (configured: {})",
            request.list,
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        ))
    })?;
    let env = ResolvedEnv::from_process(process);
    let from_env: Vec<String> = env
        .get("SKIP_TASKS")
        .map(|v| {
            v.split([',', ' '])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    for name in &request.skip {
        if !tasks.iter().any(|t| &t.name == name) {
            let known: Vec<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
            return Err(Error::invalid_input(format!(
                "unknown task {name:?} in --skip (tasks.{}: {})",
                request.list,
                known.join(", ")
            )));
        }
    }
    let resume = if request.resume {
        let names: Vec<String> = tasks.iter().map(|t| t.name.clone()).collect();
        resume_point(store, &request.list, &names).await?
    } else {
        None
    };
    let mut planned = Vec::new();
    let mut problems = Vec::new();
    for task in tasks {
        let done = resume
            .as_ref()
            .and_then(|r| r.done.get(&task.name).cloned());
        let (runs, reason) = if request.skip.contains(&task.name) {
            (false, "skipped by --skip".to_owned())
        } else if from_env.contains(&task.name) {
            (false, "skipped by SKIP_TASKS".to_owned())
        } else if let Some(gate) = &task.enabled {
            let value = env.get(&gate.var);
            if gate.holds(value) {
                (true, format!("enabled: {gate}"))
            } else {
                let shown = match env.display_value(&gate.var) {
                    Some(v) => format!("{}={v}", gate.var),
                    None => format!("{} unset", gate.var),
                };
                (false, format!("gate {gate} is off ({shown})"))
            }
        } else {
            (true, "always".to_owned())
        };
        // A task the resumed run finished will not run: its env and program need not be valid.
        let checked = runs && done.is_none();
        let mut vars = env.vars();
        for (k, v) in &task.env {
            match env.expand(v) {
                Ok(value) => {
                    vars.insert(k.clone(), value);
                }
                Err(e) if done.is_none() => problems.push(format!("task {}: {e}", task.name)),
                Err(_) => {}
            }
        }
        let workdir = task.workdir.clone().unwrap_or_else(|| config.root.clone());
        let mut program = PathBuf::from(&task.run[0]);
        if checked {
            match crate::pipeline::find_program(
                &task.run[0],
                &config.root,
                vars.get("PATH").map(String::as_str),
            ) {
                Ok(p) => program = p,
                Err(e) => problems.push(format!("task {}: {e}", task.name)),
            }
        }
        // The task's own secret-named env (a `DX_TOKEN` set in `env`) is masked too.
        let redactor = env.redactor(task.env.keys().filter_map(|k| vars.get_key_value(k)));
        let spec = CommandSpec {
            program,
            args: task.run[1..].to_vec(),
            env: vars,
            workdir,
            timeout: task.timeout,
            grace: TASK_GRACE,
            redactor: Arc::new(redactor),
        };
        let command = CommandSpec {
            program: PathBuf::from(&task.run[0]),
            ..spec.clone()
        }
        .display();
        planned.push(PlannedTask {
            name: task.name.clone(),
            runs,
            reason,
            command,
            done,
            spec,
        });
    }
    if !problems.is_empty() {
        return Err(Error::invalid_input(format!(
            "tasks.{}: {}; nothing was run",
            request.list,
            problems.join("; ")
        )));
    }
    Ok(TasksPlan {
        list: request.list.clone(),
        tasks: planned,
        resume_run: resume.map(|r| r.run),
    })
}

/// The `outputs_uri=` a task printed (the last one), else the first pull-request URL.
pub fn extract_outputs_uri<S: AsRef<str>>(lines: &[S]) -> Option<String> {
    scan_all(lines).outputs_uri()
}

/// The task's final status: the last status word it printed on a line of its own; a non-zero
/// exit is `failed` whatever it printed; otherwise `succeeded`.
pub fn extract_status<S: AsRef<str>>(lines: &[S], success: bool) -> String {
    scan_all(lines).status(success)
}

fn scan_all<S: AsRef<str>>(lines: &[S]) -> TaskOutputScan {
    let mut scan = TaskOutputScan::new();
    for line in lines {
        scan.line(line.as_ref());
    }
    scan
}

/// Milliseconds since the epoch as `2026-01-31T23:59:59.123Z` (see [`crate::time`]).
pub fn format_utc_ms(ms: i64) -> String {
    crate::time::format_utc_ms(ms)
}

/// Runs one task (or records it as skipped) and stores its record.
#[derive(Debug)]
struct TaskStep {
    task: PlannedTask,
    run: RunId,
    store: Arc<dyn StateStore>,
}

impl TaskStep {
    fn record(&self, status: &str, started: i64, excerpt: String) -> TaskRecord {
        let finished = now_ms();
        TaskRecord {
            task: self.task.name.clone(),
            run_id: self.run,
            status: status.to_owned(),
            started_at: format_utc_ms(started),
            finished_at: format_utc_ms(finished),
            duration_ms: finished - started,
            outputs_uri: None,
            approval_state: None,
            log_excerpt: excerpt,
        }
    }
}

#[async_trait]
impl Step for TaskStep {
    fn id(&self) -> &str {
        &self.task.name
    }

    fn describe(&self) -> String {
        if let Some(status) = &self.task.done {
            format!("done in an earlier attempt: {status}")
        } else if self.task.runs {
            self.task.command.clone()
        } else {
            format!("skip: {}", self.task.reason)
        }
    }

    async fn check(&self, _ctx: &StepContext) -> Result<Check> {
        // The planner read the run's journal and records under the workspace lock: a task whose
        // record proves it finished is done even when the journal missed saying so.
        Ok(match &self.task.done {
            Some(status) => Check::Done(format!("recorded {status} in an earlier attempt")),
            None => Check::Pending(self.describe()),
        })
    }

    fn handles_cancellation(&self) -> bool {
        true
    }

    async fn apply(&self, ctx: &StepContext) -> Result<StepOutput> {
        let started = now_ms();
        if !self.task.runs {
            let record = self.record("skipped", started, self.task.reason.clone());
            self.store.record_task(&record).await?;
            return Ok(StepOutput {
                summary: format!("skipped: {}", self.task.reason),
                data: serde_json::to_value(&record).unwrap_or_default(),
            });
        }
        let mut scan = TaskOutputScan::new();
        let outcome = match run_command_scanned(&self.task.spec, ctx, &mut |l| scan.line(l)).await {
            Ok(o) => o,
            Err(Error::Cancelled) => {
                let record = self.record("cancelled", started, "interrupted".into());
                self.store.record_task(&record).await?;
                return Err(Error::Cancelled);
            }
            Err(e) => return Err(e),
        };
        let status = if outcome.timed_out {
            "timed_out".to_owned()
        } else {
            scan.status(outcome.success())
        };
        let mut record = self.record(&status, started, scan.excerpt());
        record.outputs_uri = scan.outputs_uri();
        record.approval_state = (status == "awaiting_approval").then(|| "pending".to_owned());
        self.store.record_task(&record).await?;
        if !outcome.success() {
            return Err(Error::CommandFailed {
                command: self.task.command.clone(),
                status: outcome.status_text(self.task.spec.timeout),
                tail: outcome.tail,
            });
        }
        if status == "failed" {
            return Err(Error::CommandFailed {
                command: self.task.command.clone(),
                status: "exited 0 but reported failed".into(),
                tail: outcome.tail,
            });
        }
        Ok(StepOutput {
            summary: match &record.outputs_uri {
                Some(uri) => format!("{status}: {uri}"),
                None => status.clone(),
            },
            data: serde_json::to_value(&record).unwrap_or_default(),
        })
    }
}

/// The result of a task-list run.
#[derive(Debug, Clone, Serialize)]
pub struct TasksReport {
    /// The run in the state store.
    pub run_id: RunId,
    /// The list.
    pub list: String,
    /// `succeeded` when no task failed.
    pub status: RunStatus,
    /// This run continued an unfinished one (`run_id` is that run's).
    pub resumed: bool,
    /// Tasks finished before this attempt and not run again; their records are from then.
    pub kept: Vec<String>,
    /// The current record of each task, in order (a task's latest; superseded ones are in
    /// `runs show`).
    pub records: Vec<TaskRecord>,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
}

/// Runs task lists; embed it with your own `StateStore`.
#[derive(Debug, Clone)]
pub struct TaskRunner {
    runner: JournaledRunner,
}

impl TaskRunner {
    /// A runner storing records in `store`.
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        Self {
            runner: JournaledRunner::new(store),
        }
    }

    /// Sends progress and task output to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.runner.observer = observer;
        self
    }

    /// Stops when `cancel` is cancelled.
    pub fn with_cancel(mut self, cancel: CancelToken) -> Self {
        self.runner.cancel = cancel;
        self
    }

    /// Runs every task of `plan` in order, recording each; failures do not stop later tasks.
    ///
    /// A plan with [`TasksPlan::resume_run`] continues that run: tasks marked done are not run
    /// again, the others run and append records that supersede their earlier ones.
    pub async fn execute(&self, plan: &TasksPlan) -> Result<TasksReport> {
        let started = Instant::now();
        // The task names, in order: what a later `--resume` checks the list against.
        let start = RunStart::resume_or_new(plan.resume_run, &plan.list, || TasksParams {
            list: plan.list.clone(),
            tasks: plan.tasks.iter().map(|t| t.name.clone()).collect(),
        })?;
        let store = self.runner.store().clone();
        let run = self.runner.open(start).await?;
        let steps = plan
            .tasks
            .iter()
            .map(|t| PlannedStep {
                step: Arc::new(TaskStep {
                    task: t.clone(),
                    run,
                    store: store.clone(),
                }) as Arc<dyn Step>,
                after: Vec::new(),
            })
            .collect();
        let options = EngineOptions {
            concurrency: 1,
            ..EngineOptions::default()
        };
        let report = self.runner.run(&Plan::new(steps)?, run, options).await?;
        let mut records = current_records(store.task_records(Some(run), usize::MAX).await?);
        records.sort_by_key(|r| plan.tasks.iter().position(|t| t.name == r.task));
        Ok(TasksReport {
            run_id: run,
            list: plan.list.clone(),
            status: report.status,
            resumed: plan.resume_run.is_some(),
            kept: plan.done().map(|t| t.name.clone()).collect(),
            records,
            elapsed_secs: started.elapsed().as_secs_f64(),
        })
    }
}

#[cfg(test)]
mod runner_tests;

/// What `--resume` is about to do, in one line: the run it continues and what is left, or why
/// a new run starts (nothing unfinished is not an error, but a scheduler's log should say that
/// nothing was continued).
pub async fn resume_line(store: &dyn StateStore, plan: &TasksPlan) -> Result<String> {
    Ok(match plan.resume_run {
        Some(run) => {
            let done = plan.done().count();
            format!(
                "tasks {}: resuming run {run}: {done} task(s) done, {} to go",
                plan.list,
                plan.tasks.len() - done
            )
        }
        None => {
            let list = &plan.list;
            let why = match store.runs(Some(RUN_KIND), Some(list), 1).await?.first() {
                Some(newest) => format!(
                    "the newest run of tasks {list} (run {}) succeeded",
                    newest.id
                ),
                None => format!("tasks {list} has no earlier run"),
            };
            format!("nothing to resume: {why}; starting a new run")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_uri_prefers_the_explicit_line_then_the_first_pr_url() {
        let seed = [
            "=== Running task: infra.scale ===",
            "see https://github.com/your-org/your-repo/pull/99.",
            "outputs_uri=https://github.com/your-org/your-repo/pull/123",
            "awaiting_approval",
        ];
        assert_eq!(
            extract_outputs_uri(&seed).as_deref(),
            Some("https://github.com/your-org/your-repo/pull/123")
        );
        assert_eq!(
            extract_outputs_uri(&seed[..2]).as_deref(),
            Some("https://github.com/your-org/your-repo/pull/99")
        );
        assert_eq!(
            extract_outputs_uri(&["https://github.com/o/r/pulls", "http://x/pull/abc"]),
            None
        );
        assert_eq!(extract_status(&seed, true), "awaiting_approval");
        assert_eq!(extract_status(&seed, false), "failed");
        assert_eq!(
            extract_status(&["plan_yaml=x", "succeeded", ""], true),
            "succeeded"
        );
        assert_eq!(extract_status(&["done"], true), "succeeded");
    }

    #[test]
    fn timestamps_are_utc_rfc3339_with_millis() {
        assert_eq!(format_utc_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_utc_ms(1_737_806_400_000), "2025-01-25T12:00:00.000Z");
        assert_eq!(format_utc_ms(951_782_400_123), "2000-02-29T00:00:00.123Z");
    }
}
