//! Progress on stderr: a live spinner per running step on a terminal ([`BarProgress`]), or one
//! line per change prefixed with the elapsed time and the step ([`LineProgress`]) in logs and CI.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use orchestrator_core::engine::{Event, Observer, StepStatus};
use orchestrator_core::forge::redact_userinfo;

/// The observer that suits stderr: bars on a terminal, lines otherwise, nothing under `--quiet`.
pub(crate) fn for_stderr() -> std::sync::Arc<dyn Observer> {
    use std::io::IsTerminal;
    if crate::output::quiet() {
        std::sync::Arc::new(orchestrator_core::engine::SilentObserver)
    } else if std::io::stderr().is_terminal() {
        std::sync::Arc::new(BarProgress::new())
    } else {
        std::sync::Arc::new(LineProgress::new())
    }
}

/// How a finished step is shown.
fn mark(status: &StepStatus) -> &'static str {
    match status {
        StepStatus::Succeeded => "done",
        StepStatus::AlreadyDone => "already done",
        StepStatus::Failed => "FAILED",
        StepStatus::Blocked { .. } => "blocked",
        StepStatus::Interrupted => "interrupted",
        StepStatus::NotStarted => "not started",
    }
}

/// One spinner per running step (what it waits for, for how long); finished steps stay as lines.
pub(crate) struct BarProgress {
    bars: MultiProgress,
    active: Mutex<HashMap<String, ProgressBar>>,
    style: ProgressStyle,
}

impl BarProgress {
    pub(crate) fn new() -> Self {
        let style = ProgressStyle::with_template("{spinner} {prefix:<24} {elapsed:>4} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        Self {
            bars: MultiProgress::new(),
            active: Mutex::new(HashMap::new()),
            style,
        }
    }
}

impl std::fmt::Debug for BarProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BarProgress").finish_non_exhaustive()
    }
}

impl Observer for BarProgress {
    fn event(&self, event: &Event<'_>) {
        if let Event::Notice { message } = event {
            let line = redact_userinfo(message).into_owned();
            self.bars.suspend(|| eprintln!("{line}"));
            return;
        }
        let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            Event::StepStarted { step, description } => {
                let bar = self.bars.add(ProgressBar::new_spinner());
                bar.set_style(self.style.clone());
                bar.set_prefix((*step).to_owned());
                bar.set_message((*description).to_owned());
                bar.enable_steady_tick(std::time::Duration::from_millis(120));
                active.insert((*step).to_owned(), bar);
            }
            Event::Progress { step, message } => {
                if let Some(bar) = active.get(*step) {
                    bar.set_message((*message).to_owned());
                }
            }
            Event::Output { step, line } => {
                let _ = self
                    .bars
                    .println(redact_userinfo(&format!("{step} | {line}")));
            }
            Event::StepFinished {
                step,
                status,
                elapsed,
                summary,
            } => {
                let line = format!(
                    "{:<24} {:>5.1}s {}: {summary}",
                    step,
                    elapsed.as_secs_f64(),
                    mark(status)
                );
                if let Some(bar) = active.remove(*step) {
                    bar.finish_and_clear();
                }
                let _ = self.bars.println(redact_userinfo(&line));
            }
            _ => {}
        }
    }
}

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
        let _ = writeln!(err, "{elapsed:>7.1}s  {step:<28} {}", redact_userinfo(text));
    }
}

impl Observer for LineProgress {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::Notice { message } => {
                let _ = writeln!(std::io::stderr().lock(), "{}", redact_userinfo(message));
            }
            Event::StepStarted { step, description } => self.line(step, description),
            Event::Output { step, line } => self.line(step, &format!("| {line}")),
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
                let mark = mark(status);
                self.line(
                    step,
                    &format!("{mark} ({:.1}s): {summary}", elapsed.as_secs_f64()),
                );
            }
            _ => {}
        }
    }
}
