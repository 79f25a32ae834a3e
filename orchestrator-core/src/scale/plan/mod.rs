//! The `infra.scale/v1` `ScalePlan` (the seed's `plan.yaml`) plus the live **before** state and a
//! content hash, and its human renderings (SUMMARY.md, the actions table, preview lines).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::request::{Quantities, ScaleRequest};
use crate::cluster::{Cluster, ContainerResources, Hpa, WorkloadKind, WorkloadRef, WorkloadState};
use crate::error::{Error, Result};

mod before;
mod render;

use before::read_before;
pub use before::{BeforeHpa, BeforeState, BeforeWorkload};

/// The plan's `apiVersion`.
pub const API_VERSION: &str = "infra.scale/v1";
/// What `from` says when the planner could not read the live replicas.
pub const DETECT: &str = "${detect}";
/// Replica counts above this are a risk.
pub const RISKY_REPLICAS: i32 = 10;

/// A scaling plan, as written to `plan.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScalePlan {
    /// Always [`API_VERSION`].
    pub api_version: String,
    /// Always `ScalePlan`.
    pub kind: String,
    /// When, for which target, and the content hash.
    pub metadata: PlanMetadata,
    /// Where it applies.
    pub context: PlanContext,
    /// `autoscaling: hpa | none`.
    pub assumptions: Assumptions,
    /// What to change, in order.
    pub actions: Vec<Action>,
    /// The live state at plan time; `None` when no cluster was read (`from: ${detect}`).
    #[serde(default)]
    pub before: Option<BeforeState>,
    /// How to undo it by hand (the `scale rollback` command restores `before` exactly).
    #[serde(default)]
    pub rollback_hints: Vec<String>,
    /// Things a reviewer must weigh.
    #[serde(default)]
    pub risks: Vec<String>,
    /// Things worth knowing.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// `metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanMetadata {
    /// RFC 3339, UTC.
    pub created_at: String,
    /// `--target`.
    pub target: String,
    /// `sha256:<hex>` of the plan with this field empty; what an approval is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_hash: Option<String>,
}

/// `context`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanContext {
    /// `--kube-context`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_context: Option<String>,
    /// `--namespace`.
    pub namespace: String,
}

/// `assumptions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assumptions {
    /// `hpa` when the plan applies HPAs, else `none`.
    pub autoscaling: String,
}

/// The three action types of the seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionType {
    /// Set replicas.
    ScaleWorkload,
    /// Set requests and limits of every container.
    UpdateResources,
    /// Create or replace an HPA.
    ApplyHpa,
}

/// `from`: the live replicas, or `${detect}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum From {
    /// Read from the cluster at plan time.
    Replicas(i32),
    /// Not read (no cluster): the seed's `${detect}`.
    Detect(String),
}

/// `{ cpu, mem }` of an action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceValues {
    /// CPU quantity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// Memory quantity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem: Option<String>,
}

impl ResourceValues {
    fn from_quantities(q: &Quantities) -> Option<Self> {
        (q.cpu.is_some() || q.mem.is_some()).then(|| Self {
            cpu: q.cpu.clone(),
            mem: q.mem.clone(),
        })
    }

    /// `cpu=500m,mem=1Gi`.
    pub fn render(&self) -> String {
        let mut parts = Vec::new();
        if let Some(cpu) = &self.cpu {
            parts.push(format!("cpu={cpu}"));
        }
        if let Some(mem) = &self.mem {
            parts.push(format!("mem={mem}"));
        }
        parts.join(",")
    }

    /// `cpu=500m,memory=1Gi`, as kubectl and Kubernetes spell it.
    pub fn render_kubectl(&self) -> String {
        self.render().replace("mem=", "memory=")
    }

    /// Writes these values over a container's resource list.
    pub fn overlay(&self, list: &mut crate::cluster::ResourceList) {
        if let Some(cpu) = &self.cpu {
            list.insert("cpu".into(), cpu.clone());
        }
        if let Some(mem) = &self.mem {
            list.insert("memory".into(), mem.clone());
        }
    }
}

/// `hpa: { min, max, targetCPU }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HpaValues {
    /// `minReplicas`.
    pub min: i32,
    /// `maxReplicas`.
    pub max: i32,
    /// CPU utilisation target, percent.
    #[serde(rename = "targetCPU")]
    pub target_cpu: i32,
}

/// What an HPA scales (beyond the seed, which assumed a Deployment of the same name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleTarget {
    /// Deployment or StatefulSet.
    pub kind: WorkloadKind,
    /// Its name.
    pub name: String,
}

