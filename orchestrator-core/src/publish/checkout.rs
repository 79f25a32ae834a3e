//! Bringing a clone to the commit a push event names, before a cascade from it.
//!
//! A cascade builds and tags its clones' HEADs, so a new cascade from an event refuses a clone
//! that is not at the event's commit ([`super::check_trigger_sha`]). In a CI job the workflow
//! checks the commit out itself; `serve` owns its clones and receives the push, so it moves the
//! clone itself: fetch the repo's release branch from `origin` and fast-forward to the pushed
//! commit. That is an effect on the clone, so it is a journaled run (kind
//! [`CHECKOUT_RUN_KIND`], one step) like any other, shown by `orchestrator runs`; a clone
//! already at the commit needs no run at all.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::CascadeTrigger;
use crate::config::Config;
use crate::engine::{EngineOptions, Plan, PlannedStep, StepStatus};
use crate::error::{Error, Result};
use crate::release::ORIGIN;
use crate::step::{Check, Step, StepContext, StepOutput};
use crate::vcs::Vcs;
use crate::workspace::params::RunParams;
use crate::workspace::{JournaledRunner, RunStart, first_unfinished};

/// The run kind of a checkout before a cascade (key: `<repo>@<sha>`).
pub const CHECKOUT_RUN_KIND: &str = "checkout";

/// What a checkout run records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutParams {
    /// The configured repo.
    pub repo: String,
    /// Its release branch, fetched from `origin`.
    pub branch: String,
    /// The pushed commit.
    pub sha: String,
}

impl RunParams for CheckoutParams {
    const KIND: &'static str = CHECKOUT_RUN_KIND;
    const VERSION: u32 = 1;
}

/// Fetches and fast-forwards one clone to a commit; done when HEAD is that commit.
#[derive(Debug)]
struct CheckoutStep {
    id: String,
    path: PathBuf,
    branch: String,
    sha: String,
    vcs: Arc<dyn Vcs>,
}

impl CheckoutStep {
    /// HEAD is `sha` (which may be abbreviated).
    async fn at_sha(&self) -> Result<bool> {
        Ok(self
            .vcs
            .head(&self.path)
            .await?
            .commit()
            .is_some_and(|c| is_commit(c, &self.sha)))
    }
}

fn is_commit(full: &str, sha: &str) -> bool {
    full.to_ascii_lowercase()
        .starts_with(&sha.to_ascii_lowercase())
}

#[async_trait]
impl Step for CheckoutStep {
    fn id(&self) -> &str {
        &self.id
    }

    fn describe(&self) -> String {
        format!(
            "fetch {ORIGIN}/{} and fast-forward {} to {}",
            self.branch,
            self.path.display(),
            self.sha
        )
    }

    async fn check(&self, _: &StepContext) -> Result<Check> {
        Ok(if self.at_sha().await? {
            Check::Done(format!("HEAD is {}", self.sha))
        } else {
            Check::Pending(self.describe())
        })
    }

    async fn apply(&self, _: &StepContext) -> Result<StepOutput> {
        self.vcs.fetch(&self.path, ORIGIN, &self.branch).await?;
        self.vcs.fast_forward(&self.path, &self.sha).await?;
        if !self.at_sha().await? {
            return Err(Error::Vcs {
                repo: self.path.display().to_string(),
                message: format!("fast-forwarded, but HEAD is not {}", self.sha),
            });
        }
        Ok(StepOutput::summary(format!("HEAD is {}", self.sha)))
    }
}

/// Moves the clone of `trigger`'s repo to its pushed commit (see the module docs), journaled
/// through `runner`. True when the clone moved; false when it was there already, or when the
/// trigger names no repo or commit (nothing to check out).
pub async fn checkout_pushed(
    config: &Config,
    vcs: Arc<dyn Vcs>,
    runner: &JournaledRunner,
    trigger: &CascadeTrigger,
) -> Result<bool> {
    let (Some(name), Some(sha)) = (&trigger.repo, &trigger.sha) else {
        return Ok(false);
    };
    let repo = config
        .repo(name)
        .ok_or_else(|| Error::invalid_input(format!("unknown repo {name}")))?;
    let step = CheckoutStep {
        id: format!("checkout:{name}"),
        path: repo.path.clone(),
        branch: repo.publish.branch().to_owned(),
        sha: sha.clone(),
        vcs,
    };
    if step.at_sha().await? {
        return Ok(false);
    }
    let start = RunStart::new(
        format!("{name}@{sha}"),
        &CheckoutParams {
            repo: name.clone(),
            branch: step.branch.clone(),
            sha: sha.clone(),
        },
    )?;
    let plan = Plan::new(vec![PlannedStep {
        step: Arc::new(step),
        after: Vec::new(),
    }])?;
    let report = runner
        .open_and_run(start, &plan, EngineOptions::default())
        .await?;
    match first_unfinished(&report, [format!("checkout:{name}")]) {
        None => Ok(true),
        Some(s) if s.status == StepStatus::Interrupted => Err(Error::Cancelled),
        Some(s) => Err(Error::Vcs {
            repo: repo.path.display().to_string(),
            message: format!(
                "cannot check out the pushed commit {sha} (run {}): {}",
                report.run_id, s.summary
            ),
        }),
    }
}
