//! Running one command: argv directly (never a shell), the resolved env, a working directory, a
//! timeout, a graceful stop (SIGTERM to its process group, then SIGKILL after a grace period),
//! output streamed line by line with secrets masked, and a bounded tail kept for the failure
//! message.
//!
//! Why it reads to the end: what a command prints last (its status word, its PR link, the error
//! that made it fail) is what matters most, so every byte of both pipes is read until EOF, even
//! after the command exited. A background process still holding a pipe cannot hang the run: the
//! wait is bounded by the step's timeout (else by [`UNTIMED_DRAIN`]), after which its group is
//! stopped. Memory stays bounded whatever the command prints: lines longer than
//! [`MAX_LINE_BYTES`] are cut into pieces, the reader waits for the consumer (a bounded queue),
//! and only the last [`TAIL_LINES`] lines are kept; callers that need more (tasks) scan every line
//! as it passes ([`run_command_scanned`]).
//!
//! Secrets are masked in the byte stream of each pipe before it is cut into lines
//! ([`crate::redact`]), so a secret split across reads, or spanning lines, is masked whole.
//!
//! When a step ends, nothing of it survives: the members of its process group still alive are
//! stopped (SIGTERM, the grace period, SIGKILL) before its outcome is returned.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::pipeline::group;
use crate::redact::Redactor;
use crate::step::StepContext;

/// Lines of output kept for a failure message.
pub const TAIL_LINES: usize = 20;

/// A line longer than this (in bytes) is passed on in pieces of at most this size, so one
/// endless line cannot exhaust memory.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// With no timeout, how long the pipes are still read after the command exited while a
/// background process it started holds them open; then its group is stopped.
pub const UNTIMED_DRAIN: Duration = Duration::from_secs(30);

/// Lines queued between a pipe's reader and the consumer: the reader waits when it is full.
const QUEUE_LINES: usize = 256;

/// Bytes read from a pipe at a time.
const READ_BYTES: usize = 8 * 1024;

/// A command to run. Its `Debug` shows the variables' names, never their values, and the
/// arguments masked.
#[derive(Clone)]
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
    /// Masks secrets in everything it prints, and in its command line.
    pub redactor: Arc<Redactor>,
}

impl std::fmt::Debug for CommandSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandSpec")
            .field("command", &self.display())
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("workdir", &self.workdir)
            .field("timeout", &self.timeout)
            .field("grace", &self.grace)
            .field("redactor", &self.redactor)
            .finish()
    }
}

