//! The engine: runs any [`Plan`] with bounded concurrency, journaling every transition.
//!
//! Guarantees, in order of importance:
//! - a step's `StepStarted` entry is durable before its side effect begins, and `StepSucceeded`
//!   after it ends, so a crash anywhere leaves a journal that says what may have happened;
//! - on resume, journaled successes are skipped, and every other step first runs its read-only
//!   `check`, so an effect that happened but was not journaled is never repeated;
//! - a step starts only when every step it comes after has succeeded; independent steps run at
//!   the same time up to the concurrency limit; a failure blocks only its dependents;
//! - if the journal itself cannot be written, the engine stops at once: acting without a record
//!   would break the first guarantee.

mod cancel;
mod observer;
mod plan;

pub use cancel::CancelToken;
pub use observer::{Event, Observer, SilentObserver};
pub use plan::{Plan, PlannedStep};

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinSet;

use crate::error::{Error, Result};
use crate::state::{JournalEntry, RunId, RunStatus, StateStore};
use crate::step::{Check, Step, StepContext};

/// Which flow to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Each step's `apply`, after its `check`.
    #[default]
    Apply,
    /// Each step's `delete`.
    Delete,
}

/// How the engine runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineOptions {
    /// Steps in flight at once (at least 1).
    pub concurrency: usize,
    /// Apply or delete.
    pub mode: Mode,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            concurrency: 4,
            mode: Mode::Apply,
        }
    }
}

/// How one step ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StepStatus {
    /// Applied now.
    Succeeded,
    /// Found done (by the journal of an earlier attempt, or by its check); nothing applied.
    AlreadyDone,
    /// Failed.
    Failed,
    /// Not started because a step it comes after did not succeed.
    Blocked {
        /// That step.
        by: String,
    },
    /// Stopped while running (Ctrl-C); `--resume` finds out whether its effect happened.
    Interrupted,
    /// Not started because the run was cancelled first.
    NotStarted,
}

impl StepStatus {
    /// True when the step's effect is in place.
    pub fn is_done(&self) -> bool {
        matches!(self, StepStatus::Succeeded | StepStatus::AlreadyDone)
    }
}

/// One step's result.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// The step id.
    pub id: String,
    /// What it does.
    pub description: String,
    /// How it ended.
    #[serde(flatten)]
    pub status: StepStatus,
    /// How long it ran.
    #[serde(serialize_with = "serialize_secs")]
    pub elapsed: Duration,
    /// Summary line or error.
    pub summary: String,
    /// Structured output.
    pub data: serde_json::Value,
}

/// The result of a run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The run in the state store.
    pub run_id: RunId,
    /// How it ended.
    pub status: RunStatus,
    /// Every step, in plan order.
    pub steps: Vec<StepReport>,
}

impl RunReport {
    /// The report of step `id`.
    pub fn step(&self, id: &str) -> Option<&StepReport> {
        self.steps.iter().find(|s| s.id == id)
    }
}

