//! Stop signals. The handler lives in core ([`orchestrator_core::workspace::signals`]), with the
//! workspace that owns the cancel token; `mock-forge`, which has nothing to journal, only waits
//! for the first signal through this name.

pub(crate) use orchestrator_core::workspace::signals::StopSignals;
