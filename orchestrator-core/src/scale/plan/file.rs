//! `plan.yaml`: writing and reading the plan, and the content hash an approval is bound to,
//! which a plan edited after planning no longer matches.

use sha2::{Digest, Sha256};

use super::{API_VERSION, ScalePlan};
use crate::error::{Error, Result};

impl ScalePlan {
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
    pub(in crate::scale) fn legacy_yaml_hash(&self) -> String {
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
