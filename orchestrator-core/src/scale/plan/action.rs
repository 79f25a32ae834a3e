//! What one planned action means: the workload or HPA it acts on, the equivalent kubectl
//! command and its row in the actions table.

use super::{Action, ActionType, From, HpaValues};
use crate::cluster::{Hpa, WorkloadKind, WorkloadRef};

impl Action {
    /// The workload a scale or resources action changes (`None` for HPAs).
    pub fn workload(&self) -> Option<WorkloadRef> {
        let kind = WorkloadKind::parse(&self.kind).ok()?;
        (self.action != ActionType::ApplyHpa)
            .then(|| WorkloadRef::new(kind, &self.namespace, &self.name))
    }

    /// The HPA an apply_hpa action writes.
    pub fn hpa_object(&self) -> Option<Hpa> {
        let (hpa, target) = (self.hpa?, self.scale_target_ref.clone()?);
        Some(Hpa {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            target_kind: target.kind,
            target_name: target.name,
            min_replicas: hpa.min,
            max_replicas: hpa.max,
            target_cpu_percent: Some(hpa.target_cpu),
        })
    }

    /// The seed's `preview: kubectl ...` line (without `preview: `).
    pub fn kubectl(&self) -> String {
        let ns = &self.namespace;
        match self.action {
            ActionType::ScaleWorkload => format!(
                "kubectl -n {ns} scale {}/{} --replicas={}",
                self.kind.to_ascii_lowercase(),
                self.name,
                self.to.unwrap_or_default()
            ),
            ActionType::UpdateResources => {
                let mut line = format!(
                    "kubectl -n {ns} set resources {}/{}",
                    self.kind.to_ascii_lowercase(),
                    self.name
                );
                if let Some(c) = &self.container {
                    line.push_str(&format!(" -c {c}"));
                }
                if let Some(r) = &self.requests {
                    line.push_str(&format!(" --requests {}", r.render_kubectl()));
                }
                if let Some(l) = &self.limits {
                    line.push_str(&format!(" --limits {}", l.render_kubectl()));
                }
                line
            }
            ActionType::ApplyHpa => {
                let hpa = self.hpa.unwrap_or(HpaValues {
                    min: 0,
                    max: 0,
                    target_cpu: 0,
                });
                let target = self
                    .scale_target_ref
                    .as_ref()
                    .map_or("deployment", |t| t.kind.kubectl());
                format!(
                    "kubectl -n {ns} autoscale {target} {} --min={} --max={} --cpu-percent={}",
                    self.name, hpa.min, hpa.max, hpa.target_cpu
                )
            }
        }
    }

    /// One row of the actions table: `| Scale | Deployment/web (ns: `assistant`) | ... |`.
    pub fn table_row(&self) -> String {
        let ns = &self.namespace;
        match self.action {
            ActionType::ScaleWorkload => {
                let from = match &self.from {
                    Some(From::Replicas(n)) => format!("{n} "),
                    _ => String::new(),
                };
                format!(
                    "| Scale | {}/{} (ns: `{ns}`) | replicas {from}→ **{}** |",
                    self.kind,
                    self.name,
                    self.to.unwrap_or_default()
                )
            }
            ActionType::UpdateResources => {
                let mut details = Vec::new();
                if let Some(r) = &self.requests {
                    details.push(format!("req `{}`", r.render()));
                }
                if let Some(l) = &self.limits {
                    details.push(format!("lim `{}`", l.render()));
                }
                let container = self
                    .container
                    .as_ref()
                    .map(|c| format!(" container `{c}`"))
                    .unwrap_or_default();
                format!(
                    "| Resources | {}/{}{container} (ns: `{ns}`) | {} |",
                    self.kind,
                    self.name,
                    details.join(" · ")
                )
            }
            ActionType::ApplyHpa => {
                let hpa = self.hpa.unwrap_or(HpaValues {
                    min: 0,
                    max: 0,
                    target_cpu: 0,
                });
                format!(
                    "| HPA | {} (ns: `{ns}`) | min **{}** · max **{}** · cpu **{}%** |",
                    self.name, hpa.min, hpa.max, hpa.target_cpu
                )
            }
        }
    }
}