/// One action; the fields present depend on `action`, as in the seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Action {
    /// Which kind of action.
    pub action: ActionType,
    /// `Deployment`, `StatefulSet` or `HorizontalPodAutoscaler`.
    pub kind: String,
    /// The object's name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// scale_workload: the replicas before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<From>,
    /// scale_workload: the replicas wanted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<i32>,
    /// scale_workload: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// update_resources: requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<ResourceValues>,
    /// update_resources: limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<ResourceValues>,
    /// update_resources: the one container changed (`-c`, else the workload's first). Absent only
    /// in plans written before containers were named, which meant every container; such a plan
    /// still applies as approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// apply_hpa: the autoscaler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hpa: Option<HpaValues>,
    /// apply_hpa: the workload it scales.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_target_ref: Option<ScaleTarget>,
}

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

impl ScalePlan {
    /// Builds the plan from a validated request and, when given, the live state read from
    /// `cluster`. Pure apart from those reads; `created_at` is passed in so snapshots are stable.
    pub async fn build(
        request: &ScaleRequest,
        cluster: Option<&dyn crate::cluster::Cluster>,
        created_at: &str,
    ) -> Result<Self> {
        let before = match cluster {
            Some(cluster) => Some(read_before(request, cluster).await?),
            None => None,
        };
        if let (Some(c), Some(before)) = (&request.container, &before) {
            for r in &request.resources {
                let w = before
                    .workloads
                    .iter()
                    .find(|w| w.name == r.name)
                    .expect("read_before read every --workload");
                if !w.containers.iter().any(|x| &x.name == c) {
                    return Err(Error::invalid_input(format!(
                        "-c {c}: {}/{} has no container {c} (it has {})",
                        w.kind,
                        w.name,
                        w.containers
                            .iter()
                            .map(|x| x.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
        }
        Ok(Self::from_parts(request, before, created_at))
    }

    /// Builds the plan from a request and an already-read before state.
    pub fn from_parts(
        request: &ScaleRequest,
        before: Option<BeforeState>,
        created_at: &str,
    ) -> Self {
        let ns = &request.namespace;
        let mut actions = Vec::new();
        let mut risks = Vec::new();
        let mut notes = Vec::new();
        let mut hints = Vec::new();
        for w in &request.workloads {
            let live = before.as_ref().and_then(|b| {
                b.workloads
                    .iter()
                    .find(|bw| bw.kind == w.kind && bw.name == w.name)
            });
            actions.push(Action {
                action: ActionType::ScaleWorkload,
                kind: w.kind.to_string(),
                name: w.name.clone(),
                namespace: ns.clone(),
                from: Some(live.map_or_else(
                    || From::Detect(DETECT.to_owned()),
                    |l| From::Replicas(l.replicas),
                )),
                to: Some(w.replicas),
                reason: Some("requested_scale".into()),
                requests: None,
                limits: None,
                container: None,
                hpa: None,
                scale_target_ref: None,
            });
            if w.replicas > RISKY_REPLICAS {
                risks.push(format!(
                    "{}/{}: {} replicas requested (above {RISKY_REPLICAS}): check capacity and budget",
                    w.kind, w.name, w.replicas
                ));
            }
            let existing_hpa = before.as_ref().and_then(|b| {
                b.hpas
                    .iter()
                    .find(|h| h.name == w.name)
                    .and_then(|h| h.hpa.as_ref())
            });
            match (request.hpa, existing_hpa) {
                (Some(hpa), _) => notes.push(format!(
                    "{}/{}: its replicas are the autoscaler's once HPA {} applies (min {}, max {}, \
                     cpu {}%): the plan acts on the HPA; {} replicas is only where it starts",
                    w.kind, w.name, w.name, hpa.min, hpa.max, hpa.cpu, w.replicas
                )),
                (None, Some(h)) => notes.push(format!(
                    "{}/{}: managed by HPA {} (min {}, max {}): the autoscaler moves its replicas \
                     within those bounds{}; pass --hpa to change the bounds instead",
                    w.kind,
                    w.name,
                    h.name,
                    h.min_replicas,
                    h.max_replicas,
                    if (h.min_replicas..=h.max_replicas).contains(&w.replicas) {
                        String::new()
                    } else {
                        format!(", so it will move {} replicas back inside them", w.replicas)
                    }
                )),
                (None, None) => {}
            }
            if w.kind == WorkloadKind::Deployment {
                hints.push(match live.and_then(|l| l.revision) {
                    Some(rev) => format!(
                        "kubectl rollout undo deployment/{} -n {ns} --to-revision={rev}",
                        w.name
                    ),
                    None => format!("kubectl rollout undo deployment/{} -n {ns}", w.name),
                });
            }
        }
        for r in &request.resources {
            let w = request
                .workloads
                .iter()
                .find(|w| w.name == r.name)
                .expect("the request validated that --req/--lim name a --workload");
            let live = before.as_ref().and_then(|b| {
                b.workloads
                    .iter()
                    .find(|bw| bw.kind == w.kind && bw.name == w.name)
            });
            let container = request.container.clone().or_else(|| {
                live.and_then(|l| l.containers.first())
                    .map(|c| c.name.clone())
            });
            let action = Action {
                action: ActionType::UpdateResources,
                kind: w.kind.to_string(),
                name: w.name.clone(),
                namespace: ns.clone(),
                from: None,
                to: None,
                reason: None,
                requests: ResourceValues::from_quantities(&r.requests),
                limits: ResourceValues::from_quantities(&r.limits),
                container,
                hpa: None,
                scale_target_ref: None,
            };
            match (&action.container, live) {
                (None, _) => notes.push(format!(
                    "{}/{}: no -c and no cluster read: plan with --cluster to pick its first \
                     container (the plan cannot execute without the before state anyway)",
                    w.kind, w.name
                )),
                (Some(c), Some(live)) if live.containers.len() > 1 => notes.push(format!(
                    "{}/{}: --req/--lim change container {c} only ({} other container(s) keep \
                     their resources; -c NAME picks another)",
                    w.kind,
                    w.name,
                    live.containers.len() - 1
                )),
                _ => {}
            }
            risks.extend(request_above_limit(&action, live));
            actions.push(action);
        }
        if let Some(hpa) = request.hpa {
            for w in &request.workloads {
                actions.push(Action {
                    action: ActionType::ApplyHpa,
                    kind: "HorizontalPodAutoscaler".into(),
                    name: w.name.clone(),
                    namespace: ns.clone(),
                    from: None,
                    to: None,
                    reason: None,
                    requests: None,
                    limits: None,
                    container: None,
                    hpa: Some(HpaValues {
                        min: hpa.min,
                        max: hpa.max,
                        target_cpu: hpa.cpu,
                    }),
                    scale_target_ref: Some(ScaleTarget {
                        kind: w.kind,
                        name: w.name.clone(),
                    }),
                });
                if hpa.max < w.replicas {
                    notes.push(format!(
                        "HPA {}: max {} is below the requested {} replicas of {}/{}; the autoscaler will cap it at {}",
                        w.name, hpa.max, w.replicas, w.kind, w.name, hpa.max
                    ));
                }
                if hpa.min > w.replicas {
                    notes.push(format!(
                        "HPA {}: min {} is above the requested {} replicas of {}/{}; the autoscaler will raise it to {}",
                        w.name, hpa.min, w.replicas, w.kind, w.name, hpa.min
                    ));
                }
                let existed = before.as_ref().and_then(|b| {
                    b.hpas
                        .iter()
                        .find(|h| h.name == w.name)
                        .map(|h| h.hpa.is_some())
                });
                hints.push(match existed {
                    Some(true) => format!(
                        "kubectl -n {ns} apply -f previous-hpa-{}.yaml  # restore the HPA recorded in `before`",
                        w.name
                    ),
                    Some(false) => format!(
                        "kubectl -n {ns} delete hpa {}  # it did not exist before",
                        w.name
                    ),
                    None => "kubectl apply -f previous-hpa.yaml".to_owned(),
                });
            }
        }
        let mut plan = Self {
            api_version: API_VERSION.into(),
            kind: "ScalePlan".into(),
            metadata: PlanMetadata {
                created_at: created_at.to_owned(),
                target: request.target.clone(),
                plan_hash: None,
            },
            context: PlanContext {
                kube_context: request.kube_context.clone(),
                namespace: ns.clone(),
            },
            assumptions: Assumptions {
                autoscaling: if request.hpa.is_some() { "hpa" } else { "none" }.into(),
            },
            actions,
            before,
            rollback_hints: hints,
            risks,
            notes,
        };
        plan.metadata.plan_hash = Some(plan.compute_hash());
        plan
    }

    /// `sha256:<hex>` over the plan's canonical JSON ([`canonical_json`]: sorted keys, no
    /// whitespace) with `planHash` left out. It depends on the plan's fields and values only:
    /// formatting, comments, key order and quoting in the YAML file do not change it, and neither
    /// would a YAML emitter upgrade that writes the same plan differently; any change of meaning
    /// does.
    pub fn compute_hash(&self) -> String {
        let mut unhashed = self.clone();
        unhashed.metadata.plan_hash = None;
        let value =
            serde_json::to_value(&unhashed).expect("a ScalePlan always serializes (plain data)");
        sha256_hex(canonical_json(&value).as_bytes())
    }

    /// The hash plans written before the canonical form carried: over serde-saphyr's YAML bytes.
    /// Only checked when loading an old plan (see [`ScalePlan::from_yaml`]).
    pub(super) fn legacy_yaml_hash(&self) -> String {
        let mut unhashed = self.clone();
        unhashed.metadata.plan_hash = None;
        let yaml =
            serde_saphyr::to_string(&unhashed).expect("a ScalePlan always serializes (plain data)");
        sha256_hex(yaml.as_bytes())
    }

    /// The recorded hash (set by the planner).
    pub fn hash(&self) -> &str {
        self.metadata.plan_hash.as_deref().unwrap_or_default()
    }

    /// The YAML of `plan.yaml`.
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self).expect("a ScalePlan always serializes (plain data)")
    }

    /// Parses `plan.yaml` and checks that its recorded hash matches its content, so a plan edited
    /// by hand after planning is refused rather than applied under an old approval.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self> {
        let plan: Self = serde_saphyr::from_str(text).map_err(|e| {
            // The YAML error's first line names the line and the field; the rest is a
            // source snippet, too much for a one-line error.
            let first = e.to_string();
            let first = first
                .lines()
                .next()
                .unwrap_or_default()
                .trim_start_matches("error: ")
                .to_owned();
            Error::invalid_input(format!("{origin}: not a ScalePlan: {first}"))
        })?;
        if plan.api_version != API_VERSION || plan.kind != "ScalePlan" {
            return Err(Error::invalid_input(format!(
                "{origin}: expected apiVersion {API_VERSION}, kind ScalePlan (found {}, {})",
                plan.api_version, plan.kind
            )));
        }
        let computed = plan.compute_hash();
        match &plan.metadata.plan_hash {
            Some(recorded) if *recorded == computed => Ok(plan),
            // A plan written before the canonical hash: its recorded hash is over the YAML
            // emitter's bytes. It still loads, keeping that hash (approvals bound to it hold), as
            // long as it matches; a plan whose YAML this emitter no longer reproduces byte for
            // byte reads as edited and must be planned again.
            Some(recorded) if *recorded == plan.legacy_yaml_hash() => Ok(plan),
            Some(recorded) => Err(Error::invalid_input(format!(
                "{origin}: metadata.planHash is {recorded} but the content hashes to {computed}: \
                 the plan was edited after planning; run `orchestrator scale plan` again"
            ))),
            None => Err(Error::invalid_input(format!(
                "{origin}: metadata.planHash is missing; run `orchestrator scale plan` again"
            ))),
        }
    }

    /// Reads and verifies a plan file.
    pub fn load(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
            // A plan path the user gave that is not there is bad input (exit 2), not a failure.
            std::io::ErrorKind::NotFound => Error::invalid_input(format!(
                "--plan {}: no such file (write one with `orchestrator scale plan`)",
                path.display()
            )),
            _ => Error::io(format!("reading {}", path.display()), e),
        })?;
        Self::from_yaml(&text, &path.display().to_string())
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// `value` as canonical JSON: object keys sorted (by their UTF-8 bytes), no insignificant
/// whitespace, strings and numbers as serde_json writes them. Two plans with the same fields and
/// values give the same text whatever file they were read from.
pub fn canonical_json(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            let body: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), canonical_json(v)))
                .collect();
            format!("{{{}}}", body.join(","))
        }
        Value::Array(items) => {
            let body: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", body.join(","))
        }
        other => other.to_string(),
    }
}

