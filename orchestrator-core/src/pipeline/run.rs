//! Running a planned pipeline on the engine: one journaled step per selected step, in order.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Serialize;

use super::builtin;
use super::command::{CommandSpec, run_command};
use super::params::PipelineParams;
use super::plan::mode_name;
use super::planned::{PipelinePlan, PlannedAction};
use crate::engine::{CancelToken, EngineOptions, Mode, Observer, Plan, PlannedStep, StepStatus};
use crate::error::{Error, Result};
use crate::state::{RunId, RunStatus, StateStore};
use crate::step::{Check, Step, StepContext, StepOutput};
use crate::workspace::{JournaledRunner, RunStart};

/// A pipeline step: runs its command; the engine journals it.
#[derive(Debug)]
struct CommandStep {
    id: String,
    spec: CommandSpec,
    /// The command line as configured (relative script path), secrets masked.
    shown: String,
}

impl CommandStep {
    async fn execute(&self, ctx: &StepContext) -> Result<StepOutput> {
        let outcome = run_command(&self.spec, ctx).await?;
        if !outcome.success() {
            return Err(Error::CommandFailed {
                command: self.shown.clone(),
                status: outcome.status_text(self.spec.timeout),
                tail: outcome.tail,
            });
        }
        Ok(StepOutput {
            summary: format!("exit 0 in {:.1}s", outcome.elapsed_secs),
            data: serde_json::to_value(&outcome).unwrap_or_default(),
        })
    }
}

#[async_trait]
impl Step for CommandStep {
    fn id(&self) -> &str {
        &self.id
    }

    fn describe(&self) -> String {
        self.shown.clone()
    }

    async fn check(&self, _ctx: &StepContext) -> Result<Check> {
        // A command's effect cannot be observed from outside; the journal decides on resume
        // (step scripts are idempotent by contract).
        Ok(Check::Pending(format!("run {}", self.shown)))
    }

    fn handles_cancellation(&self) -> bool {
        true
    }

    async fn apply(&self, ctx: &StepContext) -> Result<StepOutput> {
        self.execute(ctx).await
    }

    async fn delete(&self, ctx: &StepContext) -> Result<StepOutput> {
        self.execute(ctx).await
    }
}

/// One step's result.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineStepReport {
    /// Position in the flow.
    pub number: usize,
    /// Name.
    pub name: String,
    /// How it ended.
    #[serde(flatten)]
    pub status: StepStatus,
    /// Seconds it ran.
    pub elapsed_secs: f64,
    /// Summary line, or the error (exit code and output tail).
    pub summary: String,
}

/// The result of a pipeline run.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineReport {
    /// The run in the state store.
    pub run_id: RunId,
    /// The pipeline.
    pub pipeline: String,
    /// `apply` or `delete`.
    pub mode: Mode,
    /// How it ended.
    pub status: RunStatus,
    /// The selected steps, in order.
    pub steps: Vec<PipelineStepReport>,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
}

impl PipelineReport {
    /// The first step that did not finish, if any.
    pub fn first_unfinished(&self) -> Option<&PipelineStepReport> {
        self.steps.iter().find(|s| !s.status.is_done())
    }
}

/// Runs pipeline plans; embed it with your own `StateStore`.
#[derive(Debug, Clone)]
pub struct PipelineRunner {
    runner: JournaledRunner,
}

impl PipelineRunner {
    /// A runner journaling to `store`.
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        Self {
            runner: JournaledRunner::new(store),
        }
    }

    /// Sends progress (and every line of step output) to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.runner.observer = observer;
        self
    }

    /// Stops when `cancel` is cancelled: the running step gets SIGTERM, then SIGKILL after the
    /// pipeline's grace period.
    pub fn with_cancel(mut self, cancel: CancelToken) -> Self {
        self.runner.cancel = cancel;
        self
    }

    /// Runs the selected steps of `plan` in order; a failure stops the flow.
    pub async fn execute(&self, plan: &PipelinePlan) -> Result<PipelineReport> {
        let started = Instant::now();
        let mut planned = Vec::new();
        let mut previous: Option<String> = None;
        for s in plan.selected() {
            let id = s.decision.name.clone();
            let step: Arc<dyn Step> = match s.action.clone() {
                Some(PlannedAction::Command(spec)) => Arc::new(CommandStep {
                    id: id.clone(),
                    spec,
                    shown: s.command.clone(),
                }),
                Some(PlannedAction::Builtin(action)) => Arc::new(builtin::BuiltinStep {
                    id: id.clone(),
                    action,
                    shown: s.command.clone(),
                }),
                None => {
                    return Err(Error::invalid_input(
                        "pipeline plan has no action for a selected step",
                    ));
                }
            };
            planned.push(PlannedStep {
                step,
                after: previous.take().into_iter().collect(),
            });
            previous = Some(id);
        }
        if planned.is_empty() {
            return Err(Error::invalid_input(format!(
                "no step of {:?} is selected; nothing to run",
                plan.pipeline
            )));
        }
        let engine_plan = Plan::new(planned)?;
        let start = RunStart::resume_or_new(plan.resume_run, &plan.pipeline, || PipelineParams {
            pipeline: plan.pipeline.clone(),
            mode: mode_name(plan.mode).to_owned(),
            only: plan.only.clone(),
            steps: plan.selected().map(|s| s.decision.name.clone()).collect(),
            flow: Some(plan.steps.iter().map(|s| s.decision.name.clone()).collect()),
        })?;
        let options = EngineOptions {
            concurrency: 1,
            mode: plan.mode,
        };
        let report = self
            .runner
            .open_and_run(start, &engine_plan, options)
            .await?;
        let steps = plan
            .selected()
            .filter_map(|s| {
                let r = report.step(&s.decision.name)?;
                Some(PipelineStepReport {
                    number: s.decision.number,
                    name: s.decision.name.clone(),
                    status: r.status.clone(),
                    elapsed_secs: round_ms(r.elapsed),
                    summary: r.summary.clone(),
                })
            })
            .collect();
        Ok(PipelineReport {
            run_id: report.run_id,
            pipeline: plan.pipeline.clone(),
            mode: plan.mode,
            status: report.status,
            steps,
            elapsed_secs: round_ms(started.elapsed()),
        })
    }
}

fn round_ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}
