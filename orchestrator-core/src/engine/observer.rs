//! Progress events from the engine and its steps, for terminals, logs and services.

use std::time::Duration;

use super::StepStatus;

/// Something that happened during a run.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A step began applying.
    StepStarted {
        /// The step id.
        step: &'a str,
        /// What it does.
        description: &'a str,
    },
    /// A step reported what it is doing now.
    Progress {
        /// The step id.
        step: &'a str,
        /// The message.
        message: &'a str,
    },
    /// A line of output from a step's command (already stripped of secrets).
    Output {
        /// The step id.
        step: &'a str,
        /// The line, without its newline.
        line: &'a str,
    },
    /// A step ended (including "already done" and "blocked").
    StepFinished {
        /// The step id.
        step: &'a str,
        /// How.
        status: &'a StepStatus,
        /// How long it ran.
        elapsed: Duration,
        /// Its summary line, or the error.
        summary: &'a str,
    },
    /// A line for the operator about the run as a whole (what is about to run, what resumes).
    Notice {
        /// The line.
        message: &'a str,
    },
}

/// Receives events; must be cheap and must not block (it is called from the engine's tasks).
pub trait Observer: Send + Sync + std::fmt::Debug {
    /// Handles one event.
    fn event(&self, event: &Event<'_>);
}

/// Ignores every event.
#[derive(Debug, Default, Clone, Copy)]
pub struct SilentObserver;

impl Observer for SilentObserver {
    fn event(&self, _event: &Event<'_>) {}
}
