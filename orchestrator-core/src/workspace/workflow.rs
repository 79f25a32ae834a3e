//! One run driver for every capability.
//!
//! Each capability used to wrap the engine in its own runner and decide on its own when to lock,
//! what to plan against and how to report. A [`Workflow`] states only what differs: how to
//! validate and plan a request (against a store: read-only for a dry run, the journal under the
//! lock for a run), which forge read proves the credentials, how to execute a plan and what its
//! report's [`Outcome`] is. [`super::Workspace::run`] supplies the rest in one order.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use super::Workspace;
use crate::error::Result;
use crate::forge::RepoId;
use crate::state::{RunStatus, StateStore};

/// How any run ended, in one vocabulary for every capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Everything the plan asked for is in place.
    Succeeded,
    /// Something failed; the journal says what, `--resume` continues.
    Failed,
    /// Stopped by Ctrl-C or SIGTERM; `--resume` continues.
    Interrupted,
    /// Nothing was changed on purpose (a preview, a refused or ignored command).
    Unchanged,
}

impl Outcome {
    /// The outcome of a journaled run that ended with `status`.
    pub fn of_status(status: RunStatus) -> Self {
        match status {
            RunStatus::Succeeded => Self::Succeeded,
            RunStatus::Cancelled => Self::Interrupted,
            _ => Self::Failed,
        }
    }

    /// True unless the run failed or was interrupted.
    pub fn is_success(self) -> bool {
        matches!(self, Self::Succeeded | Self::Unchanged)
    }

    /// The documented process exit code: 0 on success, 1 when the run must be continued.
    pub fn exit_code(self) -> u8 {
        if self.is_success() { 0 } else { 1 }
    }

    /// The word scripts read (`status=` in a GitHub Actions job).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
            Self::Unchanged => "unchanged",
        }
    }
}

/// A workflow's report with its outcome.
#[derive(Debug, Clone)]
pub struct Finished<R> {
    /// The capability's own report.
    pub report: R,
    /// How it ended.
    pub outcome: Outcome,
}

/// What an executing workflow gets from the driver: the workspace (config, backends, cancel
/// token, observer) and the store of the session holding the lock.
#[derive(Debug)]
pub struct RunContext<'a> {
    /// The workspace.
    pub workspace: &'a Workspace,
    /// The writable store, under the workspace lock.
    pub store: Arc<dyn StateStore>,
}

impl RunContext<'_> {
    /// The engine scaffolding for this run: journals into the session's store, reports to the
    /// workspace's observer, stops on its cancel token.
    pub fn runner(&self) -> super::JournaledRunner {
        super::JournaledRunner {
            store: self.store.clone(),
            observer: self.workspace.observer().clone(),
            cancel: self.workspace.cancel_token().clone(),
        }
    }
}

/// One capability, as the driver runs it; see the module docs.
#[async_trait]
pub trait Workflow: Send + Sync {
    /// The plan (what a dry run prints).
    type Plan: Serialize + Send + Sync;
    /// The report of an executed plan.
    type Report: Serialize + Send;

    /// Who holds the workspace lock while this runs (`release 1.2.3`): what a refused second
    /// run is told.
    fn holder(&self) -> String;

    /// Checks the request against the config without reading any state; bad input stops here.
    fn validate(&self, workspace: &Workspace) -> Result<()> {
        let _ = workspace;
        Ok(())
    }

    /// Plans against `store`: the journal decides what a resume skips. Changes nothing.
    async fn plan(&self, workspace: &Workspace, store: &dyn StateStore) -> Result<Self::Plan>;

    /// The forge read that proves the credentials before any effect (a repo and a tag), when the
    /// plan will write to or wait on the forge.
    fn probe(&self, plan: &Self::Plan) -> Option<(RepoId, String)> {
        let _ = plan;
        None
    }

    /// Executes the plan, journaled in `context.store`.
    async fn execute(&self, context: &RunContext<'_>, plan: Self::Plan) -> Result<Self::Report>;

    /// How the report ended.
    fn outcome(report: &Self::Report) -> Outcome;
}
