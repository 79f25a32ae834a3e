//! The proposal as journaled steps: commit, push, open the pull request, label it, post the
//! checklist. Each step's read-only check finds an effect an earlier attempt made but did not
//! journal (the branch on the remote, the open pull request of the branch, the label, the
//! checklist), so a crash between an effect and its journal entry never repeats the effect.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::ProposeRequest;
use super::body::checklist_comment;
use crate::error::{Error, Result};
use crate::forge::{Forge, NewPullRequest, RepoId};
use crate::scale::review::LABEL_NEEDS_APPROVAL;
use crate::step::{Check, Step, StepContext, StepOutput};
use crate::vcs::{Head, Vcs};

/// The open pull request whose head is `branch`, if the forge can list them: the proposal an
/// earlier attempt opened (a proposal branch carries the plan's hash, so it is this plan's).
pub(super) async fn open_pr_of_branch(
    forge: &dyn Forge,
    repo: &RepoId,
    branch: &str,
) -> Result<Option<u64>> {
    match forge.list_pull_requests(repo, "open").await {
        Ok(prs) => Ok(prs
            .into_iter()
            .find(|pr| pr.head_ref == branch)
            .map(|pr| pr.number)),
        Err(Error::NotSupported { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The context every propose step needs.
#[derive(Debug)]
pub(super) struct Ctx {
    pub(super) forge: Arc<dyn Forge>,
    pub(super) vcs: Arc<dyn Vcs>,
    pub(super) request: ProposeRequest,
    pub(super) base: String,
    pub(super) branch: String,
    pub(super) files: Vec<(String, Vec<u8>)>,
    pub(super) message: String,
    pub(super) title: String,
    pub(super) body: String,
    /// The pull request once opened, found, or read from the journal of the run resumed.
    pub(super) pr: Mutex<Option<u64>>,
}

impl Ctx {
    /// The proposal's pull request: as this run knows it, else the open one of the branch
    /// (found by an earlier attempt's check, which journals no number).
    pub(super) async fn pr(&self) -> Result<u64> {
        if let Some(number) = *self.known_pr()? {
            return Ok(number);
        }
        let found = open_pr_of_branch(self.forge.as_ref(), &self.request.repo, &self.branch)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: format!(
                    "the proposal's pull request for {} (not opened yet)",
                    self.branch
                ),
            })?;
        self.set_pr(found)?;
        Ok(found)
    }

    pub(super) fn set_pr(&self, number: u64) -> Result<()> {
        *self.known_pr()? = Some(number);
        Ok(())
    }

    fn known_pr(&self) -> Result<std::sync::MutexGuard<'_, Option<u64>>> {
        self.pr
            .lock()
            .map_err(|_| Error::invalid_input("propose: a step panicked"))
    }

    pub(super) async fn remote_branch(&self) -> Result<Option<String>> {
        let name = format!("refs/heads/{}", self.branch);
        let refs = self
            .vcs
            .remote_refs(
                &self.request.clone,
                &self.request.remote,
                std::slice::from_ref(&name),
            )
            .await?;
        Ok(refs.get(&name).cloned())
    }
}

/// The proposal's steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ProposeOp {
    Commit,
    Push,
    PullRequest,
    Label,
    Checklist,
}

impl ProposeOp {
    pub(super) const ALL: [ProposeOp; 5] = [
        ProposeOp::Commit,
        ProposeOp::Push,
        ProposeOp::PullRequest,
        ProposeOp::Label,
        ProposeOp::Checklist,
    ];

    pub(super) fn id(self) -> &'static str {
        match self {
            ProposeOp::Commit => "commit",
            ProposeOp::Push => "push",
            ProposeOp::PullRequest => "pull-request",
            ProposeOp::Label => "label",
            ProposeOp::Checklist => "checklist",
        }
    }
}

/// One of the proposal's steps.
#[derive(Debug)]
pub(super) struct ProposeStep {
    pub(super) op: ProposeOp,
    pub(super) ctx: Arc<Ctx>,
}

#[async_trait]
impl Step for ProposeStep {
    fn id(&self) -> &str {
        self.op.id()
    }

    fn describe(&self) -> String {
        let c = &self.ctx;
        match self.op {
            ProposeOp::Commit => format!(
                "commit the plan on {} from {}/{}",
                c.branch, c.request.remote, c.base
            ),
            ProposeOp::Push => format!("push {} to {}", c.branch, c.request.remote),
            ProposeOp::PullRequest => {
                format!("open a draft pull request {} → {}", c.branch, c.base)
            }
            ProposeOp::Label => format!("label it {LABEL_NEEDS_APPROVAL}"),
            ProposeOp::Checklist => "post the review checklist".into(),
        }
    }

