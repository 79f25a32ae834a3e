//! Proposing a plan: commit `plan.yaml` and `SUMMARY.md` on a branch cut from the default branch,
//! push it and open a draft pull request whose description shows the plan (before → after per
//! workload and field, the risks, the target it locks) and carries the plan marker.
//!
//! Kept apart from [`super::review`] (approvals and the gate) because proposing is a mutation of
//! the repository and the forge, while review only reads and answers comments. Like every other
//! mutation it runs as journaled steps on the shared run scaffolding ([`JournaledRunner`]): the
//! token is checked before anything changes, and a failure part way (the PR could not be opened
//! after the push) is resumed by running the same command again, which skips what the journal
//! says is done instead of failing on the branch it pushed last time; an effect made but not
//! journaled (a crash right after the PR opened) is found by its step's check.
//!
//! The text reviewers read is in `body.rs`, the steps in `steps.rs`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::forge::{Forge, PullRequest, RepoId};
use crate::scale::approval::ApprovalPolicy;
use crate::scale::{ScalePlan, lock, plan_dir_in_repo};
use crate::state::{RunId, RunStatus, StateStore};
use crate::step::Step;
use crate::vcs::{Head, Vcs};
use crate::workspace::params::{self, RunParams};
use crate::workspace::{JournaledRunner, RunStart, journaled_output, stopped_error};

mod body;
mod steps;

pub use body::{checklist_comment, plan_comment, pr_body, target_keys};
use steps::{Ctx, ProposeOp, ProposeStep, open_pr_of_branch};

/// Run kind of journaled proposals (key: the plan hash).
pub const PROPOSE_RUN_KIND: &str = "scale-propose";

/// What a propose run records (see [`crate::workspace::params`]); a resumed run keeps its base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposeParams {
    /// The repository.
    pub repo: String,
    /// The proposal branch.
    pub branch: String,
    /// The base branch it starts from.
    #[serde(default)]
    pub base: Option<String>,
    /// The plan's content hash.
    pub plan_hash: String,
}

impl RunParams for ProposeParams {
    const KIND: &'static str = PROPOSE_RUN_KIND;
    const VERSION: u32 = 1;
}

/// Where and how to propose.
#[derive(Debug, Clone)]
pub struct ProposeRequest {
    /// The repository on the forge.
    pub repo: RepoId,
    /// The local clone to commit in.
    pub clone: PathBuf,
    /// The remote to push to.
    pub remote: String,
    /// The PR's base branch, which the proposal branch starts from (`<remote>/<base>`, fetched
    /// first). Default: the branch the clone's `<remote>/HEAD` names, else its current branch.
    pub base: Option<String>,
    /// Who may release another plan's lock with `/unlock-plan` (the `[scale]` policy of a
    /// trusted checkout).
    pub policy: ApprovalPolicy,
}

/// What was proposed.
#[derive(Debug, Clone, Serialize)]
pub struct Proposal {
    /// The PR.
    pub pull_request: PullRequest,
    /// Its branch.
    pub branch: String,
    /// The commit with the plan files.
    pub commit: String,
    /// The files committed, repository-relative.
    pub files: Vec<String>,
    /// The journaled run.
    pub run_id: RunId,
}

/// The branch a plan is proposed on: `infra-scale/<target>-<first 12 hex of the hash>`.
pub fn proposal_branch(plan: &ScalePlan) -> String {
    let hex = plan.hash().trim_start_matches("sha256:");
    format!(
        "infra-scale/{}-{}",
        plan.metadata.target,
        &hex[..hex.len().min(12)]
    )
}

/// Checks the forge accepts the credentials with one read, before anything changes: the current
/// user where the backend knows it, else a read of the repository's releases. A rejected or
/// insufficient token is an error; any other failure is left for the steps to meet.
pub async fn check_credentials(forge: &dyn Forge, repo: &RepoId) -> Result<()> {
    let outcome = match forge.current_user().await {
        Err(Error::NotSupported { .. }) => forge.latest_release(repo).await.map(|_| ()),
        other => other.map(|_| ()),
    };
    match outcome {
        Err(e @ (Error::Unauthenticated { .. } | Error::PermissionDenied { .. })) => Err(e),
        _ => Ok(()),
    }
}

/// Proposes `plan`: checks the token, then, as journaled steps, commits `plan.yaml` and
/// `SUMMARY.md` to `ops/plans/infra-scale/<target>/` on a new branch started from
/// `<remote>/<base>`, pushes it, opens a draft PR labelled `needs-approval` and posts the
/// checklist. A failed run is resumed by calling this again with the same plan and `store`; a
/// plan proposed already is `AlreadyExists` naming its PR.
pub async fn propose(
    forge: Arc<dyn Forge>,
    vcs: Arc<dyn Vcs>,
    store: Arc<dyn StateStore>,
    plan: &ScalePlan,
    request: &ProposeRequest,
) -> Result<Proposal> {
    propose_with(&JournaledRunner::new(store), forge, vcs, plan, request).await
}

