//! Running one command: argv directly (never a shell), the resolved env, a working directory, a
//! timeout, a graceful stop (SIGTERM to its process group, then SIGKILL after a grace period),
//! output streamed line by line with secrets masked, and the tail kept for the failure message.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::pipeline::env::redact_with;
use crate::step::StepContext;

/// Lines of output kept for a failure message.
pub const TAIL_LINES: usize = 20;
/// Lines of output kept in full (tasks scan them for `outputs_uri=` and a status word).
const KEPT_LINES: usize = 10_000;

/// A command to run.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    /// The program (a path, or a name looked up on `PATH`).
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Its whole environment (nothing else is inherited).
    pub env: BTreeMap<String, String>,
    /// Its working directory.
    pub workdir: PathBuf,
    /// Stop it after this long.
    pub timeout: Option<Duration>,
    /// Between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// Values masked in everything it prints.
    pub secrets: Arc<Vec<String>>,
}

impl CommandSpec {
    /// The command line for people, secrets masked.
    pub fn display(&self) -> String {
        let mut words = vec![self.program.display().to_string()];
        words.extend(self.args.iter().cloned());
        let line = words
            .iter()
            .map(|w| {
                if w.is_empty() || w.contains(|c: char| c.is_whitespace() || "'\"$`\\".contains(c))
                {
                    format!("'{}'", w.replace('\'', "'\\''"))
                } else {
                    w.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        redact_with(&self.secrets, &line)
    }
}

/// How a command ended.
#[derive(Debug, Clone, Serialize)]
pub struct CommandOutcome {
    /// Its exit code (none when killed by a signal).
    pub exit_code: Option<i32>,
    /// It ran past its timeout and was stopped.
    pub timed_out: bool,
    /// Wall-clock time.
    pub elapsed_secs: f64,
    /// Every line it printed (stdout and stderr interleaved, secrets masked), up to a cap.
    #[serde(skip)]
    pub lines: Vec<String>,
    /// The last lines.
    #[serde(skip)]
    pub tail: Vec<String>,
}

impl CommandOutcome {
    /// Exit code 0.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }

    /// `exited with code 3`, `was killed by a signal`, `timed out after 5s (stopped)`.
    pub fn status_text(&self, timeout: Option<Duration>) -> String {
        if self.timed_out {
            format!(
                "timed out after {} (stopped)",
                timeout.map_or_else(String::new, |t| format!("{}s", t.as_secs_f64()))
            )
        } else {
            match self.exit_code {
                Some(code) => format!("exited with code {code}"),
                None => "was killed by a signal".into(),
            }
        }
    }

    /// The error for a command that did not succeed.
    pub fn error(&self, spec: &CommandSpec) -> Error {
        Error::CommandFailed {
            command: spec.display(),
            status: self.status_text(spec.timeout),
            tail: self.tail.clone(),
        }
    }
}

enum Stop {
    Timeout,
    Cancel,
}

/// Runs `spec`, streaming its output to `ctx`. Returns [`Error::Cancelled`] when the run is
/// cancelled (after stopping the command), an I/O error when it cannot start, and otherwise its
/// outcome, successful or not.
pub async fn run_command(spec: &CommandSpec, ctx: &StepContext) -> Result<CommandOutcome> {
    let started = Instant::now();
    let mut cmd = tokio::process::Command::new(&spec.program);
    cmd.args(&spec.args)
        .env_clear()
        .envs(&spec.env)
        .current_dir(&spec.workdir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // Its own process group: a terminal's Ctrl-C reaches us, and we stop the whole group.
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::io(format!("starting {}", spec.display()), e))?;
    let pid = child.id();
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    if let Some(out) = child.stdout.take() {
        tokio::spawn(forward(out, tx.clone()));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(forward(err, tx.clone()));
    }
    drop(tx);

    let mut lines = Vec::new();
    let mut tail: VecDeque<String> = VecDeque::with_capacity(TAIL_LINES);
    let deadline = spec.timeout.map(|t| tokio::time::Instant::now() + t);
    let far = tokio::time::Instant::now() + Duration::from_secs(100 * 365 * 86_400);
    let mut stop: Option<Stop> = None;
    let mut kill_at: Option<tokio::time::Instant> = None;
    let mut status: Option<std::process::ExitStatus> = None;
    let mut drain_until: Option<tokio::time::Instant> = None;
    let cancel = ctx.cancel_token().clone();
    loop {
        tokio::select! {
            line = rx.recv() => match line {
                Some(line) => {
                    let line = redact_with(&spec.secrets, &line);
                    ctx.output(&line);
                    if tail.len() == TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line.clone());
                    if lines.len() < KEPT_LINES {
                        lines.push(line);
                    }
                }
                None => {
                    if status.is_none() {
                        status = Some(child.wait().await.map_err(|e| Error::io("waiting for a command", e))?);
                    }
                    break;
                }
            },
            exited = child.wait(), if status.is_none() => {
                status = Some(exited.map_err(|e| Error::io("waiting for a command", e))?);
                // A background grandchild may hold the pipes open: read what is left, briefly.
                drain_until = Some(tokio::time::Instant::now() + Duration::from_millis(500));
            },
            () = tokio::time::sleep_until(drain_until.unwrap_or(far)), if drain_until.is_some() => break,
            () = tokio::time::sleep_until(deadline.unwrap_or(far)), if deadline.is_some() && stop.is_none() && status.is_none() => {
                stop = Some(Stop::Timeout);
                signal_group(pid, "TERM").await;
                kill_at = Some(tokio::time::Instant::now() + spec.grace);
            },
            () = cancel.cancelled(), if stop.is_none() && status.is_none() => {
                ctx.progress("stopping (SIGTERM)");
                stop = Some(Stop::Cancel);
                signal_group(pid, "TERM").await;
                kill_at = Some(tokio::time::Instant::now() + spec.grace);
            },
            () = tokio::time::sleep_until(kill_at.unwrap_or(far)), if kill_at.is_some() && status.is_none() => {
                ctx.progress("grace period over (SIGKILL)");
                signal_group(pid, "KILL").await;
                let _ = child.start_kill();
                kill_at = None;
            },
        }
    }
    if matches!(stop, Some(Stop::Cancel)) {
        return Err(Error::Cancelled);
    }
    Ok(CommandOutcome {
        exit_code: status.and_then(|s| s.code()),
        timed_out: matches!(stop, Some(Stop::Timeout)),
        elapsed_secs: started.elapsed().as_secs_f64(),
        lines,
        tail: tail.into_iter().collect(),
    })
}

/// Forwards lines (lossy UTF-8, without the newline) until EOF.
async fn forward(stream: impl AsyncRead + Unpin, tx: mpsc::UnboundedSender<String>) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&buf);
                let line = text.trim_end_matches(['\n', '\r']).to_owned();
                if tx.send(line).is_err() {
                    break;
                }
            }
        }
    }
}

