//! Printing that never panics: results to stdout, messages to stderr.
//!
//! `println!` panics when stdout is closed (`orchestrator scale apply | head -1` exits 101 with a
//! panic message). The crate's `print!`/`println!`/`eprint!`/`eprintln!` (macros in `main.rs`
//! that shadow std's in every module) come here instead: a reader that stopped reading means the
//! results are no longer wanted, so further printing is dropped and the command finishes and
//! exits with its own code, quietly. Any other stdout failure (a full disk behind a redirect)
//! is reported once and turns a success into exit 1, since the results were lost.

use std::fmt;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once stdout could not be written: later results are dropped.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// The first stdout failure that was not a closed pipe.
static STDOUT_FAILURE: Mutex<Option<String>> = Mutex::new(None);

/// Writes to stdout, adding a newline when `newline`.
pub(crate) fn stdout(args: fmt::Arguments<'_>, newline: bool) {
    if STDOUT_CLOSED.load(Ordering::SeqCst) {
        return;
    }
    let mut out = std::io::stdout().lock();
    let written = out.write_fmt(args).and_then(|()| {
        if newline {
            out.write_all(b"\n")
        } else {
            Ok(())
        }
    });
    if let Err(e) = written {
        STDOUT_CLOSED.store(true, Ordering::SeqCst);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            let mut failure = STDOUT_FAILURE.lock().unwrap_or_else(|p| p.into_inner());
            failure.get_or_insert_with(|| format!("writing the results to stdout: {e}"));
        }
    }
}

/// Set by `-q/--quiet`: stderr carries errors only.
static QUIET: AtomicBool = AtomicBool::new(false);

/// `-q/--quiet`: from now on, stderr lines other than errors are dropped.
pub(crate) fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::SeqCst);
}

/// Whether `-q/--quiet` is in force (progress observers stay silent then).
pub(crate) fn quiet() -> bool {
    QUIET.load(Ordering::SeqCst)
}

/// Writes to stderr; a closed stderr leaves nowhere to complain, so failures are ignored. Under
/// `--quiet` only error lines are written: every error this crate prints starts with `error`,
/// so the message itself says what it is, wherever it was printed from.
pub(crate) fn stderr(args: fmt::Arguments<'_>, newline: bool) {
    if quiet() && !args.to_string().starts_with("error") {
        return;
    }
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| {
        if newline {
            err.write_all(b"\n")
        } else {
            Ok(())
        }
    });
}

/// Flushes stdout at the end; the failure to report, if writing the results failed other than
/// by a closed pipe.
pub(crate) fn finish() -> Option<String> {
    if !STDOUT_CLOSED.load(Ordering::SeqCst)
        && let Err(e) = std::io::stdout().lock().flush()
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Some(format!("writing the results to stdout: {e}"));
    }
    STDOUT_FAILURE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
}