    async fn check(&self, _: &StepContext) -> Result<Check> {
        let c = &self.ctx;
        Ok(match self.op {
            // Pushed already (by an attempt whose journal is gone): the commit exists too.
            ProposeOp::Commit | ProposeOp::Push => match c.remote_branch().await? {
                Some(sha) => {
                    Check::Done(format!("{} is on {} at {sha}", c.branch, c.request.remote))
                }
                None => Check::Pending(self.describe()),
            },
            // Opened by an attempt that died before journaling it: the branch's open PR.
            ProposeOp::PullRequest => {
                match open_pr_of_branch(c.forge.as_ref(), &c.request.repo, &c.branch).await? {
                    Some(number) => {
                        c.set_pr(number)?;
                        Check::Done(format!("#{number} is open for {}", c.branch))
                    }
                    None => Check::Pending(self.describe()),
                }
            }
            ProposeOp::Label => {
                let pr = c.forge.pull_request(&c.request.repo, c.pr().await?).await?;
                if pr.labels.iter().any(|l| l == LABEL_NEEDS_APPROVAL) {
                    Check::Done(format!("#{} is labelled", pr.number))
                } else {
                    Check::Pending(self.describe())
                }
            }
            ProposeOp::Checklist => {
                let comments = c
                    .forge
                    .list_comments(&c.request.repo, c.pr().await?)
                    .await?;
                if comments.iter().any(|x| x.body == checklist_comment()) {
                    Check::Done("the checklist is posted".into())
                } else {
                    Check::Pending(self.describe())
                }
            }
        })
    }

    async fn apply(&self, _: &StepContext) -> Result<StepOutput> {
        let c = &self.ctx;
        let clone = &c.request.clone;
        match self.op {
            ProposeOp::Commit => {
                // Always from the default branch as the remote has it, never from whatever the
                // clone has checked out (a previous proposal's branch, say).
                c.vcs.fetch(clone, &c.request.remote, &c.base).await?;
                let start = c
                    .vcs
                    .remote_tracking(clone, &c.request.remote, &c.base)
                    .await?
                    .ok_or_else(|| Error::NotFound {
                        what: format!("{}/{} in {}", c.request.remote, c.base, clone.display()),
                    })?;
                let on_branch = matches!(
                    c.vcs.head(clone).await?,
                    Head::Branch { ref name, .. } if *name == c.branch
                );
                if !on_branch {
                    c.vcs.checkout_new_branch(clone, &c.branch, &start).await?;
                }
                let commit = match c.vcs.commit_files(clone, &c.files, &c.message).await {
                    Ok(commit) => commit,
                    // A resumed attempt that had committed already: HEAD holds the plan.
                    Err(Error::Conflict { .. }) if on_branch => c
                        .vcs
                        .head(clone)
                        .await?
                        .commit()
                        .map(str::to_owned)
                        .ok_or_else(|| Error::NotFound {
                            what: format!("the commit of {}", c.branch),
                        })?,
                    Err(e) => return Err(e),
                };
                Ok(StepOutput {
                    summary: format!("committed {commit} on {} from {start}", c.branch),
                    data: serde_json::json!({ "commit": commit }),
                })
            }
            ProposeOp::Push => {
                c.vcs
                    .push_branch(clone, &c.request.remote, &c.branch)
                    .await?;
                Ok(StepOutput::summary(format!(
                    "pushed {} to {}",
                    c.branch, c.request.remote
                )))
            }
            ProposeOp::PullRequest => {
                let pr = c
                    .forge
                    .create_pull_request(
                        &c.request.repo,
                        &NewPullRequest {
                            title: c.title.clone(),
                            body: c.body.clone(),
                            head: c.branch.clone(),
                            base: c.base.clone(),
                            draft: true,
                        },
                    )
                    .await?;
                c.set_pr(pr.number)?;
                Ok(StepOutput {
                    summary: format!("opened #{}", pr.number),
                    data: serde_json::json!({ "number": pr.number }),
                })
            }
            ProposeOp::Label => {
                let number = c.pr().await?;
                c.forge
                    .add_labels(&c.request.repo, number, &[LABEL_NEEDS_APPROVAL.to_owned()])
                    .await?;
                Ok(StepOutput::summary(format!(
                    "labelled #{number} {LABEL_NEEDS_APPROVAL}"
                )))
            }
            ProposeOp::Checklist => {
                let number = c.pr().await?;
                c.forge
                    .create_comment(&c.request.repo, number, &checklist_comment())
                    .await?;
                Ok(StepOutput::summary(format!(
                    "posted the checklist on #{number}"
                )))
            }
        }
    }
}
