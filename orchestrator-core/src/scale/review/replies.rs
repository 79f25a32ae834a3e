//! What the bot says on a plan pull request: the result of an apply or a rollback (each field
//! before → after, each step), the answer to `/approve-plan`, a refusal, an unlock, a change that
//! stopped. Pure text, so the journaled reply step posts exactly what was decided.

use super::{PlanCommand, RESULT_MARKER};
use crate::scale::approval::{self, ApprovedPlan, GateAction};
use crate::scale::execute::ExecuteReport;
use crate::scale::{ActionType, ScalePlan};

/// Before → after, one line per changed field, from the plan's recorded before state.
pub fn change_lines(plan: &ScalePlan) -> Vec<String> {
    let before = plan.before.as_ref();
    let workload = |kind: &str, name: &str| {
        before.and_then(|b| {
            b.workloads
                .iter()
                .find(|w| w.kind.to_string() == kind && w.name == name)
        })
    };
    let mut lines = Vec::new();
    for action in &plan.actions {
        let object = format!("{}/{}", action.kind, action.name);
        match action.action {
            ActionType::ScaleWorkload => {
                let from = workload(&action.kind, &action.name)
                    .map_or_else(|| "?".to_owned(), |w| w.replicas.to_string());
                if let Some(to) = action.to {
                    lines.push(format!("{object} replicas: {from} → {to}"));
                }
            }
            ActionType::UpdateResources => {
                let containers = workload(&action.kind, &action.name)
                    .map(|w| w.containers.clone())
                    .unwrap_or_default();
                for (what, wanted) in [("requests", &action.requests), ("limits", &action.limits)] {
                    let Some(wanted) = wanted else { continue };
                    for c in &containers {
                        let list = if what == "requests" {
                            &c.requests
                        } else {
                            &c.limits
                        };
                        for (key, value) in [("cpu", &wanted.cpu), ("memory", &wanted.mem)] {
                            let Some(value) = value else { continue };
                            let old = list.get(key).map_or("unset", String::as_str);
                            lines.push(format!(
                                "{object} container {} {what}.{key}: {old} → {value}",
                                c.name
                            ));
                        }
                    }
                    if containers.is_empty() {
                        lines.push(format!("{object} {what}: ? → {}", wanted.render()));
                    }
                }
            }
            ActionType::ApplyHpa => {
                let Some(hpa) = action.hpa else { continue };
                let old = before
                    .and_then(|b| b.hpas.iter().find(|h| h.name == action.name))
                    .and_then(|h| h.hpa.as_ref())
                    .map_or_else(
                        || "none".to_owned(),
                        |h| {
                            format!(
                                "min {} max {} cpu {}",
                                h.min_replicas,
                                h.max_replicas,
                                h.target_cpu_percent
                                    .map_or_else(|| "-".to_owned(), |c| format!("{c}%"))
                            )
                        },
                    );
                lines.push(format!(
                    "{object}: {old} → min {} max {} cpu {}%",
                    hpa.min, hpa.max, hpa.target_cpu
                ));
            }
        }
    }
    lines
}

/// The comment posted after `/apply-plan` or `/rollback-plan` ran: each field before → after
/// (reversed for a rollback), each step's and rollout's status, the plan hash, who asked and who
/// approved. The closing marker is a cache for humans and tools, never proof of anything.
pub fn result_comment(approved: &ApprovedPlan, report: &ExecuteReport) -> String {
    let plan = approved.plan();
    let rollback = approved.action() == GateAction::Rollback;
    let verb = if rollback { "Rollback" } else { "Apply" };
    let status = if report.ok { "✅" } else { "❌" };
    let mut text = format!(
        "{status} **{verb}** of `{}` for **{}** (namespace `{}`)\n\n",
        approved.plan_path(),
        plan.metadata.target,
        plan.context.namespace
    );
    text.push_str(&format!(
        "- Plan hash: `{}`\n- Head: `{}`\n- Requested by: @{}\n- Approved by: {}\n",
        report.plan_hash,
        &approved.head_sha()[..approved.head_sha().len().min(12)],
        approved.requester(),
        approved.approved_by().unwrap_or_else(|| {
            if rollback {
                "emergency rollback policy (no second approver)".to_owned()
            } else {
                "no approval required by policy".to_owned()
            }
        })
    ));
    if approved.policy_changed() {
        text.push_str(&format!(
            "- ⚠️ This pull request changes `{}`: it was judged under the base branch's policy\n",
            approval::POLICY_FILE
        ));
    }
    text.push_str("\n### Changes (before → after)\n");
    for line in change_lines(plan) {
        let line = if rollback {
            // Restoring: the arrow points back.
            line.replacen(" → ", " ← ", 1)
        } else {
            line
        };
        text.push_str(&format!("- {line}\n"));
    }
    text.push_str("\n### Steps\n");
    for r in report.results.iter().chain(&report.rollouts) {
        text.push_str(&format!("- `{}`: {} {}\n", r.id, r.status, r.detail));
    }
    if let Some(error) = &report.error {
        text.push_str(&format!("\n**Error:** {error}\n"));
    }
    text.push_str(&format!(
        "\n{RESULT_MARKER}action={} ok={} hash={} head={} -->\n",
        if rollback { "rollback" } else { "apply" },
        report.ok,
        report.plan_hash,
        approved.head_sha()
    ));
    text
}

/// How approval works now: the answer to `/approve-plan`.
pub fn approve_plan_answer() -> String {
    "ℹ️ `/approve-plan` no longer approves anything: a comment can be edited by anyone with \
     write access, so it proves nothing.\n\n\
     - To **approve**, submit a pull-request review with **Approve** (Files changed → Review \
     changes). It counts for the commit you reviewed; a later push needs a new review. You may \
     not have opened or pushed to this pull request.\n\
     - Then anyone with write access comments **/apply-plan**: the approval is checked again and \
     the plan is applied in that job; the result is posted here.\n"
        .to_owned()
}

/// The refusal of `/command` from `commenter`: why, and that nothing changed.
pub(super) fn refusal(command: PlanCommand, commenter: &str, reason: &str) -> String {
    format!(
        "🚫 `/{}` from @{commenter} refused: {reason}.\n\nNothing was changed.",
        command.as_str()
    )
}

/// The answer to an honoured `/unlock-plan`.
pub(super) fn unlocked(by: &str) -> String {
    format!(
        "🔓 @{by} released this pull request's lock: another plan for its target may be proposed."
    )
}

/// The notice of an apply or rollback that stopped with `error` (drift, a missing workload):
/// nothing changed that its journal does not hold.
pub(super) fn stopped(command: PlanCommand, requester: &str, error: &str) -> String {
    format!(
        "❌ `/{}` by @{requester} stopped before changing anything it had not journaled: {error}",
        command.as_str()
    )
}