fn serialize_secs<S: serde::Serializer>(
    d: &Duration,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

/// Runs plans; see the module docs.
#[derive(Debug, Clone)]
pub struct Engine {
    store: Arc<dyn StateStore>,
    observer: Arc<dyn Observer>,
    cancel: CancelToken,
    options: EngineOptions,
}

struct Finished {
    index: usize,
    status: StepStatus,
    elapsed: Duration,
    summary: String,
    data: serde_json::Value,
    journal_error: Option<Error>,
}

impl Engine {
    /// An engine writing to `store`.
    pub fn new(store: Arc<dyn StateStore>, options: EngineOptions) -> Self {
        Self {
            store,
            observer: Arc::new(SilentObserver),
            cancel: CancelToken::new(),
            options,
        }
    }

    /// Sends progress to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self
    }

    /// Uses `cancel` (e.g. wired to Ctrl-C) to stop runs.
    pub fn with_cancel(mut self, cancel: CancelToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// The token that stops this engine's runs.
    pub fn cancel_token(&self) -> &CancelToken {
        &self.cancel
    }

    /// Runs `plan` as run `run` (new, or an earlier one being resumed: its journal is honoured).
    ///
    /// Returns `Err` only when the journal cannot be written or read; step failures are in the
    /// report.
    pub async fn run(&self, plan: &Plan, run: RunId) -> Result<RunReport> {
        // Two runners never drive one run: a live runner's claim refuses this one (naming it);
        // a dead runner's claim is taken over.
        self.store
            .claim_run(run, &crate::state::Holder::current(format!("run {run}")))
            .await?;
        let done_before: BTreeSet<String> = self
            .store
            .journal(run)
            .await?
            .into_iter()
            .filter(|r| r.entry.completes_step())
            .filter_map(|r| r.entry.step().map(str::to_owned))
            .collect();
        let steps = plan.steps();
        let index: HashMap<&str, usize> = steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.step.id(), i))
            .collect();
        let mut waiting_on: Vec<usize> = steps.iter().map(|s| s.after.len()).collect();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
        for (i, s) in steps.iter().enumerate() {
            for a in &s.after {
                dependents[index[a.as_str()]].push(i);
            }
        }
        let mut results: Vec<Option<Finished>> = (0..steps.len()).map(|_| None).collect();
        let mut ready: std::collections::VecDeque<usize> =
            (0..steps.len()).filter(|&i| waiting_on[i] == 0).collect();
        let mut running = JoinSet::new();
        let mut fatal: Option<Error> = None;
        let concurrency = self.options.concurrency.max(1);

        loop {
            while running.len() < concurrency && fatal.is_none() && !self.cancel.is_cancelled() {
                let Some(i) = ready.pop_front() else { break };
                let step = steps[i].step.clone();
                let already = done_before.contains(step.id());
                let task = StepTask {
                    index: i,
                    step,
                    already_journaled: already,
                    store: self.store.clone(),
                    observer: self.observer.clone(),
                    cancel: self.cancel.clone(),
                    run,
                    mode: self.options.mode,
                };
                running.spawn(task.execute());
            }
            let Some(joined) = running.join_next().await else {
                break;
            };
            let finished = match joined {
                Ok(f) => f,
                Err(join_error) => {
                    // A panicking step is a bug in that step; stop rather than guess.
                    fatal.get_or_insert(Error::state(format!("a step panicked: {join_error}")));
                    self.cancel.cancel();
                    continue;
                }
            };
            if let Some(e) = &finished.journal_error {
                fatal.get_or_insert(Error::state(format!(
                    "journal write failed, run stopped: {e}"
                )));
                self.cancel.cancel();
            }
            let i = finished.index;
            if finished.status.is_done() {
                for &d in &dependents[i] {
                    waiting_on[d] -= 1;
                    if waiting_on[d] == 0 {
                        ready.push_back(d);
                    }
                }
            } else {
                self.block_dependents(plan, &dependents, i, &mut results);
            }
            results[i] = Some(finished);
        }
        if let Some(e) = fatal {
            return Err(e);
        }
        let reports: Vec<StepReport> = steps
            .iter()
            .zip(results)
            .map(|(planned, finished)| {
                let finished = finished.unwrap_or(Finished {
                    index: 0,
                    status: StepStatus::NotStarted,
                    elapsed: Duration::ZERO,
                    summary: "not started: the run was cancelled".into(),
                    data: serde_json::Value::Null,
                    journal_error: None,
                });
                StepReport {
                    id: planned.step.id().to_owned(),
                    description: planned.step.describe(),
                    status: finished.status,
                    elapsed: finished.elapsed,
                    summary: finished.summary,
                    data: finished.data,
                }
            })
            .collect();
        let status = if reports.iter().all(|r| r.status.is_done()) {
            RunStatus::Succeeded
        } else if reports.iter().any(|r| r.status == StepStatus::Failed) {
            RunStatus::Failed
        } else {
            RunStatus::Cancelled
        };
        self.store
            .append(run, &JournalEntry::RunFinished { status })
            .await?;
        self.store.set_status(run, status).await?;
        Ok(RunReport {
            run_id: run,
            status,
            steps: reports,
        })
    }

    fn block_dependents(
        &self,
        plan: &Plan,
        dependents: &[Vec<usize>],
        failed: usize,
        results: &mut [Option<Finished>],
    ) {
        let by = plan.steps()[failed].step.id().to_owned();
        let mut stack = dependents[failed].clone();
        while let Some(d) = stack.pop() {
            if results[d].is_some() {
                continue;
            }
            let status = StepStatus::Blocked { by: by.clone() };
            let summary = format!("blocked: {by} did not succeed");
            self.observer.event(&Event::StepFinished {
                step: plan.steps()[d].step.id(),
                status: &status,
                elapsed: Duration::ZERO,
                summary: &summary,
            });
            results[d] = Some(Finished {
                index: d,
                status,
                elapsed: Duration::ZERO,
                summary,
                data: serde_json::Value::Null,
                journal_error: None,
            });
            stack.extend(dependents[d].iter().copied());
        }
    }
}

