//! Proposing a plan: commit `plan.yaml` and `SUMMARY.md` on a branch, push it and open a draft
//! pull request that carries the plan marker and the review checklist.
//!
//! Kept apart from [`super::review`] (approvals and the gate) because proposing is a mutation of
//! the repository and the forge, while review only reads and answers comments.

use std::path::PathBuf;

use serde::Serialize;

use super::plan::ScalePlan;
use super::review::{LABEL_EXECUTE, LABEL_NEEDS_APPROVAL, LABEL_ROLLBACK, PLAN_MARKER};
use crate::error::{Error, Result};
use crate::forge::{Forge, NewPullRequest, PullRequest, RepoId};
use crate::vcs::{Head, Vcs};

/// The PR body: the seed's summary with the actions table, plus the plan marker.
pub fn pr_body(plan: &ScalePlan) -> String {
    let dir = super::plan_dir_in_repo(&plan.metadata.target);
    format!(
        "## Infra Scale Plan — **{target}**\n\n- Namespace: `{ns}`\n- Autoscaling: `{auto}`\n- Plan hash: `{hash}`\n\n\
         ### Artifacts\n- `{dir}/plan.yaml` (in this PR)\n- `{dir}/SUMMARY.md` (in this PR)\n\n\
         ### Actions (summary)\n{table}\n\
         > Comment **/approve-plan** (write access, not the author) to add **`{exec}`** and apply; \
         **/rollback-plan** to add **`{rb}`** and restore the recorded before state. An approval \
         is bound to this plan's hash and the PR's head commit: a push after approval needs a new \
         one.\n\n{PLAN_MARKER}hash={hash} path={dir}/plan.yaml -->\n",
        target = plan.metadata.target,
        ns = plan.context.namespace,
        auto = plan.assumptions.autoscaling,
        hash = plan.hash(),
        table = plan.actions_table(),
        exec = LABEL_EXECUTE,
        rb = LABEL_ROLLBACK,
    )
}

/// The review checklist comment.
pub fn checklist_comment() -> String {
    format!(
        "## ✅ Infra Scale Plan – Review Checklist\n\n\
         - [ ] Review `plan.yaml` and `SUMMARY.md`\n\
         - [ ] Confirm namespace and workloads\n\
         - [ ] Check the recorded before state (what rollback restores)\n\
         - [ ] Capacity & budget LGTM\n\n\
         ### Quick actions\n\
         - To **apply** this plan, comment: **/approve-plan** (adds label `{LABEL_EXECUTE}`)\n\
         - To **prepare rollback**, comment: **/rollback-plan** (adds label `{LABEL_ROLLBACK}`)\n\n\
         > Both actions are label-gated by CI and need write access; the PR author cannot approve \
         their own plan. Remove labels to stop jobs. 🚦\n"
    )
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
    /// The PR's base branch (default: the clone's current branch).
    pub base: Option<String>,
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

/// Commits `plan.yaml` and `SUMMARY.md` to `ops/plans/infra-scale/<target>/` on a new branch,
/// pushes it, opens a draft PR labelled `needs-approval` and posts the checklist.
pub async fn propose(
    forge: &dyn Forge,
    vcs: &dyn Vcs,
    plan: &ScalePlan,
    request: &ProposeRequest,
) -> Result<Proposal> {
    let base = match &request.base {
        Some(base) => base.clone(),
        None => match vcs.head(&request.clone).await? {
            Head::Branch { name, .. } => name,
            other => {
                return Err(Error::invalid_input(format!(
                    "{}: HEAD is not on a branch ({other:?}); pass --base",
                    request.clone.display()
                )));
            }
        },
    };
    let branch = proposal_branch(plan);
    let dir = super::plan_dir_in_repo(&plan.metadata.target);
    let files = vec![
        (format!("{dir}/plan.yaml"), plan.to_yaml().into_bytes()),
        (format!("{dir}/SUMMARY.md"), plan.summary_md().into_bytes()),
    ];
    vcs.checkout_new_branch(&request.clone, &branch, "HEAD")
        .await?;
    let commit = vcs
        .commit_files(
            &request.clone,
            &files,
            &format!(
                "infra-scale: {} plan for {} ({})",
                plan.metadata.target,
                plan.context.namespace,
                plan.hash()
            ),
        )
        .await?;
    vcs.push_branch(&request.clone, &request.remote, &branch)
        .await?;
    let pr = forge
        .create_pull_request(
            &request.repo,
            &NewPullRequest {
                title: format!(
                    "Infra scale plan: {} ({})",
                    plan.metadata.target, plan.context.namespace
                ),
                body: pr_body(plan),
                head: branch.clone(),
                base,
                draft: true,
            },
        )
        .await?;
    forge
        .add_labels(&request.repo, pr.number, &[LABEL_NEEDS_APPROVAL.to_owned()])
        .await?;
    forge
        .create_comment(&request.repo, pr.number, &checklist_comment())
        .await?;
    let pull_request = forge.pull_request(&request.repo, pr.number).await?;
    Ok(Proposal {
        pull_request,
        branch,
        commit,
        files: files.into_iter().map(|(path, _)| path).collect(),
    })
}
