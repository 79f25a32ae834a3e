//! What an apply or a rollback reports: the seed's JSON summary, per change and per rollout.
//!
//! It is also journaled (a pull-request command records the report it answered with), so it
//! reads back as well as it is written.

use serde::{Deserialize, Serialize};

use crate::scale::BeforeState;
use crate::state::RunId;

/// One change (or one rollout wait) and how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionResult {
    /// The step id, e.g. `scale:Deployment/web`, `rollout:Deployment/web`.
    pub id: String,
    /// The equivalent kubectl command.
    pub command: String,
    /// `previewed` (dry-run accepted), `applied`, `already_done`, `verified`, `rolled_out`,
    /// `failed`.
    pub status: String,
    /// Details or the error.
    pub detail: String,
}

/// The seed's JSON summary `{ ok, executed, namespace, results }`, plus the plan hash and run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecuteReport {
    /// Everything succeeded (and verified, when executed).
    pub ok: bool,
    /// False for a dry run.
    pub executed: bool,
    /// The plan's namespace.
    pub namespace: String,
    /// The plan's hash.
    pub plan_hash: String,
    /// The `preview: kubectl ...` lines (without the prefix).
    #[serde(skip)]
    pub previews: Vec<String>,
    /// Per change.
    pub results: Vec<ActionResult>,
    /// Per workload changed, its rollout wait (executed runs that wait only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollouts: Vec<ActionResult>,
    /// The first failure, one line naming what failed (`None` when `ok`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The journaled run, when executed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<RunId>,
    /// An executed apply: the planned objects as the apply left them (read back after the
    /// changes, journaled as the step [`super::RECORD_AFTER_STEP`]). Rollback compares the live state
    /// with it and refuses to overwrite what changed since (see
    /// [`super::ScaleExecutor::with_force`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<BeforeState>,
}

impl ExecuteReport {
    /// An empty, successful report of `plan_hash` in `namespace`.
    pub(super) fn new(namespace: &str, plan_hash: &str, executed: bool) -> Self {
        Self {
            ok: true,
            executed,
            namespace: namespace.to_owned(),
            plan_hash: plan_hash.to_owned(),
            previews: Vec::new(),
            results: Vec::new(),
            rollouts: Vec::new(),
            error: None,
            run_id: None,
            after: None,
        }
    }

    /// Marks the report failed, keeping the first failure as its error line.
    pub(super) fn fail(&mut self, error: String) {
        self.ok = false;
        self.error.get_or_insert(error);
    }
}
