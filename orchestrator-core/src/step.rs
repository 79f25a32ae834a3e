//! The `Step` trait: one unit of work the engine runs, journals and resumes.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use crate::engine::{CancelToken, Event, Observer};
use crate::error::{Error, Result};

/// What a step's read-only check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "detail", rename_all = "snake_case")]
pub enum Check {
    /// The step's effect is already in place; applying it would duplicate it.
    Done(String),
    /// The step still has to run; the detail says what it would do.
    Pending(String),
}

/// What a step produced.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct StepOutput {
    /// One line for people.
    pub summary: String,
    /// Structured data for reports (`--output json`).
    pub data: serde_json::Value,
}

impl StepOutput {
    /// An output with a summary and no data.
    pub fn summary(summary: impl Into<String>) -> Self {
        Self {
            summary: summary.into(),
            data: serde_json::Value::Null,
        }
    }
}

/// A unit of work: an id, a description, a read-only `check`, `apply`, and optionally `delete`.
///
/// `check` is the key to safe resumption: after a crash the engine cannot know whether a step's
/// side effect happened, so it asks. Implementations must make `check` free of side effects and
/// make `apply` fail rather than duplicate an effect it cannot see.
#[async_trait]
pub trait Step: Send + Sync + std::fmt::Debug {
    /// Unique within a plan, stable across runs (the journal refers to it), e.g. `tag:truthdb`.
    fn id(&self) -> &str;

    /// What the step does, for plans and progress, e.g. `tag Truthdb/truthdb v1.2.3 at 1a2b3c4`.
    fn describe(&self) -> String;

    /// Whether the effect is already in place. Must not change anything.
    async fn check(&self, ctx: &StepContext) -> Result<Check>;

    /// Performs the effect.
    async fn apply(&self, ctx: &StepContext) -> Result<StepOutput>;

    /// True when the step stops itself on cancellation (e.g. signals its child process and
    /// waits a grace period); the engine then awaits it instead of dropping it at once.
    fn handles_cancellation(&self) -> bool {
        false
    }

    /// Undoes the effect (the `delete` flow of pipelines); most steps cannot.
    async fn delete(&self, _ctx: &StepContext) -> Result<StepOutput> {
        Err(Error::NotSupported {
            backend: "step".into(),
            what: format!("delete of {}", self.id()),
        })
    }
}

/// What a running step can use: its id, progress reporting and cancellation.
#[derive(Debug, Clone)]
pub struct StepContext {
    step: String,
    observer: Arc<dyn Observer>,
    cancel: CancelToken,
}

impl StepContext {
    /// A context for `step`.
    pub fn new(step: impl Into<String>, observer: Arc<dyn Observer>, cancel: CancelToken) -> Self {
        Self {
            step: step.into(),
            observer,
            cancel,
        }
    }

    /// The step's id.
    pub fn step(&self) -> &str {
        &self.step
    }

    /// Reports what the step is doing now (shown on its progress line).
    pub fn progress(&self, message: impl Into<String>) {
        self.observer.event(&Event::Progress {
            step: &self.step,
            message: &message.into(),
        });
    }

    /// Reports one line of output of the step's command (streamed with the step's name).
    pub fn output(&self, line: &str) {
        self.observer.event(&Event::Output {
            step: &self.step,
            line,
        });
    }

    /// The run's cancellation token.
    pub fn cancel_token(&self) -> &CancelToken {
        &self.cancel
    }

    /// Sleeps, or returns [`Error::Cancelled`] as soon as the run is cancelled.
    pub async fn sleep(&self, duration: Duration) -> Result<()> {
        tokio::select! {
            () = tokio::time::sleep(duration) => Ok(()),
            () = self.cancel.cancelled() => Err(Error::Cancelled),
        }
    }
}