impl CommandSpec {
    /// The command line for people, secrets masked: in each word before it is quoted (quoting
    /// alters a secret holding a quote), and in the line (a secret spanning words).
    pub fn display(&self) -> String {
        let mut words = vec![self.program.display().to_string()];
        words.extend(self.args.iter().cloned());
        let line = words
            .iter()
            .map(|w| {
                let w = self.redactor.redact(w);
                if w.is_empty() || w.contains(|c: char| c.is_whitespace() || "'\"$`\\".contains(c))
                {
                    format!("'{}'", w.replace('\'', "'\\''"))
                } else {
                    w
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        self.redactor.redact(&line)
    }
}

/// How a command ended.
#[derive(Debug, Clone, Serialize)]
pub struct CommandOutcome {
    /// Its exit code (none when killed by a signal).
    pub exit_code: Option<i32>,
    /// It, or a process it started that still held its output, ran past its timeout and was
    /// stopped.
    pub timed_out: bool,
    /// Wall-clock time.
    pub elapsed_secs: f64,
    /// Lines it printed, stdout and stderr together (a line cut at [`MAX_LINE_BYTES`] counts once
    /// per piece).
    pub lines: u64,
    /// The last [`TAIL_LINES`] lines, secrets masked.
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The step's timeout (the command, or a process holding its output, was still running).
    Timeout,
    /// The run was cancelled.
    Cancel,
    /// No timeout, and a background process held the output [`UNTIMED_DRAIN`] past the exit.
    Drain,
}

/// Runs `spec`, streaming its output to `ctx`. Returns [`Error::Cancelled`] when the run is
/// cancelled (after stopping the command), an I/O error when it cannot start, and otherwise its
/// outcome, successful or not.
pub async fn run_command(spec: &CommandSpec, ctx: &StepContext) -> Result<CommandOutcome> {
    run_command_scanned(spec, ctx, &mut |_: &str| {}).await
}

/// [`run_command`], also handing every line of output (secrets masked, in order) to `scan`:
/// for callers that look for something in the whole output without keeping it.
pub async fn run_command_scanned(
    spec: &CommandSpec,
    ctx: &StepContext,
    scan: &mut (dyn FnMut(&str) + Send),
) -> Result<CommandOutcome> {
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
    let pgid = child.id();
    let (tx, mut rx) = mpsc::channel::<String>(QUEUE_LINES);
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(tokio::spawn(forward(
            out,
            spec.redactor.clone(),
            tx.clone(),
        )));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(tokio::spawn(forward(
            err,
            spec.redactor.clone(),
            tx.clone(),
        )));
    }
    drop(tx);

    let mut count: u64 = 0;
    let mut tail: VecDeque<String> = VecDeque::with_capacity(TAIL_LINES);
    let deadline = spec.timeout.map(|t| tokio::time::Instant::now() + t);
    let far = tokio::time::Instant::now() + Duration::from_secs(100 * 365 * 86_400);
    let mut stop: Option<Stop> = None;
    let mut kill_at: Option<tokio::time::Instant> = None;
    let mut give_up_at: Option<tokio::time::Instant> = None;
    let mut status: Option<std::process::ExitStatus> = None;
    let mut eof = false;
    let mut drain_until: Option<tokio::time::Instant> = None;
    let cancel = ctx.cancel_token().clone();
    let begin_stop =
        |why: Stop, stop: &mut Option<Stop>, kill_at: &mut Option<tokio::time::Instant>| {
            *stop = Some(why);
            if let Some(pgid) = pgid {
                group::signal_group(pgid, group::GroupSignal::Term);
            }
            *kill_at = Some(tokio::time::Instant::now() + spec.grace);
        };
    while !(eof && status.is_some()) {
        tokio::select! {
            line = rx.recv(), if !eof => match line {
                Some(line) => {
                    ctx.output(&line);
                    scan(&line);
                    count += 1;
                    if tail.len() == TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
                None => eof = true,
            },
            exited = child.wait(), if status.is_none() => {
                status = Some(exited.map_err(|e| Error::io("waiting for a command", e))?);
                if deadline.is_none() && !eof {
                    drain_until = Some(tokio::time::Instant::now() + UNTIMED_DRAIN);
                }
            },
            () = tokio::time::sleep_until(deadline.unwrap_or(far)), if deadline.is_some() && stop.is_none() => {
                if status.is_some() {
                    ctx.progress("timeout: a process the command started still holds its output (SIGTERM to its group)");
                }
                begin_stop(Stop::Timeout, &mut stop, &mut kill_at);
            },
            () = tokio::time::sleep_until(drain_until.unwrap_or(far)), if drain_until.is_some() && stop.is_none() => {
                ctx.progress(format!(
                    "a process the command started still holds its output {}s after it exited (SIGTERM to its group)",
                    UNTIMED_DRAIN.as_secs()
                ));
                begin_stop(Stop::Drain, &mut stop, &mut kill_at);
            },
            () = cancel.cancelled(), if stop.is_none() => {
                ctx.progress("stopping (SIGTERM)");
                begin_stop(Stop::Cancel, &mut stop, &mut kill_at);
            },
            () = tokio::time::sleep_until(kill_at.unwrap_or(far)), if kill_at.is_some() => {
                ctx.progress("grace period over (SIGKILL)");
                if let Some(pgid) = pgid {
                    group::signal_group(pgid, group::GroupSignal::Kill);
                }
                let _ = child.start_kill();
                kill_at = None;
                // Killed processes close their pipes at once; a pipe still open after this is
                // held by a process that left the group (setsid): stop reading it.
                give_up_at = Some(tokio::time::Instant::now() + group::KILL_WAIT);
            },
            () = tokio::time::sleep_until(give_up_at.unwrap_or(far)), if give_up_at.is_some() => {
                if status.is_none() {
                    // Killed, it exits at once, unless the kernel holds it (uninterruptible
                    // sleep): then it is reported as killed, and dropping it kills it again.
                    if let Ok(exited) = tokio::time::timeout(group::KILL_WAIT, child.wait()).await {
                        status = Some(exited.map_err(|e| Error::io("waiting for a command", e))?);
                    }
                }
                if !eof {
                    ctx.progress("output still held open by a process outside the step's group; stopped reading it");
                }
                break;
            },
        }
    }
    for reader in readers {
        reader.abort();
    }
    // Nothing of the step outlives it (a background process that closed its output included).
    // A stop already under way keeps what is left of its grace period.
    let grace = match (kill_at, give_up_at) {
        (_, Some(_)) => Duration::ZERO,
        (Some(at), None) => at.saturating_duration_since(tokio::time::Instant::now()),
        (None, None) => spec.grace,
    };
    if let Some(pgid) = pgid
        && !group::stop_group(pgid, grace).await
    {
        ctx.progress(format!(
            "process group {pgid} still has live members after SIGKILL"
        ));
    }
    if stop == Some(Stop::Cancel) {
        return Err(Error::Cancelled);
    }
    Ok(CommandOutcome {
        exit_code: status.and_then(|s| s.code()),
        timed_out: stop == Some(Stop::Timeout),
        elapsed_secs: started.elapsed().as_secs_f64(),
        lines: count,
        tail: tail.into_iter().collect(),
    })
}

/// Reads `stream` to EOF, masks secrets in the bytes, and sends the lines (lossy UTF-8, without
/// the newline, at most [`MAX_LINE_BYTES`] each). Waits while the queue is full.
async fn forward(
    mut stream: impl AsyncRead + Unpin,
    redactor: Arc<Redactor>,
    tx: mpsc::Sender<String>,
) {
    let mut masking = redactor.stream();
    let mut lines = LineSplitter::default();
    let mut buf = vec![0u8; READ_BYTES];
    let mut masked = Vec::with_capacity(READ_BYTES);
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        masked.clear();
        masking.push(&buf[..n], &mut masked);
        for line in lines.push(&masked) {
            if tx.send(line).await.is_err() {
                return;
            }
        }
    }
    masked.clear();
    masking.finish(&mut masked);
    let mut rest = lines.push(&masked);
    rest.extend(lines.finish());
    for line in rest {
        if tx.send(line).await.is_err() {
            return;
        }
    }
}

/// Cuts bytes into lines: at `\n` (a `\r` before it dropped), and at [`MAX_LINE_BYTES`] (on a
/// character boundary when there is one near).
#[derive(Debug, Default)]
struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let room = MAX_LINE_BYTES.saturating_sub(self.partial.len());
            if room == 0 && rest[0] == b'\r' && !self.partial.ends_with(b"\r") {
                // A full line's `\r` may be the start of its `\r\n`: keep it for `take`.
                self.partial.push(b'\r');
                rest = &rest[1..];
                continue;
            }
            // A newline just past the limit still ends this line when a `\r` precedes it.
            let newline = rest
                .iter()
                .take(room + 2)
                .position(|&b| b == b'\n')
                .filter(|&at| at <= room || rest[at - 1] == b'\r');
            match newline {
                Some(at) => {
                    self.partial.extend_from_slice(&rest[..at]);
                    out.push(self.take());
                    rest = &rest[at + 1..];
                }
                None if rest.len() <= room => {
                    self.partial.extend_from_slice(rest);
                    rest = &[];
                }
                None => {
                    self.partial.extend_from_slice(&rest[..room]);
                    rest = &rest[room..];
                    // Cut before a character that the limit would split.
                    let cut = utf8_cut(&self.partial);
                    let carry = self.partial.split_off(cut);
                    out.push(self.take());
                    self.partial = carry;
                }
            }
        }
        out
    }

    fn finish(&mut self) -> Option<String> {
        (!self.partial.is_empty()).then(|| self.take())
    }

    fn take(&mut self) -> String {
        let mut line = std::mem::take(&mut self.partial);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        String::from_utf8_lossy(&line).into_owned()
    }
}

