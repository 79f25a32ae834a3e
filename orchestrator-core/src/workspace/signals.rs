//! Stop signals: Ctrl-C (SIGINT) and SIGTERM end a run the same way.
//!
//! SIGTERM is what CI runners, systemd and Kubernetes send before they kill a job. Left at its
//! default it ends the process at once: the running step's process group lives on as an orphan,
//! the journal never says the step stopped, and an immediate `--resume` starts the same step
//! beside it. So both signals cancel the run's [`CancelToken`]: the engine stops the running
//! steps (their whole process group), journals them as interrupted and returns, and the command
//! exits 1 with a `--resume` hint. A second signal exits at once (130 for SIGINT, 143 for
//! SIGTERM), for whoever really wants out.
//!
//! The token belongs to the [`super::Workspace`]; a binary installs this process-wide handler
//! once ([`super::Workspace::cancel_on_stop_signals`]), a service that has its own shutdown
//! cancels the workspace's token itself.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::engine::CancelToken;

/// Set once the first stop signal was handled (read by the fault-injection harness, which must
/// know the signal it sent has been acted on before it lets the run continue).
static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);

/// Whether a stop signal has cancelled the run.
pub fn stop_requested() -> bool {
    STOP_REQUESTED.load(Ordering::SeqCst)
}

/// Which signal arrived.
#[derive(Debug, Clone, Copy)]
enum Stop {
    Interrupt,
    Terminate,
}

impl Stop {
    /// The shell's convention for a process ended by this signal: 128 + its number.
    fn exit_code(self) -> i32 {
        match self {
            Self::Interrupt => 130,
            Self::Terminate => 143,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Interrupt => "Ctrl-C",
            Self::Terminate => "SIGTERM",
        }
    }
}

/// Both stop signals, registered at once so a signal arriving right after the call is caught
/// (then a clean stop, not the default, fatal action).
#[derive(Debug)]
pub struct StopSignals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    /// Registers both handlers now.
    pub fn register() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Self {
                term: signal(SignalKind::terminate()).ok(),
                interrupt: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Resolves on the first stop signal (a server that has nothing to journal: `mock-forge`).
    pub async fn stopped(mut self) {
        self.next().await;
    }

    /// The next stop signal.
    #[cfg(unix)]
    async fn next(&mut self) -> Stop {
        async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) {
            match signal {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            () = recv(&mut self.term) => Stop::Terminate,
            () = recv(&mut self.interrupt) => Stop::Interrupt,
        }
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> Stop {
        let _ = tokio::signal::ctrl_c().await;
        Stop::Interrupt
    }
}

/// First SIGINT or SIGTERM: cancel `cancel` (running steps are stopped and journaled, the
/// command returns). Second: exit at once. Call from inside the runtime, before the run starts.
pub fn cancel_on_stop_signals(cancel: CancelToken) {
    let mut signals = StopSignals::register();
    tokio::spawn(async move {
        let first = signals.next().await;
        // Cancel first: printing may fail (stderr closed) and must not prevent it.
        cancel.cancel();
        STOP_REQUESTED.store(true, Ordering::SeqCst);
        let _ = writeln!(
            std::io::stderr(),
            "\nstopping on {}: the running steps are stopped and journaled; --resume continues \
             (a second signal exits at once)",
            first.name()
        );
        let second = signals.next().await;
        std::process::exit(second.exit_code());
    });
}
