//! The planner's input: the seed's flags, parsed once into validated values.
//!
//! Each error names the exact flag and value (`--workload Deployment:web: expected
//! Kind:name:replicas`), so a typo in a CI job is found from its log alone.

use crate::cluster::{WorkloadKind, canonical_quantity};
use crate::error::{Error, Result};

/// One `--workload Kind:name:replicas`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadSpec {
    /// Deployment or StatefulSet.
    pub kind: WorkloadKind,
    /// Its name.
    pub name: String,
    /// Requested replicas.
    pub replicas: i32,
}

/// `--hpa min:N,max:N,cpu:PERCENT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HpaSpec {
    /// `minReplicas`.
    pub min: i32,
    /// `maxReplicas`.
    pub max: i32,
    /// Target average CPU utilisation, percent.
    pub cpu: i32,
}

/// CPU and memory quantities of one `--req` or `--lim` (the seed's `cpu=..,mem=..`), as
/// Kubernetes stores them ([`canonical_quantity`]: `cpu=0.5` is `500m`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quantities {
    /// CPU, e.g. `500m` or `1`.
    pub cpu: Option<String>,
    /// Memory, e.g. `1Gi`.
    pub mem: Option<String>,
}

/// Resources requested for one workload (for one container: [`ScaleRequest::container`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceSpec {
    /// The workload's name.
    pub name: String,
    /// `--req`.
    pub requests: Quantities,
    /// `--lim`.
    pub limits: Quantities,
}

/// What `orchestrator scale plan` was asked for, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleRequest {
    /// `--target` (prod, staging): names the plan and its branch.
    pub target: String,
    /// `--namespace`.
    pub namespace: String,
    /// `--kube-context`, recorded in the plan.
    pub kube_context: Option<String>,
    /// `--workload`, in order.
    pub workloads: Vec<WorkloadSpec>,
    /// `--hpa`, applied to every workload.
    pub hpa: Option<HpaSpec>,
    /// `--req` / `--lim`, by workload, in the order first named.
    pub resources: Vec<ResourceSpec>,
    /// `-c`: the container `--req`/`--lim` change in each workload; `None`: each workload's first
    /// container (never all of them: a sidecar is resized only when named).
    pub container: Option<String>,
}

/// The raw flag values, as given on the command line.
#[derive(Debug, Clone, Default)]
pub struct ScaleFlags {
    /// `--target`.
    pub target: String,
    /// `--namespace`.
    pub namespace: String,
    /// `--kube-context`.
    pub kube_context: Option<String>,
    /// `--workload` values.
    pub workloads: Vec<String>,
    /// `--hpa` value.
    pub hpa: Option<String>,
    /// `--req` values.
    pub requests: Vec<String>,
    /// `--lim` values.
    pub limits: Vec<String>,
    /// `-c` / `--container`.
    pub container: Option<String>,
}

fn bad(flag: &str, value: &str, why: impl std::fmt::Display) -> Error {
    Error::invalid_input(format!("{flag} {value}: {why}"))
}

fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

impl ScaleFlags {
    /// Validates every flag; the first problem is returned, naming its flag.
    pub fn parse(&self) -> Result<ScaleRequest> {
        if self.target.is_empty()
            || !self
                .target
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(bad(
                "--target",
                &self.target,
                "expected a name such as prod or staging (letters, digits, - _ .)",
            ));
        }
        if !dns_label(&self.namespace) {
            return Err(bad(
                "--namespace",
                &self.namespace,
                "expected a Kubernetes namespace name",
            ));
        }
        if self.workloads.is_empty() {
            return Err(Error::invalid_input(
                "--workload is required (Kind:name:replicas, repeatable)",
            ));
        }
        let mut workloads: Vec<WorkloadSpec> = Vec::new();
        for value in &self.workloads {
            let w = parse_workload(value)?;
            if workloads.iter().any(|o| o.name == w.name) {
                return Err(bad(
                    "--workload",
                    value,
                    format!("{} is named twice", w.name),
                ));
            }
            workloads.push(w);
        }
        let hpa = self.hpa.as_deref().map(parse_hpa).transpose()?;
        let mut resources: Vec<ResourceSpec> = Vec::new();
        for (flag, values) in [("--req", &self.requests), ("--lim", &self.limits)] {
            for value in values {
                let (name, quantities) = parse_resources(flag, value)?;
                if !workloads.iter().any(|w| w.name == name) {
                    return Err(bad(flag, value, format!("no --workload is named {name}")));
                }
                let slot = match resources.iter_mut().position(|r| r.name == name) {
                    Some(i) => &mut resources[i],
                    None => {
                        resources.push(ResourceSpec {
                            name: name.clone(),
                            ..ResourceSpec::default()
                        });
                        resources.last_mut().expect("just pushed")
                    }
                };
                let target = if flag == "--req" {
                    &mut slot.requests
                } else {
                    &mut slot.limits
                };
                if *target != Quantities::default() {
                    return Err(bad(
                        flag,
                        value,
                        format!("{flag} for {name} is given twice"),
                    ));
                }
                *target = quantities;
            }
        }
        if let Some(container) = &self.container {
            if !dns_label(container) {
                return Err(bad("-c", container, "expected a container name"));
            }
            if resources.is_empty() {
                return Err(bad(
                    "-c",
                    container,
                    "names the container of --req/--lim, and neither is given",
                ));
            }
        }
        Ok(ScaleRequest {
            target: self.target.clone(),
            namespace: self.namespace.clone(),
            kube_context: self.kube_context.clone(),
            workloads,
            hpa,
            resources,
            container: self.container.clone(),
        })
    }
}