/// The risks of one update_resources action: a request above its limit, which Kubernetes rejects
/// (`must be less than or equal to ... limit`), judged on what the container will hold after the
/// plan (its live values with the plan's written over them).
fn request_above_limit(action: &Action, live: Option<&BeforeWorkload>) -> Vec<String> {
    let base = live.and_then(|l| {
        l.containers
            .iter()
            .find(|c| Some(&c.name) == action.container.as_ref())
    });
    let mut requests = base.map(|c| c.requests.clone()).unwrap_or_default();
    let mut limits = base.map(|c| c.limits.clone()).unwrap_or_default();
    if let Some(r) = &action.requests {
        r.overlay(&mut requests);
    }
    if let Some(l) = &action.limits {
        l.overlay(&mut limits);
    }
    let container = action.container.as_deref().unwrap_or("every container");
    let mut risks = Vec::new();
    for key in ["cpu", "memory"] {
        let (Some(req), Some(lim)) = (requests.get(key), limits.get(key)) else {
            continue;
        };
        let milli = crate::cluster::quantity_milli;
        if let (Some(r), Some(l)) = (milli(req), milli(lim))
            && r > l
        {
            risks.push(format!(
                "{}/{} container {container}: {key} request {req} is above its limit {lim}; \
                 Kubernetes rejects a request above its limit",
                action.kind, action.name
            ));
        }
    }
    risks
}
