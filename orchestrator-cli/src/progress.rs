//! Progress on stderr: one line per change, prefixed with the elapsed time and the step.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use orchestrator_core::engine::{Event, Observer, StepStatus};

/// Prints engine events as lines on stderr; repeats of the same progress message are dropped.
#[derive(Debug)]
pub(crate) struct LineProgress {
    started: Instant,
    last: Mutex<HashMap<String, String>>,
}

impl LineProgress {
    pub(crate) fn new() -> Self {
        Self {
            started: Instant::now(),
            last: Mutex::new(HashMap::new()),
        }
    }

    fn line(&self, step: &str, text: &str) {
        let elapsed = self.started.elapsed().as_secs_f64();
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{elapsed:>7.1}s  {step:<28} {text}");
    }
}

impl Observer for LineProgress {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::StepStarted { step, description } => self.line(step, description),
            Event::Progress { step, message } => {
                let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
                if last.get(*step).map(String::as_str) != Some(*message) {
                    last.insert((*step).to_owned(), (*message).to_owned());
                    drop(last);
                    self.line(step, message);
                }
            }
            Event::StepFinished {
                step,
                status,
                elapsed,
                summary,
            } => {
                let mark = match status {
                    StepStatus::Succeeded => "done",
                    StepStatus::AlreadyDone => "already done",
                    StepStatus::Failed => "FAILED",
                    StepStatus::Blocked { .. } => "blocked",
                    StepStatus::Interrupted => "interrupted",
                    StepStatus::NotStarted => "not started",
                };
                self.line(
                    step,
                    &format!("{mark} ({:.1}s): {summary}", elapsed.as_secs_f64()),
                );
            }
            _ => {}
        }
    }
}