/// Where to cut a full buffer: before a trailing incomplete UTF-8 character, if any.
fn utf8_cut(buf: &[u8]) -> usize {
    let len = buf.len();
    for back in 1..=3.min(len) {
        let b = buf[len - back];
        if b & 0xC0 == 0x80 {
            continue; // a continuation byte: look further back for the lead
        }
        let width = if b >= 0xF0 {
            4
        } else if b >= 0xE0 {
            3
        } else if b >= 0xC0 {
            2
        } else {
            1
        };
        return if width > back { len - back } else { len };
    }
    len
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
            redactor: Arc::new(Redactor::new(["s3cr3t-value"])),
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
        assert_eq!(out.lines, 31);
        assert_eq!(out.tail.len(), TAIL_LINES);
        assert_eq!(out.tail.last().map(String::as_str), Some("pw [redacted]"));
        let message = out.error(&s).to_string();
        assert!(
            message.contains("exited with code 3; last 20 line(s) of output:"),
            "{message}"
        );
        assert!(!message.contains("s3cr3t"), "{message}");
    }

    #[test]
    fn debug_shows_variable_names_not_values() {
        let mut s = spec("echo $PASS s3cr3t-value", None);
        s.env
            .insert("PLAIN".into(), "not-secret-but-private".into());
        let shown = format!("{s:?}");
        assert!(
            shown.contains("\"PASS\"") && shown.contains("[redacted]"),
            "{shown}"
        );
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("not-secret"),
            "{shown}"
        );
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

    /// Keeps every line it is shown, slowly (a terminal that cannot keep up).
    #[derive(Debug, Default)]
    struct SlowObserver {
        lines: std::sync::Mutex<Vec<String>>,
    }

    impl crate::engine::Observer for SlowObserver {
        fn event(&self, event: &crate::engine::Event<'_>) {
            if let crate::engine::Event::Output { line, .. } = event {
                std::thread::sleep(Duration::from_millis(1));
                self.lines.lock().expect("lock").push((*line).to_owned());
            }
        }
    }

    fn pid_from(out: &CommandOutcome, prefix: &str) -> u32 {
        out.tail
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} line in {:?}", out.tail))
    }

    #[tokio::test]
    async fn a_slow_reader_still_gets_every_line_and_the_real_tail() {
        let observer = Arc::new(SlowObserver::default());
        let ctx = StepContext::new("t", observer.clone(), CancelToken::new());
        let s = spec(
            "i=1; while [ $i -le 1000 ]; do echo line $i; i=$((i+1)); done; exit 1",
            Some(Duration::from_secs(60)),
        );
        let out = run_command(&s, &ctx).await.expect("ran");
        assert_eq!(out.exit_code, Some(1));
        assert_eq!(out.lines, 1000);
        let want: Vec<String> = (981..=1000).map(|i| format!("line {i}")).collect();
        assert_eq!(out.tail, want, "the tail is the real end of the output");
        assert_eq!(observer.lines.lock().expect("lock").len(), 1000);
    }

    #[tokio::test]
    async fn output_printed_after_the_command_exited_is_read_to_the_end() {
        let s = spec(
            "(sleep 1; echo late; echo pw $PASS) & echo early",
            Some(Duration::from_secs(60)),
        );
        let out = run_command(&s, &ctx(CancelToken::new()))
            .await
            .expect("ran");
        assert!(out.success(), "{out:?}");
        assert_eq!(out.tail, ["early", "late", "pw [redacted]"]);
    }

    #[tokio::test]
    async fn a_grandchild_holding_the_output_open_ends_the_step_at_its_timeout() {
        let s = spec(
            "sleep 60 & echo \"holder $!\"; echo done",
            Some(Duration::from_millis(500)),
        );
        let t = Instant::now();
        let out = run_command(&s, &ctx(CancelToken::new()))
            .await
            .expect("ran");
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "bounded by the timeout and grace: {:?}",
            t.elapsed()
        );
        assert!(out.timed_out && !out.success(), "{out:?}");
        assert_eq!(out.tail.last().map(String::as_str), Some("done"));
        let holder = pid_from(&out, "holder ");
        assert!(!group::process_alive(holder), "the holder was stopped");
    }

    #[tokio::test]
    async fn after_a_timeout_no_process_of_the_group_survives_even_one_ignoring_sigterm() {
        // The direct child dies of SIGTERM; its child ignores it and must be killed too.
        let s = spec(
            "(trap '' TERM; exec sleep 60) & echo \"grandchild $!\"; sleep 60",
            Some(Duration::from_millis(300)),
        );
        let t = Instant::now();
        let out = run_command(&s, &ctx(CancelToken::new()))
            .await
            .expect("ran");
        assert!(out.timed_out);
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
        let grandchild = pid_from(&out, "grandchild ");
        assert!(
            !group::process_alive(grandchild),
            "grandchild {grandchild} survived the step"
        );
    }

    #[tokio::test]
    async fn a_background_process_that_closed_its_output_is_stopped_when_the_step_ends() {
        let s = spec(
            "sleep 60 >/dev/null 2>&1 & echo \"bg $!\"",
            Some(Duration::from_secs(60)),
        );
        let out = run_command(&s, &ctx(CancelToken::new()))
            .await
            .expect("ran");
        assert!(out.success(), "{out:?}");
        assert!(!group::process_alive(pid_from(&out, "bg ")));
    }

    #[tokio::test]
    async fn a_multi_line_secret_is_masked_in_output_whatever_the_chunks() {
        let key = "-----BEGIN KEY-----\nAAAAB3NzaC1yc2EAAAADAQABAAABAQC7\nQ29tZWJhY2tMYXRlcgo9PQ\n-----END KEY-----";
        let mut s = spec(
            // Whole, then line by line, then dribbled a byte at a time.
            "printf '%s\\n' \"$KEY\"; printf '%s\\n' \"$KEY\" | while read -r l; do echo \"> $l\"; done; \
             printf '%s' \"$KEY\" | od -An -v -tx1 | tr -s ' \\n' '\\n\\n' | while read -r b; do [ -n \"$b\" ] && printf \"\\\\x$b\"; sleep 0; done >&2",
            None,
        );
        s.env.insert("KEY".into(), key.into());
        s.redactor = Arc::new(Redactor::new([key]));
        let observer = Arc::new(SlowObserver::default());
        let ctx = StepContext::new("t", observer.clone(), CancelToken::new());
        let out = run_command(&s, &ctx).await.expect("ran");
        assert!(out.success(), "{out:?}");
        let seen = observer.lines.lock().expect("lock").join("\n");
        for line in key.lines() {
            assert!(
                !seen.contains(line) || line.len() < 4 || line.starts_with("-----"),
                "{line} leaked:\n{seen}"
            );
        }
        assert!(
            !seen.contains("AAAAB3Nza") && !seen.contains("Q29tZWJh"),
            "{seen}"
        );
    }

    #[test]
    fn long_lines_are_cut_on_character_boundaries() {
        let mut split = LineSplitter::default();
        let mut text = "é".repeat(MAX_LINE_BYTES); // two bytes each
        text.push_str("\r\nnext\npartial");
        let mut lines = Vec::new();
        for chunk in text.as_bytes().chunks(1000) {
            lines.extend(split.push(chunk));
        }
        lines.extend(split.finish());
        assert_eq!(lines.len(), 4, "two pieces, next, partial");
        assert!(
            lines[..2]
                .iter()
                .all(|l| l.len() <= MAX_LINE_BYTES && !l.contains('\u{fffd}'))
        );
        assert_eq!(lines[0].len() + lines[1].len(), 2 * MAX_LINE_BYTES);
        assert_eq!(&lines[2..], ["next", "partial"]);
    }
}
