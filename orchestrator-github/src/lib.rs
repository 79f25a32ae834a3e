//! `GitHubForge`: the orchestrator's [`Forge`](orchestrator_core::forge::Forge) over GitHub.
//!
//! (Crate docs are completed below once the API settles.)

mod forge;
mod transport;
mod wire;

#[cfg(feature = "mock-server")]
pub mod mock;

pub use forge::{DEFAULT_API_URL, GitHubForge, GitHubForgeBuilder};
