//! Stop signals: Ctrl-C and SIGTERM cancel a run the same way. The handler lives in core
//! ([`orchestrator_core::workspace::signals`]), with the workspace that owns the token; these
//! names stay for the commands not yet run through a workspace (publish, cascade, mock-forge).

pub(crate) use orchestrator_core::workspace::signals::cancel_on_stop_signals;
