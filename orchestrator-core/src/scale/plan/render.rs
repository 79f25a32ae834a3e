//! What people read about a plan: the preview lines, the actions table and SUMMARY.md.

use super::ScalePlan;

impl ScalePlan {
    /// The `preview: kubectl ...` lines of applying the plan.
    pub fn preview_lines(&self) -> Vec<String> {
        self.actions
            .iter()
            .map(|a| format!("preview: {}", a.kubectl()))
            .collect()
    }

    /// The actions table (markdown), as in the PR body and SUMMARY.md.
    pub fn actions_table(&self) -> String {
        let mut out = String::from("| Action | Target | Details |\n|:--|:--|:--|\n");
        for action in &self.actions {
            out.push_str(&action.table_row());
            out.push('\n');
        }
        out
    }

    /// SUMMARY.md.
    pub fn summary_md(&self) -> String {
        let mut out = format!(
            "# Infra Scale Plan — {}\n\n- Namespace: `{}`\n",
            self.metadata.target, self.context.namespace
        );
        if let Some(ctx) = &self.context.kube_context {
            out.push_str(&format!("- Kube context: `{ctx}`\n"));
        }
        out.push_str(&format!(
            "- Autoscaling: `{}`\n- Created: {}\n- Plan hash: `{}`\n\n## Actions\n\n",
            self.assumptions.autoscaling,
            self.metadata.created_at,
            self.hash()
        ));
        out.push_str(&self.actions_table());
        out.push_str("\n## Before (live state at plan time)\n\n");
        match &self.before {
            None => out.push_str(
                "Not recorded: no cluster was read (`from: ${detect}`). Such a plan can be \
                 previewed but not executed; plan again with `--cluster`.\n",
            ),
            Some(before) => {
                out.push_str("| Object | State |\n|:--|:--|\n");
                for w in &before.workloads {
                    let containers: Vec<String> = w
                        .containers
                        .iter()
                        .map(|c| {
                            format!(
                                "{}: req `{}` · lim `{}`",
                                c.name,
                                render_list(&c.requests),
                                render_list(&c.limits)
                            )
                        })
                        .collect();
                    let revision = w
                        .revision
                        .map(|r| format!(", revision {r}"))
                        .unwrap_or_default();
                    out.push_str(&format!(
                        "| {}/{} | replicas {}{revision}; {} |\n",
                        w.kind,
                        w.name,
                        w.replicas,
                        containers.join("; ")
                    ));
                }
                for h in &before.hpas {
                    let state = match &h.hpa {
                        Some(hpa) => format!(
                            "min {} · max {} · cpu {}",
                            hpa.min_replicas,
                            hpa.max_replicas,
                            hpa.target_cpu_percent
                                .map_or_else(|| "-".to_owned(), |c| format!("{c}%"))
                        ),
                        None => "absent (rollback deletes it)".to_owned(),
                    };
                    out.push_str(&format!("| HPA {} | {state} |\n", h.name));
                }
            }
        }
        out.push_str("\n## Preview\n\n```\n");
        for line in self.preview_lines() {
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str("```\n\n## Risks\n\n");
        push_list(&mut out, &self.risks);
        out.push_str("\n## Notes\n\n");
        push_list(&mut out, &self.notes);
        out.push_str("\n## Rollback\n\n");
        if self.before.is_some() {
            out.push_str(
                "`orchestrator scale rollback --plan plan.yaml` restores the recorded before \
                 state exactly: replicas, container resources, each Deployment's pod template \
                 (undo to its recorded revision), and each HPA as it was (deleted only if it did \
                 not exist).\n",
            );
        }
        out.push_str("\nBy hand:\n\n");
        push_list(&mut out, &self.rollback_hints);
        out
    }
}

pub(super) fn render_list(list: &crate::cluster::ResourceList) -> String {
    if list.is_empty() {
        return "-".into();
    }
    list.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) fn push_list(out: &mut String, items: &[String]) {
    if items.is_empty() {
        out.push_str("- none\n");
    }
    for item in items {
        out.push_str(&format!("- {item}\n"));
    }
}
