//! Applying and rolling back a [`ScalePlan`](super::ScalePlan) against a
//! [`Cluster`](crate::cluster::Cluster).
//!
//! Both are dry-run by default: every write goes to the server with `dryRun=All` and the seed's
//! `preview: kubectl ...` lines describe it for humans. Executing first checks the live state
//! against the plan's recorded `before` (any other value is drift and refuses, naming the field),
//! then runs one journaled [`Step`](crate::step::Step) per change on the shared run scaffolding
//! ([`crate::workspace::JournaledRunner`]: each step's `check` reads the cluster, so a re-run
//! after a crash applies only what is missing), then reads every object back.
//!
//! An accepted write is not a running workload: after the changes, one more journaled step per
//! workload changed waits for its rollout ([`wait_for_rollout`], as `kubectl rollout status`
//! does), up to [`RolloutWait::timeout`]. A re-run after a timeout finds the changes journaled and
//! only checks the rollouts again.
//!
//! An executed apply also journals the state it left ([`RECORD_AFTER_STEP`]). Rollback restores
//! `before` only over that state: a field someone changed since the apply is named and the
//! rollback refused unless forced ([`ScaleExecutor::with_force`]), so a rollback never silently
//! undoes a later fix.
//!
//! One concept a file: [`ScaleExecutor`] (`executor.rs`) drives the rest; the changes as steps
//! (`ops.rs`), the rollout wait (`rollout.rs`), the drift check (`drift.rs`), the live state and
//! what changed since (`state.rs`) and the report (`report.rs`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::scale::approval::GateAction;
use crate::workspace::params::RunParams;

mod drift;
mod executor;
mod ops;
mod report;
mod rollout;
mod state;

pub use drift::check_drift;
pub use executor::ScaleExecutor;
pub use report::{ActionResult, ExecuteReport};
pub use rollout::wait_for_rollout;
pub use state::{changed_since_apply, planned_after, read_state, verify_before};

/// Refuses `--force` for an apply: forcing lets a rollback overwrite changes made after the
/// apply; an apply refuses drift whatever the flags.
pub fn check_force(action: GateAction, force: bool) -> Result<()> {
    if force && action == GateAction::Apply {
        return Err(Error::invalid_input(
            "--force belongs to `scale rollback` (overwrite changes made after the apply); \
             apply refuses drift whatever the flags",
        ));
    }
    Ok(())
}

/// Run kind of journaled applies (key: the plan hash).
pub const APPLY_RUN_KIND: &str = "scale-apply";
/// Run kind of journaled rollbacks (key: the plan hash).
pub const ROLLBACK_RUN_KIND: &str = "scale-rollback";

/// What an apply ([`APPLY_RUN_KIND`]) or rollback ([`ROLLBACK_RUN_KIND`], as [`RollbackParams`])
/// run records (see [`crate::workspace::params`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecuteParams {
    /// The plan's target.
    pub target: String,
    /// Its namespace.
    pub namespace: String,
    /// Its content hash (also the run's key).
    pub plan_hash: String,
}

impl RunParams for ExecuteParams {
    const KIND: &'static str = APPLY_RUN_KIND;
    const VERSION: u32 = 1;
}

/// What a rollback run records: the same fields as an apply's, under its own run kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RollbackParams(pub ExecuteParams);

impl RunParams for RollbackParams {
    const KIND: &'static str = ROLLBACK_RUN_KIND;
    const VERSION: u32 = ExecuteParams::VERSION;
}

/// The journaled apply step whose output is the state the apply left (a
/// [`BeforeState`](super::BeforeState)-shaped record of the same objects).
pub const RECORD_AFTER_STEP: &str = "record-after";

/// Default of [`RolloutWait::timeout`]: kubectl's habit for a rollout is minutes, not seconds.
pub const DEFAULT_ROLLOUT_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Default of [`RolloutWait::poll_interval`].
pub const DEFAULT_ROLLOUT_POLL: Duration = Duration::from_secs(2);

/// How long and how often to wait for the rollouts after executing a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RolloutWait {
    /// Deadline of each workload's wait, from its start.
    pub timeout: Duration,
    /// Pause between status reads (never past the deadline: one last read happens at it).
    pub poll_interval: Duration,
}

impl Default for RolloutWait {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_ROLLOUT_TIMEOUT,
            poll_interval: DEFAULT_ROLLOUT_POLL,
        }
    }
}

#[cfg(test)]
mod rollout_tests;
#[cfg(test)]
mod tests;