/// Signals the child's process group (its pid: it leads its own group) with `kill(1)`, since this
/// crate forbids `unsafe` and thus a direct `kill(2)`.
async fn signal_group(pid: Option<u32>, signal: &str) {
    #[cfg(unix)]
    if let Some(pid) = pid {
        let _ = tokio::process::Command::new("kill")
            .args(["-s", signal, "--", &format!("-{pid}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
    }
    #[cfg(not(unix))]
    let _ = (pid, signal);
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::engine::{CancelToken, SilentObserver};

    fn spec(script: &str, timeout: Option<Duration>) -> CommandSpec {
        CommandSpec {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            env: BTreeMap::from([
                ("PATH".into(), "/usr/bin:/bin".into()),
                ("PASS".into(), "s3cr3t-value".into()),
            ]),
            workdir: std::env::temp_dir(),
            timeout,
            grace: Duration::from_millis(200),
            secrets: Arc::new(vec!["s3cr3t-value".into()]),
        }
    }

    fn ctx(cancel: CancelToken) -> StepContext {
        StepContext::new("t", Arc::new(SilentObserver), cancel)
    }

    #[tokio::test]
    async fn keeps_output_masks_secrets_and_reports_the_exit_code() {
        let s = spec(
            "for i in $(seq 1 30); do echo line $i; done; echo \"pw $PASS\" >&2; exit 3",
            None,
        );
        let out = run_command(&s, &ctx(CancelToken::new()))
            .await
            .expect("ran");
        assert_eq!(out.exit_code, Some(3));
        assert_eq!(out.lines.len(), 31);
        assert_eq!(out.tail.len(), TAIL_LINES);
        assert_eq!(out.tail.last().map(String::as_str), Some("pw [redacted]"));
        let message = out.error(&s).to_string();
        assert!(
            message.contains("exited with code 3; last 20 line(s) of output:"),
            "{message}"
        );
        assert!(!message.contains("s3cr3t"), "{message}");
    }

    #[tokio::test]
    async fn a_timeout_stops_the_command_even_if_it_ignores_sigterm() {
        let s = spec(
            "trap '' TERM; echo started; sleep 30",
            Some(Duration::from_millis(300)),
        );
        let t = Instant::now();
        let out = run_command(&s, &ctx(CancelToken::new()))
            .await
            .expect("ran");
        assert!(out.timed_out && !out.success());
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        assert!(out.error(&s).to_string().contains("timed out after 0.3s"));
    }

    #[tokio::test]
    async fn cancellation_sends_sigterm_and_reports_cancelled() {
        let cancel = CancelToken::new();
        let s = spec("trap 'echo got-term; exit 143' TERM; sleep 30 & wait", None);
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            c.cancel();
        });
        let t = Instant::now();
        let e = run_command(&s, &ctx(cancel)).await.expect_err("cancelled");
        assert!(matches!(e, Error::Cancelled));
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}
