//! Per-target locks (Atlantis's locks): one open plan per target, so two plans never race for
//! one workload. A target is a kube context, a namespace and the workloads a plan changes; two
//! plans collide when they share the context and namespace and at least one workload.
//!
//! The lock is held by an open plan pull request whose description carries the lock marker
//! ([`lock_marker`], written by `propose` next to the plan marker). It is released when that pull
//! request merges or closes, or when a qualified approver comments exactly `/unlock-plan` on it
//! (re-read by id: authored by them and unedited). [`find_lock`] is what `propose` calls before
//! opening a second plan for a target.
//!
//! A lock is a coordination aid, not a security boundary: someone with write access can edit a
//! description's marker, which at worst blocks or frees a proposal; the gate in
//! [`super::approval`] never reads it.

use std::collections::BTreeSet;

use serde::Serialize;

use super::approval::{ApprovalPolicy, comment_problem};
use super::plan::ScalePlan;
use super::review::{PlanCommand, parse_command};
use crate::error::Result;
use crate::forge::{Forge, RepoId};

const LOCK_MARKER: &str = "<!-- orchestrator:scale-lock ";

/// What a plan locks: its kube context, namespace and workloads (`Kind/name`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetKey {
    /// The kube context (`-` when the plan names none: the current context).
    pub context: String,
    /// The namespace.
    pub namespace: String,
    /// The workloads, `Deployment/web`, sorted.
    pub workloads: BTreeSet<String>,
}

impl TargetKey {
    /// The target of `plan`: every workload its actions change, an HPA by the workload it scales.
    pub fn of(plan: &ScalePlan) -> Self {
        let workloads = plan
            .actions
            .iter()
            .map(|a| match (&a.scale_target_ref, a.workload()) {
                (_, Some(w)) => format!("{}/{}", w.kind, w.name),
                (Some(target), None) => format!("{}/{}", target.kind, target.name),
                (None, None) => format!("{}/{}", a.kind, a.name),
            })
            .collect();
        Self {
            context: plan
                .context
                .kube_context
                .clone()
                .unwrap_or_else(|| "-".to_owned()),
            namespace: plan.context.namespace.clone(),
            workloads,
        }
    }

    /// Whether the two targets share a context, a namespace and a workload.
    pub fn overlaps(&self, other: &TargetKey) -> bool {
        self.context == other.context
            && self.namespace == other.namespace
            && !self.workloads.is_disjoint(&other.workloads)
    }

    fn parse(body: &str) -> Option<Self> {
        let get = super::review::marker_fields(body, LOCK_MARKER)?;
        Some(Self {
            context: get("context")?,
            namespace: get("namespace")?,
            workloads: get("workloads")?
                .split(',')
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }
}

/// The marker `propose` puts in a plan pull request's description to hold the plan's target.
pub fn lock_marker(plan: &ScalePlan) -> String {
    let key = TargetKey::of(plan);
    format!(
        "{LOCK_MARKER}context={} namespace={} workloads={} -->",
        key.context,
        key.namespace,
        key.workloads.iter().cloned().collect::<Vec<_>>().join(",")
    )
}

/// An open plan pull request holding (part of) a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lock {
    /// The pull request.
    pub number: u64,
    /// Its web page.
    pub html_url: String,
    /// What it holds.
    pub key: TargetKey,
    /// The workloads both plans change.
    pub shared: Vec<String>,
}

impl Lock {
    /// One line for a refusal: which pull request holds what, and how to release it.
    pub fn describe(&self) -> String {
        format!(
            "pull request #{} ({}) holds {} in {}/{}: merge or close it, or have an approver \
             comment /unlock-plan on it",
            self.number,
            self.html_url,
            self.shared.join(", "),
            self.key.context,
            self.key.namespace
        )
    }
}

/// The open plan pull request that holds part of `plan`'s target, if any (skipping `except`, the
/// plan's own pull request, and pull requests a qualified approver unlocked).
pub async fn find_lock(
    forge: &dyn Forge,
    repo: &RepoId,
    plan: &ScalePlan,
    except: Option<u64>,
    policy: &ApprovalPolicy,
) -> Result<Option<Lock>> {
    let wanted = TargetKey::of(plan);
    for pr in forge.list_pull_requests(repo, "open").await? {
        if Some(pr.number) == except {
            continue;
        }
        let Some(key) = TargetKey::parse(&pr.body) else {
            continue;
        };
        if !key.overlaps(&wanted) {
            continue;
        }
        if unlocked(forge, repo, pr.number, policy).await? {
            continue;
        }
        let shared = key
            .workloads
            .intersection(&wanted.workloads)
            .cloned()
            .collect();
        return Ok(Some(Lock {
            number: pr.number,
            html_url: pr.html_url,
            key,
            shared,
        }));
    }
    Ok(None)
}

/// Whether a qualified approver has released pull request `number`'s lock.
async fn unlocked(
    forge: &dyn Forge,
    repo: &RepoId,
    number: u64,
    policy: &ApprovalPolicy,
) -> Result<bool> {
    for comment in forge.list_comments(repo, number).await? {
        if parse_command(&comment.body) != Some(PlanCommand::UnlockPlan) {
            continue;
        }
        if unlock_problem(forge, repo, number, comment.id, &comment.author, policy)
            .await?
            .is_none()
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Why `user`'s `/unlock-plan` (comment `comment_id` on pull request `number`) does not release
/// the lock, or `None` when it does: the comment is re-read (authored by `user`, unedited,
/// exactly the command) and `user`'s permission is re-read against the policy.
pub async fn unlock_problem(
    forge: &dyn Forge,
    repo: &RepoId,
    number: u64,
    comment_id: u64,
    user: &str,
    policy: &ApprovalPolicy,
) -> Result<Option<String>> {
    let comment = forge.comment(repo, comment_id).await?;
    if let Some(problem) = comment_problem(&comment, user, PlanCommand::UnlockPlan) {
        return Ok(Some(problem));
    }
    let pr = forge.pull_request(repo, number).await?;
    if super::review::plan_marker_of(&pr.body).is_none() {
        return Ok(Some(format!(
            "pull request #{number} is not a proposed scale plan: it holds no lock"
        )));
    }
    let permission = forge.permission(repo, user).await?;
    Ok(policy
        .standing_problem(user, permission)
        .map(|p| format!("only an approver may unlock: {p}")))
}
