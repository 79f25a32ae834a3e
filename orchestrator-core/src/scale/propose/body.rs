//! What a proposal says to its reviewers: the pull request's description (the plan as a reviewer
//! reads it, the plan and lock markers) and the review checklist comment. Pure text from the
//! plan, snapshot-tested.

use crate::cluster::{Hpa, ResourceList};
use crate::scale::execute::planned_after;
use crate::scale::review::PLAN_MARKER;
use crate::scale::{ScalePlan, lock, plan_dir_in_repo};

/// The targets a plan locks, one per workload, for people: `<kube context>/<namespace>/<Kind>/<name>`
/// (`-` when the plan names no context, i.e. the current one). Derived from
/// [`TargetKey::of`](lock::TargetKey::of), the key the lock check compares; the PR body
/// carries it as [`lock_marker`](lock::lock_marker).
pub fn target_keys(plan: &ScalePlan) -> Vec<String> {
    let key = lock::TargetKey::of(plan);
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
                    let show = |h: Option<&Hpa>| {
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
    let dir = plan_dir_in_repo(&plan.metadata.target);
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
        lock = lock::lock_marker(plan),
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
