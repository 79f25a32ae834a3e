//! Executable contracts every backend runs from its own tests.
//!
//! Each suite is a list of `pub async fn <behaviour>(backend)` functions plus a `run_all` that calls
//! them in order; a backend's test calls `run_all` (or the functions one by one, for clearer
//! failure reports).

pub mod cluster;
pub mod forge;
pub mod state;
pub mod vcs;