fn parse_workload(value: &str) -> Result<WorkloadSpec> {
    let parts: Vec<&str> = value.split(':').collect();
    let [kind, name, replicas] = parts.as_slice() else {
        return Err(bad(
            "--workload",
            value,
            "expected Kind:name:replicas, e.g. Deployment:web:6",
        ));
    };
    let kind = WorkloadKind::parse(kind).map_err(|e| bad("--workload", value, e))?;
    if !dns_label(name) {
        return Err(bad(
            "--workload",
            value,
            format!("{name:?} is not a workload name"),
        ));
    }
    let replicas: i32 = replicas.parse().ok().filter(|r| *r >= 0).ok_or_else(|| {
        bad(
            "--workload",
            value,
            format!("replicas {replicas:?} is not a number >= 0"),
        )
    })?;
    Ok(WorkloadSpec {
        kind,
        name: (*name).to_owned(),
        replicas,
    })
}

fn parse_hpa(value: &str) -> Result<HpaSpec> {
    let (mut min, mut max, mut cpu) = (None, None, None);
    for part in value.split(',') {
        let (key, number) = part
            .split_once(':')
            .ok_or_else(|| bad("--hpa", value, format!("{part:?}: expected key:number")))?;
        let n: i32 = number
            .trim()
            .parse()
            .map_err(|_| bad("--hpa", value, format!("{key}: {number:?} is not a number")))?;
        let slot = match key.trim() {
            "min" => &mut min,
            "max" => &mut max,
            "cpu" => &mut cpu,
            other => {
                return Err(bad(
                    "--hpa",
                    value,
                    format!("unknown key {other:?} (expected min, max, cpu)"),
                ));
            }
        };
        if slot.replace(n).is_some() {
            return Err(bad("--hpa", value, format!("{key} is given twice")));
        }
    }
    let (Some(min), Some(max), Some(cpu)) = (min, max, cpu) else {
        return Err(bad("--hpa", value, "expected min:N,max:N,cpu:PERCENT"));
    };
    if min < 1 {
        return Err(bad(
            "--hpa",
            value,
            format!("min ({min}) must be at least 1"),
        ));
    }
    if min > max {
        return Err(bad(
            "--hpa",
            value,
            format!("min ({min}) is above max ({max})"),
        ));
    }
    if !(1..=100).contains(&cpu) {
        return Err(bad(
            "--hpa",
            value,
            format!("cpu ({cpu}) must be a percentage 1-100"),
        ));
    }
    Ok(HpaSpec { min, max, cpu })
}

fn parse_resources(flag: &str, value: &str) -> Result<(String, Quantities)> {
    let (name, list) = value
        .split_once(':')
        .ok_or_else(|| bad(flag, value, "expected name:cpu=Q,mem=Q"))?;
    let mut quantities = Quantities::default();
    for item in list.split(',') {
        let (key, q) = item
            .split_once('=')
            .ok_or_else(|| bad(flag, value, format!("{item:?}: expected key=quantity")))?;
        let (slot, valid, example) = match key.trim() {
            "cpu" => (&mut quantities.cpu, is_cpu(q), "500m, 1, 0.5"),
            "mem" | "memory" => (&mut quantities.mem, is_memory(q), "512Mi, 1Gi"),
            other => {
                return Err(bad(
                    flag,
                    value,
                    format!("unknown resource {other:?} (expected cpu, mem)"),
                ));
            }
        };
        if !valid {
            return Err(bad(
                flag,
                value,
                format!("{key}={q}: {q:?} is not a quantity (e.g. {example})"),
            ));
        }
        // As the cluster will store it, so that reading it back compares equal (`0.5` is `500m`).
        let stored = canonical_quantity(q).ok_or_else(|| {
            bad(
                flag,
                value,
                format!("{key}={q}: {q:?} is not a quantity (e.g. {example})"),
            )
        })?;
        if slot.replace(stored).is_some() {
            return Err(bad(flag, value, format!("{key} is given twice")));
        }
    }
    Ok((name.to_owned(), quantities))
}

fn number_prefix(q: &str) -> Option<&str> {
    let end = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(q.len());
    let (number, _) = q.split_at(end);
    let valid = !number.is_empty()
        && number.matches('.').count() <= 1
        && !number.starts_with('.')
        && !number.ends_with('.');
    valid.then_some(&q[end..])
}

