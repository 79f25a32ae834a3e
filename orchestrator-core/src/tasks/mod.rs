//! `orchestrator tasks`: scheduled task lists with gates and a stored record per task.

pub mod config;