/// [`propose`], journaled by `runner` (a workspace session's: its store, progress observer and
/// cancel token).
pub async fn propose_with(
    runner: &JournaledRunner,
    forge: Arc<dyn Forge>,
    vcs: Arc<dyn Vcs>,
    plan: &ScalePlan,
    request: &ProposeRequest,
) -> Result<Proposal> {
    check_credentials(forge.as_ref(), &request.repo).await?;
    let store = runner.store().as_ref();
    let hash = plan.hash().to_owned();
    let branch = proposal_branch(plan);
    let pr_of = |run: RunId| proposal_pr(store, run, forge.as_ref(), &request.repo, &branch);
    // One proposal per plan.
    let previous = store.runs(Some(PROPOSE_RUN_KIND), Some(&hash), 1).await?;
    if let Some(done) = previous.iter().find(|r| r.status == RunStatus::Succeeded) {
        let pr = pr_of(done.id).await?;
        return Err(Error::AlreadyExists {
            what: format!(
                "a proposal of plan {hash} ({}run {})",
                pr.map(|n| format!("pull request #{n}, "))
                    .unwrap_or_default(),
                done.id
            ),
        });
    }
    // One open plan per target: a workload another open plan PR holds is refused before anything
    // is committed or pushed (a resumed run of this plan holds its own lock, skipped here).
    let resumed = store.resumable(PROPOSE_RUN_KIND, &hash).await?;
    let own_pr = match &resumed {
        Some(run) => pr_of(run.id).await?,
        None => None,
    };
    if let Some(lock) =
        lock::find_lock(forge.as_ref(), &request.repo, plan, own_pr, &request.policy).await?
    {
        return Err(Error::Conflict {
            message: format!("this plan's target is locked: {}", lock.describe()),
        });
    }
    // A resumed run keeps its base (the clone is on the proposal branch by then).
    let journaled_base = match &resumed {
        Some(run) => params::decode::<ProposeParams>(run)?.base,
        None => None,
    };
    let base = match (&request.base, journaled_base) {
        (Some(base), _) => base.clone(),
        (None, Some(base)) => base,
        (None, None) => default_base(vcs.as_ref(), request).await?,
    };
    let dir = plan_dir_in_repo(&plan.metadata.target);
    let files = vec![
        (format!("{dir}/plan.yaml"), plan.to_yaml().into_bytes()),
        (format!("{dir}/SUMMARY.md"), plan.summary_md().into_bytes()),
    ];
    let ctx = Arc::new(Ctx {
        forge: forge.clone(),
        vcs,
        request: request.clone(),
        base: base.clone(),
        branch: branch.clone(),
        message: format!(
            "infra-scale: {} plan for {} ({})",
            plan.metadata.target, plan.context.namespace, hash
        ),
        title: format!(
            "Infra scale plan: {} ({})",
            plan.metadata.target, plan.context.namespace
        ),
        body: pr_body(plan),
        files: files.clone(),
        pr: Mutex::new(own_pr),
    });
    let start = RunStart::resume_or_new(resumed.map(|r| r.id), &hash, || ProposeParams {
        repo: request.repo.to_string(),
        branch: branch.clone(),
        base: Some(base),
        plan_hash: hash.clone(),
    })?;
    let run = runner.open(start).await?;
    let steps = ProposeOp::ALL.map(|op| {
        Arc::new(ProposeStep {
            op,
            ctx: ctx.clone(),
        }) as Arc<dyn Step>
    });
    let outcome = runner.run_in_order(steps, run).await?;
    if outcome.status != RunStatus::Succeeded {
        return Err(stopped_error("propose", &outcome));
    }
    let number = ctx.pr().await?;
    let commit = ctx.remote_branch().await?.ok_or_else(|| Error::NotFound {
        what: format!("{branch} on {}", request.remote),
    })?;
    let pull_request = forge.pull_request(&request.repo, number).await?;
    Ok(Proposal {
        pull_request,
        branch,
        commit,
        files: files.into_iter().map(|(path, _)| path).collect(),
        run_id: run,
    })
}

/// The branch a new proposal starts from when none is given: the clone's current branch, which
/// must not be an earlier proposal's.
async fn default_base(vcs: &dyn Vcs, request: &ProposeRequest) -> Result<String> {
    match vcs.head(&request.clone).await? {
        Head::Branch { name, .. } if !name.starts_with("infra-scale/") => Ok(name),
        other => Err(Error::invalid_input(format!(
            "{}: HEAD is {}, not the default branch; pass --base BRANCH",
            request.clone.display(),
            match other {
                Head::Branch { name, .. } => format!("on {name}"),
                other => format!("{other:?}"),
            }
        ))),
    }
}

/// The pull request of propose run `run`: the number its journal holds, else the open pull
/// request of its branch (an attempt that found it by its check journaled no number).
async fn proposal_pr(
    store: &dyn StateStore,
    run: RunId,
    forge: &dyn Forge,
    repo: &RepoId,
    branch: &str,
) -> Result<Option<u64>> {
    let journaled = journaled_output(store, run, ProposeOp::PullRequest.id())
        .await?
        .and_then(|data| data.get("number").and_then(serde_json::Value::as_u64));
    match journaled {
        Some(number) => Ok(Some(number)),
        None => open_pr_of_branch(forge, repo, branch).await,
    }
}