/// A CPU quantity: `500m`, `1`, `0.5`.
pub fn is_cpu(q: &str) -> bool {
    matches!(number_prefix(q), Some("" | "m"))
}

/// A memory quantity: `512Mi`, `1Gi`, `1000000`, `1G`.
pub fn is_memory(q: &str) -> bool {
    matches!(
        number_prefix(q),
        Some("" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" | "k" | "M" | "G" | "T" | "P" | "E")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(workloads: &[&str], hpa: Option<&str>, req: &[&str]) -> ScaleFlags {
        ScaleFlags {
            target: "prod".into(),
            namespace: "assistant".into(),
            workloads: workloads.iter().map(|s| (*s).to_owned()).collect(),
            hpa: hpa.map(str::to_owned),
            requests: req.iter().map(|s| (*s).to_owned()).collect(),
            ..ScaleFlags::default()
        }
    }

    fn err(f: ScaleFlags) -> String {
        f.parse().expect_err("rejected").to_string()
    }

    #[test]
    fn workload_without_replicas_is_rejected_naming_the_flag() {
        let e = err(flags(&["Deployment:web"], None, &[]));
        assert_eq!(
            e,
            "--workload Deployment:web: expected Kind:name:replicas, e.g. Deployment:web:6"
        );
    }

    #[test]
    fn hpa_min_above_max_is_rejected() {
        let e = err(flags(&["Deployment:web:6"], Some("min:5,max:2"), &[]));
        assert_eq!(e, "--hpa min:5,max:2: expected min:N,max:N,cpu:PERCENT");
        let e = err(flags(
            &["Deployment:web:6"],
            Some("min:5,max:2,cpu:65"),
            &[],
        ));
        assert_eq!(e, "--hpa min:5,max:2,cpu:65: min (5) is above max (2)");
    }

    #[test]
    fn cpu_lots_is_rejected() {
        let e = err(flags(
            &["Deployment:web:6"],
            None,
            &["web:cpu=lots,mem=1Gi"],
        ));
        assert_eq!(
            e,
            "--req web:cpu=lots,mem=1Gi: cpu=lots: \"lots\" is not a quantity (e.g. 500m, 1, 0.5)"
        );
    }

    #[test]
    fn quantities_are_kept_as_kubernetes_stores_them() {
        let request = flags(&["Deployment:web:6"], None, &["web:cpu=0.5,mem=1.5Gi"])
            .parse()
            .expect("valid");
        assert_eq!(
            request.resources[0].requests,
            Quantities {
                cpu: Some("500m".into()),
                mem: Some("1536Mi".into()),
            }
        );
    }

    #[test]
    fn other_mistakes_name_their_flag() {
        for (f, needle) in [
            (flags(&["Pod:web:1"], None, &[]), "--workload Pod:web:1"),
            (flags(&["Deployment:web:-1"], None, &[]), "replicas \"-1\""),
            (
                flags(&["Deployment:web:6"], None, &["api:cpu=1"]),
                "no --workload is named api",
            ),
            (
                flags(&["Deployment:web:6"], Some("min:0,max:2,cpu:5"), &[]),
                "at least 1",
            ),
            (
                flags(&["Deployment:web:6"], Some("min:1,max:2,cpu:500"), &[]),
                "1-100",
            ),
            (
                flags(&["Deployment:web:6"], None, &["web:gpu=1"]),
                "unknown resource \"gpu\"",
            ),
            (
                flags(&["Deployment:web:6", "StatefulSet:web:2"], None, &[]),
                "named twice",
            ),
            (flags(&[], None, &[]), "--workload is required"),
        ] {
            let e = err(f);
            assert!(e.contains(needle), "{e:?} should contain {needle:?}");
        }
    }

    #[test]
    fn a_container_needs_resources_to_apply_to() {
        let mut f = flags(&["Deployment:web:6"], None, &[]);
        f.container = Some("web".into());
        assert_eq!(
            err(f),
            "-c web: names the container of --req/--lim, and neither is given"
        );
        let mut f = flags(&["Deployment:web:6"], None, &["web:cpu=1"]);
        f.container = Some("Bad_Name".into());
        assert!(err(f).starts_with("-c Bad_Name: "));
        let mut f = flags(&["Deployment:web:6"], None, &["web:cpu=1"]);
        f.container = Some("sidecar".into());
        assert_eq!(
            f.parse().expect("valid").container.as_deref(),
            Some("sidecar")
        );
    }

    #[test]
    fn quantities() {
        for q in ["500m", "1", "0.5", "2"] {
            assert!(is_cpu(q), "{q}");
        }
        for q in ["lots", "1Gi", "m", ".5", "1.", ""] {
            assert!(!is_cpu(q), "{q}");
        }
        for q in ["1Gi", "512Mi", "1000", "1G"] {
            assert!(is_memory(q), "{q}");
        }
        for q in ["1GB", "lots", "Gi"] {
            assert!(!is_memory(q), "{q}");
        }
    }
}
