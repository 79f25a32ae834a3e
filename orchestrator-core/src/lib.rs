//! # orchestrator-core
//!
//! The domain of the orchestrator, with no I/O library in it.
pub mod config;
pub mod conformance;
pub mod engine;
pub mod error;
pub mod forge;
pub mod graph;
pub mod release;
pub mod secret;
pub mod state;
pub mod step;
pub mod vcs;
pub mod version;

pub use error::{Error, PreflightFailure, Result};
