//! The engine scaffolding every run shares, in one place the driver owns.
//!
//! Release, pipeline runs, task lists and publish each used to repeat the same lines around the
//! [`Engine`]: open the journal (begin a new run recording its typed parameters, or set the
//! resumed one running again), build the engine with the session's observer and cancel token,
//! run the steps, and read each unit's first unfinished step back. A fix to any of them (a
//! resumed run not marked running, a cancel token not passed on) had to be made four times.
//! [`JournaledRunner`] holds them once; the features keep only what differs: their steps and
//! their report. Inside a [`super::Workspace::run`] a workflow gives its runner the session's
//! store, observer and cancel token ([`super::RunContext::runner`] builds one from them), so it
//! journals into the session's store under the lock.

use std::sync::Arc;

use super::params::{self, RunParams};
use crate::engine::{
    CancelToken, Engine, EngineOptions, Observer, Plan, PlannedStep, RunReport, SilentObserver,
    StepReport, StepStatus,
};
use crate::error::{Error, Result};
use crate::state::{JournalEntry, RunId, RunStatus, StateStore};
use crate::step::Step;

/// How a run's journal is opened.
#[derive(Debug, Clone, PartialEq)]
pub enum RunStart {
    /// Continue this unfinished run: its journal decides what is skipped.
    Resume(RunId),
    /// Begin a new run of `kind` under `key`, recording `params` (the versioned layout of
    /// [`params::encode`]).
    New {
        /// The run kind (`release`, `publish`...).
        kind: String,
        /// The journal key (a version, a pipeline, a list).
        key: String,
        /// The recorded parameters.
        params: serde_json::Value,
    },
}

impl RunStart {
    /// A new run of `P::KIND` under `key`, recording `params` with their format version.
    pub fn new<P: RunParams>(key: impl Into<String>, params: &P) -> Result<Self> {
        Ok(Self::New {
            kind: P::KIND.to_owned(),
            key: key.into(),
            params: params::encode(params)?,
        })
    }

    /// [`RunStart::Resume`] of `resume`, else [`RunStart::new`].
    pub fn resume_or_new<P: RunParams>(
        resume: Option<RunId>,
        key: impl Into<String>,
        params: impl FnOnce() -> P,
    ) -> Result<Self> {
        match resume {
            Some(run) => Ok(Self::Resume(run)),
            None => Self::new(key, &params()),
        }
    }
}

/// Opens journals and runs plans on the engine, with one store, observer and cancel token; see
/// the module docs.
#[derive(Debug, Clone)]
pub struct JournaledRunner {
    /// Where runs are journaled.
    pub store: Arc<dyn StateStore>,
    /// Where progress goes.
    pub observer: Arc<dyn Observer>,
    /// Stops runs when cancelled: running steps are stopped and journaled as interrupted.
    pub cancel: CancelToken,
}

impl JournaledRunner {
    /// A runner journaling to `store`, silent, with a cancel token of its own.
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        Self {
            store,
            observer: Arc::new(SilentObserver),
            cancel: CancelToken::new(),
        }
    }

    /// The store runs are journaled in.
    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.store
    }

    /// Opens the run's journal: a resumed run is set running again (a run left `interrupted`
    /// must not read as finished while it runs), a new one is begun with its parameters.
    pub async fn open(&self, start: RunStart) -> Result<RunId> {
        match start {
            RunStart::Resume(run) => {
                self.store.set_status(run, RunStatus::Running).await?;
                Ok(run)
            }
            RunStart::New { kind, key, params } => self.store.begin_run(&kind, &key, &params).await,
        }
    }

    /// Runs `plan` as run `run` on the engine: every step journaled before and after its
    /// effect, stopped by the cancel token.
    pub async fn run(&self, plan: &Plan, run: RunId, options: EngineOptions) -> Result<RunReport> {
        Engine::new(self.store.clone(), options)
            .with_observer(self.observer.clone())
            .with_cancel(self.cancel.clone())
            .run(plan, run)
            .await
    }

    /// Runs `steps` as run `run` one at a time, each after the one before: a chain in which a
    /// step that does not succeed blocks the rest (a proposal, a pull-request command).
    pub async fn run_in_order(
        &self,
        steps: impl IntoIterator<Item = Arc<dyn Step>>,
        run: RunId,
    ) -> Result<RunReport> {
        let mut planned: Vec<PlannedStep> = Vec::new();
        for step in steps {
            let after = planned
                .last()
                .map(|p| vec![p.step.id().to_owned()])
                .unwrap_or_default();
            planned.push(PlannedStep { step, after });
        }
        let options = EngineOptions {
            concurrency: 1,
            ..EngineOptions::default()
        };
        self.run(&Plan::new(planned)?, run, options).await
    }

    /// [`JournaledRunner::open`], then [`JournaledRunner::run`].
    pub async fn open_and_run(
        &self,
        start: RunStart,
        plan: &Plan,
        options: EngineOptions,
    ) -> Result<RunReport> {
        let run = self.open(start).await?;
        self.run(plan, run, options).await
    }
}

/// The data step `step` of run `run` produced, as its latest `StepSucceeded` entry journaled it:
/// what a resumed run reads back of a step an earlier attempt finished (the engine reports such
/// a step as already done, without its data). `None` when the step never succeeded in `run`, or
/// was only found done by its check (which records no data).
pub async fn journaled_output(
    store: &dyn StateStore,
    run: RunId,
    step: &str,
) -> Result<Option<serde_json::Value>> {
    Ok(store
        .journal(run)
        .await?
        .into_iter()
        .rev()
        .find_map(|record| match record.entry {
            JournalEntry::StepSucceeded { step: id, data, .. } if id == step => Some(data),
            _ => None,
        }))
}

