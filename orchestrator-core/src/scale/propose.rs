//! Proposing a plan: commit `plan.yaml` and `SUMMARY.md` on a branch cut from the default branch,
//! push it and open a draft pull request whose description shows the plan (before → after per
//! workload and field, the risks, the target it locks) and carries the plan marker.
//!
//! Kept apart from [`super::review`] (approvals and the gate) because proposing is a mutation of
//! the repository and the forge, while review only reads and answers comments. Like every other
//! mutation it runs as journaled steps on the [`Engine`]: the token is checked before anything
//! changes, and a failure part way (the PR could not be opened after the push) is resumed by
//! running the same command again, which skips what the journal says is done instead of failing
//! on the branch it pushed last time.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::Serialize;

use super::approval::ApprovalPolicy;
use super::execute::planned_after;
use super::plan::ScalePlan;
use super::review::{LABEL_NEEDS_APPROVAL, PLAN_MARKER};
use crate::cluster::ResourceList;
use crate::engine::{Engine, EngineOptions, Plan, PlannedStep, SilentObserver};
use crate::error::{Error, Result};
use crate::forge::{Forge, NewPullRequest, PullRequest, RepoId};
use crate::state::{JournalEntry, RunStatus, StateStore};
use crate::step::{Check, Step, StepContext, StepOutput};
use crate::vcs::{Head, Vcs};

/// Run kind of journaled proposals (key: the plan hash).
pub const PROPOSE_RUN_KIND: &str = "scale-propose";

/// What a propose run records (see [`crate::workspace::params`]); a resumed run keeps its base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
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

impl crate::workspace::params::RunParams for ProposeParams {
    const KIND: &'static str = PROPOSE_RUN_KIND;
    const VERSION: u32 = 1;
}

/// The targets a plan locks, one per workload, for people: `<kube context>/<namespace>/<Kind>/<name>`
/// (`-` when the plan names no context, i.e. the current one). Derived from
/// [`TargetKey::of`](super::lock::TargetKey::of), the key the lock check compares; the PR body
/// carries it as [`lock_marker`](super::lock::lock_marker).
pub fn target_keys(plan: &ScalePlan) -> Vec<String> {
    let key = super::lock::TargetKey::of(plan);
    key.workloads
        .iter()
        .map(|w| format!("{}/{}/{w}", key.context, key.namespace))
        .collect()
}

/// The plan as a reviewer reads it: before → after per workload and field (what the cluster
/// holds now, what it will hold once applied), the risks, and the targets it locks.
pub fn plan_comment(plan: &ScalePlan) -> String {
    let mut out = String::from("### Changes (before → after)\n\n");
    match &plan.before {
        None => out.push_str(
            "The live state was not read (`from: ${detect}`): only the planned values are \
             known, and the plan cannot be executed. Plan again with `--cluster`.\n\n",
        ),
        Some(before) => {
            let after = planned_after(plan, before);
            let mut rows = Vec::new();
            for (b, a) in before.workloads.iter().zip(&after.workloads) {
                let object = format!("{}/{}", b.kind, b.name);
                if b.replicas != a.replicas {
                    rows.push((
                        object.clone(),
                        "replicas".to_owned(),
                        b.replicas.to_string(),
                        a.replicas.to_string(),
                    ));
                }
                for (bc, ac) in b.containers.iter().zip(&a.containers) {
                    for (field, bl, al) in [
                        ("requests", &bc.requests, &ac.requests),
                        ("limits", &bc.limits, &ac.limits),
                    ] {
                        for (key, before_value, after_value) in changed_keys(bl, al) {
                            rows.push((
                                format!("{object} container `{}`", bc.name),
                                format!("{field}.{key}"),
                                before_value,
                                after_value,
                            ));
                        }
                    }
                }
            }
            for (b, a) in before.hpas.iter().zip(&after.hpas) {
                if b.hpa != a.hpa {
                    let show = |h: Option<&crate::cluster::Hpa>| {
                        h.map_or_else(
                            || "none".to_owned(),
                            |h| {
                                format!(
                                    "min {} · max {} · cpu {}",
                                    h.min_replicas,
                                    h.max_replicas,
                                    h.target_cpu_percent
                                        .map_or_else(|| "-".to_owned(), |c| format!("{c}%"))
                                )
                            },
                        )
                    };
                    rows.push((
                        format!("HorizontalPodAutoscaler/{}", b.name),
                        "min · max · cpu".to_owned(),
                        show(b.hpa.as_ref()),
                        show(a.hpa.as_ref()),
                    ));
                }
            }
            if rows.is_empty() {
                out.push_str("Nothing changes: the cluster already holds this plan.\n\n");
            } else {
                out.push_str("| Object | Field | Before | After |\n|:--|:--|:--|:--|\n");
                for (object, field, b, a) in rows {
                    out.push_str(&format!("| {object} | {field} | `{b}` | **`{a}`** |\n"));
                }
                out.push('\n');
            }
        }
    }
    out.push_str("### Risks\n\n");
    if plan.risks.is_empty() {
        out.push_str("- none\n");
    }
    for risk in &plan.risks {
        out.push_str(&format!("- ⚠️ {risk}\n"));
    }
    if !plan.notes.is_empty() {
        out.push_str("\n### Notes\n\n");
        for note in &plan.notes {
            out.push_str(&format!("- {note}\n"));
        }
    }
    out.push_str(
        "\n### Lock\n\nWhile this pull request is open it holds these targets (context / \
         namespace / workload); another plan for them is refused until it merges or closes, or \
         an approver comments **/unlock-plan**:\n\n",
    );
    for key in target_keys(plan) {
        out.push_str(&format!("- `{key}`\n"));
    }
    out
}