/// One step's execution, owned by its task.
struct StepTask {
    index: usize,
    step: Arc<dyn Step>,
    already_journaled: bool,
    store: Arc<dyn StateStore>,
    observer: Arc<dyn Observer>,
    cancel: CancelToken,
    run: RunId,
    mode: Mode,
}

impl StepTask {
    async fn execute(self) -> Finished {
        let started = Instant::now();
        let id = self.step.id().to_owned();
        let ctx = StepContext::new(id.clone(), self.observer.clone(), self.cancel.clone());
        let (status, summary, data, journal_error) = self.outcome(&ctx).await;
        let elapsed = started.elapsed();
        self.observer.event(&Event::StepFinished {
            step: &id,
            status: &status,
            elapsed,
            summary: &summary,
        });
        Finished {
            index: self.index,
            status,
            elapsed,
            summary,
            data,
            journal_error,
        }
    }

    async fn outcome(
        &self,
        ctx: &StepContext,
    ) -> (StepStatus, String, serde_json::Value, Option<Error>) {
        let step = self.step.id().to_owned();
        let null = serde_json::Value::Null;
        if self.already_journaled {
            return (
                StepStatus::AlreadyDone,
                "done in an earlier attempt (journal)".into(),
                null,
                None,
            );
        }
        if self.mode == Mode::Apply {
            match self.guarded(self.step.check(ctx)).await {
                Ok(Check::Done(detail)) => {
                    let entry = JournalEntry::StepAlreadyDone {
                        step,
                        detail: detail.clone(),
                    };
                    let journal_error = self.store.append(self.run, &entry).await.err();
                    return (StepStatus::AlreadyDone, detail, null, journal_error);
                }
                Ok(Check::Pending(_)) => {}
                Err(e) => return self.failed(step, e).await,
            }
        }
        if let Err(e) = self
            .store
            .append(self.run, &JournalEntry::StepStarted { step: step.clone() })
            .await
        {
            return (
                StepStatus::Failed,
                format!("not started: {e}"),
                null,
                Some(e),
            );
        }
        // A stop (SIGTERM, Ctrl-C) that arrived while the start was journaled: the effect has not
        // begun, so do not begin it; the journal says the step was interrupted and a resume runs it.
        if self.cancel.is_cancelled() {
            return self.failed(step, Error::Cancelled).await;
        }
        let description = self.step.describe();
        self.observer.event(&Event::StepStarted {
            step: &step,
            description: &description,
        });
        let applied = match self.mode {
            Mode::Apply => self.guarded(self.step.apply(ctx)).await,
            Mode::Delete => self.guarded(self.step.delete(ctx)).await,
        };
        match applied {
            Ok(output) => {
                let entry = JournalEntry::StepSucceeded {
                    step,
                    summary: output.summary.clone(),
                    data: output.data.clone(),
                };
                let journal_error = self.store.append(self.run, &entry).await.err();
                (
                    StepStatus::Succeeded,
                    output.summary,
                    output.data,
                    journal_error,
                )
            }
            Err(e) => self.failed(step, e).await,
        }
    }

    async fn failed(
        &self,
        step: String,
        error: Error,
    ) -> (StepStatus, String, serde_json::Value, Option<Error>) {
        let null = serde_json::Value::Null;
        if matches!(error, Error::Cancelled) {
            let journal_error = self
                .store
                .append(self.run, &JournalEntry::StepInterrupted { step })
                .await
                .err();
            return (
                StepStatus::Interrupted,
                "interrupted".into(),
                null,
                journal_error,
            );
        }
        let message = error.to_string();
        let entry = JournalEntry::StepFailed {
            step,
            error: message.clone(),
        };
        let journal_error = self.store.append(self.run, &entry).await.err();
        (StepStatus::Failed, message, null, journal_error)
    }

    /// Runs a step future until it ends or the run is cancelled.
    async fn guarded<T>(&self, future: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        if self.step.handles_cancellation() {
            return future.await;
        }
        tokio::select! {
            result = future => result,
            () = self.cancel.cancelled() => Err(Error::Cancelled),
        }
    }
}

#[cfg(test)]
mod tests;