/// The error of `what` (`propose`...) whose run ended before its last step: where it stopped (the
/// first failed step, its description and error) and that running the same command again
/// resumes the run without repeating what is done.
pub fn stopped_error(what: &str, report: &RunReport) -> Error {
    let failed = report.steps.iter().find(|s| s.status == StepStatus::Failed);
    Error::Conflict {
        message: format!(
            "{what} stopped{}; run the same command again to resume run {} (done steps are not \
             repeated)",
            failed
                .map(|s| format!(" at {} ({}): {}", s.id, s.description, s.summary))
                .unwrap_or_default(),
            report.run_id
        ),
    }
}

/// The first step of `ids` (one unit's steps, in order) that did not finish: what stopped the
/// unit, or `None` when all of its steps that ran are done. Steps absent from the report (not
/// planned for this unit) are passed over.
pub fn first_unfinished<I, S>(report: &RunReport, ids: I) -> Option<&StepReport>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    ids.into_iter()
        .filter_map(|id| report.step(id.as_ref()))
        .find(|s| !s.status.is_done())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::PlannedStep;
    use crate::state::MemoryStateStore;
    use crate::step::{Check, Step, StepContext, StepOutput};
    use async_trait::async_trait;

    #[derive(Debug)]
    struct Fails(&'static str, bool);

    #[async_trait]
    impl Step for Fails {
        fn id(&self) -> &str {
            self.0
        }
        fn describe(&self) -> String {
            self.0.to_owned()
        }
        async fn check(&self, _: &StepContext) -> Result<Check> {
            Ok(Check::Pending(self.0.to_owned()))
        }
        async fn apply(&self, _: &StepContext) -> Result<StepOutput> {
            if self.1 {
                Err(crate::error::Error::state("boom"))
            } else {
                Ok(StepOutput::default())
            }
        }
    }

    #[derive(Debug, serde::Serialize, serde::Deserialize)]
    struct Sample {
        n: u32,
    }

    impl RunParams for Sample {
        const KIND: &'static str = "sample";
        const VERSION: u32 = 3;
    }

    fn plan(fail_second: bool) -> Plan {
        Plan::new(vec![
            PlannedStep {
                step: Arc::new(Fails("a", false)),
                after: vec![],
            },
            PlannedStep {
                step: Arc::new(Fails("b", fail_second)),
                after: vec!["a".into()],
            },
        ])
        .expect("plan")
    }

    #[tokio::test]
    async fn a_new_run_records_versioned_params_and_a_resumed_one_runs_again() {
        let store = Arc::new(MemoryStateStore::default());
        let runner = JournaledRunner::new(store.clone());
        let start = RunStart::resume_or_new(None, "k", || Sample { n: 7 }).expect("start");
        let failed = runner
            .open_and_run(start, &plan(true), EngineOptions::default())
            .await
            .expect("ran");
        assert_eq!(failed.status, RunStatus::Failed);
        let recorded = store.run(failed.run_id).await.expect("read").expect("run");
        assert_eq!(recorded.kind, "sample");
        assert_eq!(recorded.params["version"], 3);
        assert_eq!(recorded.params["params"]["n"], 7);
        let stopped = first_unfinished(&failed, ["a", "b", "missing"]).expect("b failed");
        assert_eq!(stopped.id, "b");
        let message = stopped_error("sampling", &failed).to_string();
        assert!(
            message.contains("sampling stopped at b (b): state store: boom")
                && message.contains(&format!("resume run {}", failed.run_id)),
            "{message}"
        );

        // Resumed: the same run, running again, and the done step is not repeated.
        let start =
            RunStart::resume_or_new(Some(failed.run_id), "k", || Sample { n: 0 }).expect("start");
        assert_eq!(start, RunStart::Resume(failed.run_id));
        let run = runner.open(start).await.expect("open");
        assert_eq!(run, failed.run_id);
        // No longer failed (a store shows a run nobody drives as interrupted, not running).
        let status = store.run(run).await.expect("read").expect("run").status;
        assert_ne!(status, RunStatus::Failed);
        let done = runner
            .run(&plan(false), run, EngineOptions::default())
            .await
            .expect("ran");
        assert_eq!(done.status, RunStatus::Succeeded);
        assert!(first_unfinished(&done, ["a", "b"]).is_none());
        assert_eq!(store.runs(None, None, 10).await.expect("runs").len(), 1);
    }

    #[tokio::test]
    async fn a_steps_journaled_output_is_its_latest_success() {
        let store = MemoryStateStore::default();
        let run = store
            .begin_run("sample", "k", &serde_json::Value::Null)
            .await
            .expect("run");
        for (step, n) in [("a", 1), ("b", 2), ("a", 3)] {
            let entry = JournalEntry::StepSucceeded {
                step: step.into(),
                summary: String::new(),
                data: serde_json::json!({ "n": n }),
            };
            store.append(run, &entry).await.expect("append");
        }
        let entry = JournalEntry::StepAlreadyDone {
            step: "c".into(),
            detail: "found".into(),
        };
        store.append(run, &entry).await.expect("append");
        let output = |step: &'static str| journaled_output(&store, run, step);
        assert_eq!(
            output("a").await.expect("read"),
            Some(serde_json::json!({ "n": 3 }))
        );
        assert_eq!(
            output("b").await.expect("read"),
            Some(serde_json::json!({ "n": 2 }))
        );
        assert_eq!(
            output("c").await.expect("read"),
            None,
            "a check records no data"
        );
        assert_eq!(output("d").await.expect("read"), None);
    }
}