/// The keys of two resource lists whose values differ, with both values (`none` when unset).
fn changed_keys(before: &ResourceList, after: &ResourceList) -> Vec<(String, String, String)> {
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| {
            let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| "none".to_owned());
            (k.clone(), show(before.get(k)), show(after.get(k)))
        })
        .collect()
}

/// The PR body: the summary, the plan as a reviewer reads it ([`plan_comment`]), the plan
/// marker (hash and path) and the lock marker (the targets it holds while open).
pub fn pr_body(plan: &ScalePlan) -> String {
    let dir = super::plan_dir_in_repo(&plan.metadata.target);
    format!(
        "## Infra Scale Plan — **{target}**\n\n- Namespace: `{ns}`\n- Kube context: `{ctx}`\n\
         - Autoscaling: `{auto}`\n- Plan hash: `{hash}`\n\n\
         ### Artifacts\n- `{dir}/plan.yaml` (in this PR)\n- `{dir}/SUMMARY.md` (in this PR)\n\n\
         ### Actions (summary)\n{table}\n{comment}\n\
         > Comment **/apply-plan** (an approver who neither opened this pull request nor \
         pushed to it) to apply it; **/rollback-plan** to restore the recorded before state. \
         An approval is bound to this plan's hash and the PR's head commit: a push after \
         approval needs a new one.\n\n\
         {PLAN_MARKER}hash={hash} path={dir}/plan.yaml -->\n{lock}\n",
        target = plan.metadata.target,
        ns = plan.context.namespace,
        ctx = plan.context.kube_context.as_deref().unwrap_or("default"),
        auto = plan.assumptions.autoscaling,
        hash = plan.hash(),
        table = plan.actions_table(),
        comment = plan_comment(plan),
        lock = super::lock::lock_marker(plan),
    )
}

