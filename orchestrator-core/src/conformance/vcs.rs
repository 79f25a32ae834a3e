//! The `Vcs` conformance suite (to be written).