/// The review checklist comment.
pub fn checklist_comment() -> String {
    "## ✅ Infra Scale Plan – Review Checklist\n\n\
     - [ ] Review `plan.yaml` and `SUMMARY.md`\n\
     - [ ] Confirm the kube context, namespace and workloads (the lock in the description)\n\
     - [ ] Check the before → after table and the recorded before state (what rollback restores)\n\
     - [ ] Weigh the risks; capacity & budget LGTM\n\n\
     ### Quick actions\n\
     - To **apply** this plan, comment: **/apply-plan**\n\
     - To **roll it back**, comment: **/rollback-plan**\n\
     - To **release the lock** without applying, comment: **/unlock-plan**\n\n\
     > Commands are verified on GitHub when they run: the approver needs write access and must \
     not have opened or pushed to this pull request. 🚦\n"
        .to_owned()
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
    pub run_id: crate::state::RunId,
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

/// What the steps share: the PR once opened (or found in the journal of the run resumed).
#[derive(Debug, Default)]
struct Shared {
    pr: Mutex<Option<u64>>,
}

impl Shared {
    fn pr(&self) -> Result<u64> {
        self.pr
            .lock()
            .map_err(|_| Error::invalid_input("propose: a step panicked"))?
            .ok_or_else(|| Error::NotFound {
                what: "the proposal's pull request (not opened yet)".into(),
            })
    }

    fn set_pr(&self, number: u64) {
        if let Ok(mut pr) = self.pr.lock() {
            *pr = Some(number);
        }
    }
}

/// The context every propose step needs.
#[derive(Debug)]
struct Ctx {
    forge: Arc<dyn Forge>,
    vcs: Arc<dyn Vcs>,
    request: ProposeRequest,
    base: String,
    branch: String,
    files: Vec<(String, Vec<u8>)>,
    message: String,
    title: String,
    body: String,
    shared: Shared,
}

impl Ctx {
    async fn remote_branch(&self) -> Result<Option<String>> {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProposeOp {
    Commit,
    Push,
    PullRequest,
    Label,
    Checklist,
}

impl ProposeOp {
    const ALL: [ProposeOp; 5] = [
        ProposeOp::Commit,
        ProposeOp::Push,
        ProposeOp::PullRequest,
        ProposeOp::Label,
        ProposeOp::Checklist,
    ];

    fn id(self) -> &'static str {
        match self {
            ProposeOp::Commit => "commit",
            ProposeOp::Push => "push",
            ProposeOp::PullRequest => "pull-request",
            ProposeOp::Label => "label",
            ProposeOp::Checklist => "checklist",
        }
    }
}

#[derive(Debug)]
struct ProposeStep {
    op: ProposeOp,
    ctx: Arc<Ctx>,
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
            ProposeOp::PullRequest => Check::Pending(self.describe()),
            ProposeOp::Label => {
                let pr = c
                    .forge
                    .pull_request(&c.request.repo, c.shared.pr()?)
                    .await?;
                if pr.labels.iter().any(|l| l == LABEL_NEEDS_APPROVAL) {
                    Check::Done(format!("#{} is labelled", pr.number))
                } else {
                    Check::Pending(self.describe())
                }
            }
            ProposeOp::Checklist => {
                let comments = c
                    .forge
                    .list_comments(&c.request.repo, c.shared.pr()?)
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
                c.shared.set_pr(pr.number);
                Ok(StepOutput {
                    summary: format!("opened #{}", pr.number),
                    data: serde_json::json!({ "number": pr.number }),
                })
            }
            ProposeOp::Label => {
                let number = c.shared.pr()?;
                c.forge
                    .add_labels(&c.request.repo, number, &[LABEL_NEEDS_APPROVAL.to_owned()])
                    .await?;
                Ok(StepOutput::summary(format!(
                    "labelled #{number} {LABEL_NEEDS_APPROVAL}"
                )))
            }
            ProposeOp::Checklist => {
                let number = c.shared.pr()?;
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
    check_credentials(forge.as_ref(), &request.repo).await?;
    let hash = plan.hash().to_owned();
    // One open plan per target: a workload another open plan PR holds is refused before anything
    // is committed or pushed (a resumed run of this plan holds its own lock, skipped below).
    let previous = store.runs(Some(PROPOSE_RUN_KIND), Some(&hash), 1).await?;
    if let Some(done) = previous.iter().find(|r| r.status == RunStatus::Succeeded) {
        let pr = journaled_pr(store.as_ref(), done.id).await?;
        return Err(Error::AlreadyExists {
            what: format!(
                "a proposal of plan {hash} ({}run {})",
                pr.map(|n| format!("pull request #{n}, "))
                    .unwrap_or_default(),
                done.id
            ),
        });
    }
    let resumed = store.resumable(PROPOSE_RUN_KIND, &hash).await?;
    let own_pr = match &resumed {
        Some(run) => journaled_pr(store.as_ref(), run.id).await?,
        None => None,
    };
    if let Some(lock) =
        super::lock::find_lock(forge.as_ref(), &request.repo, plan, own_pr, &request.policy).await?
    {
        return Err(Error::Conflict {
            message: format!("this plan's target is locked: {}", lock.describe()),
        });
    }
    // A resumed run keeps its base (the clone is on the proposal branch by then).
    let journaled_base = match &resumed {
        Some(run) => crate::workspace::params::decode::<ProposeParams>(run)?.base,
        None => None,
    };
    let base = match (&request.base, journaled_base) {
        (Some(base), _) => base.clone(),
        (None, Some(base)) => base,
        (None, None) => match vcs.head(&request.clone).await? {
            Head::Branch { name, .. } if !name.starts_with("infra-scale/") => name,
            other => {
                return Err(Error::invalid_input(format!(
                    "{}: HEAD is {}, not the default branch; pass --base BRANCH",
                    request.clone.display(),
                    match other {
                        Head::Branch { name, .. } => format!("on {name}"),
                        other => format!("{other:?}"),
                    }
                )));
            }
        },
    };
    let dir = super::plan_dir_in_repo(&plan.metadata.target);
    let files = vec![
        (format!("{dir}/plan.yaml"), plan.to_yaml().into_bytes()),
        (format!("{dir}/SUMMARY.md"), plan.summary_md().into_bytes()),
    ];
    let branch = proposal_branch(plan);
    let ctx = Arc::new(Ctx {
        forge: forge.clone(),
        vcs: vcs.clone(),
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
        shared: Shared::default(),
    });
    let run = match resumed {
        Some(run) => {
            if let Some(number) = journaled_pr(store.as_ref(), run.id).await? {
                ctx.shared.set_pr(number);
            }
            store.set_status(run.id, RunStatus::Running).await?;
            run.id
        }
        None => {
            store
                .begin_run(
                    PROPOSE_RUN_KIND,
                    &hash,
                    &crate::workspace::params::encode(&ProposeParams {
                        repo: request.repo.to_string(),
                        branch: branch.clone(),
                        base: Some(base.clone()),
                        plan_hash: hash.clone(),
                    })?,
                )
                .await?
        }
    };
    let mut steps: Vec<PlannedStep> = Vec::new();
    for op in ProposeOp::ALL {
        let after = steps
            .last()
            .map(|s| vec![s.step.id().to_owned()])
            .unwrap_or_default();
        steps.push(PlannedStep {
            step: Arc::new(ProposeStep {
                op,
                ctx: ctx.clone(),
            }),
            after,
        });
    }
    let engine = Engine::new(
        store.clone(),
        EngineOptions {
            concurrency: 1,
            ..EngineOptions::default()
        },
    )
    .with_observer(Arc::new(SilentObserver));
    let outcome = engine.run(&Plan::new(steps)?, run).await?;
    if outcome.status != RunStatus::Succeeded {
        let failed = outcome
            .steps
            .iter()
            .find(|s| s.status == crate::engine::StepStatus::Failed);
        return Err(Error::Conflict {
            message: format!(
                "propose stopped{}; run the same command again to resume run {run} (done steps \
                 are not repeated)",
                failed
                    .map(|s| format!(" at {} ({}): {}", s.id, s.description, s.summary))
                    .unwrap_or_default()
            ),
        });
    }
    let number = ctx.shared.pr()?;
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

/// The PR number a propose run journaled, if it got that far.
async fn journaled_pr(store: &dyn StateStore, run: crate::state::RunId) -> Result<Option<u64>> {
    Ok(store
        .journal(run)
        .await?
        .into_iter()
        .find_map(|r| match r.entry {
            JournalEntry::StepSucceeded { step, data, .. }
                if step == ProposeOp::PullRequest.id() =>
            {
                data.get("number").and_then(serde_json::Value::as_u64)
            }
            _ => None,
        }))
}
