//! The pure part of `orchestrator run`: which steps of a flow run, in which order, and why.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::engine::Mode;
use crate::error::{Error, Result};
#[cfg(test)]
use crate::pipeline::config::StepAction;
use crate::pipeline::config::{PipelineConfig, StepConfig};
use crate::pipeline::env::ResolvedEnv;

/// Where the step selection came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct OnlySelection {
    /// `--only` or `ONLY`.
    pub source: String,
    /// The items as given: step numbers or basenames.
    pub items: Vec<String>,
}

impl OnlySelection {
    /// Parses a comma-separated list (empty items dropped); `None` when nothing is left.
    pub fn parse(source: &str, list: &str) -> Option<Self> {
        let items: Vec<String> = list
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        (!items.is_empty()).then(|| Self {
            source: source.to_owned(),
            items,
        })
    }
}

/// One step of the flow and the decision about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepDecision {
    /// 1-based position in the flow (what `--only N` refers to).
    pub number: usize,
    /// The step's name.
    pub name: String,
    /// It runs.
    pub included: bool,
    /// Why it is in or out: `default`, `FEAT_VERIFY=true (config.env:4)`, `not in --only`...
    pub reason: String,
}

fn stem(name: &str) -> &str {
    match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => name,
    }
}

/// Whether an `--only` item names this step: its name or its script's file name, with or
/// without extension.
fn names_step(item: &str, step: &StepConfig) -> bool {
    let script = step.action.basename();
    [step.name.as_str(), script.as_str()]
        .iter()
        .any(|n| *n == item || stem(n) == item)
}

/// Decides each step of `pipeline`'s `mode` flow. Pure: reads only its arguments.
///
/// Errors (bad input, nothing has run): an empty flow, an `--only` item that names no step, and
/// a selected step that does not support `mode`.
pub fn select_steps(
    pipeline: &PipelineConfig,
    mode: Mode,
    only: Option<&OnlySelection>,
    env: &ResolvedEnv,
) -> Result<Vec<StepDecision>> {
    let flow = pipeline.flow(mode);
    let mode_name = mode_name(mode);
    if flow.is_empty() {
        return Err(Error::invalid_input(format!(
            "pipeline {:?} has no {mode_name} steps",
            pipeline.name
        )));
    }
    let mut selected = BTreeSet::new();
    if let Some(only) = only {
        for item in &only.items {
            let index = match item.parse::<usize>() {
                Ok(n) if (1..=flow.len()).contains(&n) => Some(n - 1),
                Ok(_) => None,
                Err(_) => flow.iter().position(|s| names_step(item, s)),
            };
            let Some(index) = index else {
                let names: Vec<String> = flow
                    .iter()
                    .enumerate()
                    .map(|(i, s)| format!("{} {}", i + 1, s.name))
                    .collect();
                return Err(Error::invalid_input(format!(
                    "unknown {} item {item:?}: the {mode_name} flow of {:?} has steps {}",
                    only.source,
                    pipeline.name,
                    names.join(", ")
                )));
            };
            selected.insert(index);
        }
    }
    let describe_var = |name: &str| {
        let value = env
            .display_value(name)
            .map_or_else(|| "unset".to_owned(), |v| format!("{name}={v}"));
        match env.source(name) {
            Some(source) => format!("{value} ({source})"),
            None => format!("{name} {value}"),
        }
    };
    let mut decisions = Vec::with_capacity(flow.len());
    let mut unsupported = Vec::new();
    for (i, step) in flow.iter().enumerate() {
        let mut reasons = Vec::new();
        let mut included = true;
        if let Some(only) = only {
            if selected.contains(&i) {
                reasons.push(format!("selected by {}", only.source));
            } else {
                included = false;
                reasons.push(format!("not in {}", only.source));
            }
        }
        if let Some(when) = step.when.as_ref().filter(|_| included) {
            let holds = when.holds(env.get(&when.var));
            let state = describe_var(&when.var);
            if holds {
                reasons.push(format!("when {when}: {state}"));
            } else {
                reasons.clear();
                included = false;
                reasons.push(format!("when {when} does not hold: {state}"));
            }
        }
        if included && !step.modes.contains(&mode) {
            let supported: Vec<&str> = step.modes.iter().map(|m| self::mode_name(*m)).collect();
            unsupported.push(format!(
                "step {} ({}) supports only {}",
                i + 1,
                step.name,
                supported.join(" and ")
            ));
        }
        if reasons.is_empty() {
            reasons.push("default".into());
        }
        decisions.push(StepDecision {
            number: i + 1,
            name: step.name.clone(),
            included,
            reason: reasons.join("; "),
        });
    }
    if !unsupported.is_empty() {
        return Err(Error::invalid_input(format!(
            "cannot run the {mode_name} flow of {:?}: {}; nothing was run",
            pipeline.name,
            unsupported.join("; ")
        )));
    }
    Ok(decisions)
}

/// `apply` or `delete`.
pub fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Apply => "apply",
        Mode::Delete => "delete",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use std::path::Path;

    use super::*;
    use crate::pipeline::condition::Condition;

    fn step(script: &str, when: Option<&str>) -> StepConfig {
        StepConfig {
            name: Path::new(script)
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned(),
            action: StepAction::Run(vec![format!("scripts/{script}")]),
            when: when.map(|w| Condition::parse(w).expect("valid")),
            modes: vec![Mode::Apply, Mode::Delete],
            timeout: None,
            env: BTreeMap::new(),
            workdir: None,
        }
    }

    /// The seed's cluster flows.
    fn cluster() -> PipelineConfig {
        PipelineConfig {
            name: "cluster".into(),
            env_files: vec![],
            timeout: None,
            grace: Duration::from_secs(1),
            apply: vec![
                step("15_verify_cluster_access.sh", None),
                step("94_verify_config_inputs.sh", Some("FEAT_VERIFY")),
                step("bootstrap/install-flux.sh", None),
                step("bootstrap/sync-runtime-inputs.sh", None),
                step("32_reconcile_flux_stack.sh", None),
                step("91_verify_platform_state.sh", Some("FEAT_VERIFY")),
            ],
            delete: vec![
                step("15_verify_cluster_access.sh", None),
                step("32_reconcile_flux_stack.sh", None),
                step("30_manage_cert_manager_cleanup.sh", None),
                step("99_execute_teardown.sh", None),
                step("26_manage_cilium_lifecycle.sh", Some("FEAT_CILIUM")),
                step("install-flux.sh", None),
                step("98_verify_teardown_clean.sh", None),
            ],
        }
    }

    fn env(vars: &[(&str, &str)]) -> ResolvedEnv {
        ResolvedEnv::from_process(
            vars.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn included(decisions: &[StepDecision]) -> Vec<usize> {
        decisions
            .iter()
            .filter(|d| d.included)
            .map(|d| d.number)
            .collect()
    }

    #[test]
    fn flags_add_and_drop_steps_in_both_flows() {
        let p = cluster();
        for (verify, cilium, apply, delete) in [
            (
                "true",
                "true",
                vec![1, 2, 3, 4, 5, 6],
                vec![1, 2, 3, 4, 5, 6, 7],
            ),
            (
                "true",
                "false",
                vec![1, 2, 3, 4, 5, 6],
                vec![1, 2, 3, 4, 6, 7],
            ),
            ("false", "true", vec![1, 3, 4, 5], vec![1, 2, 3, 4, 5, 6, 7]),
            ("false", "false", vec![1, 3, 4, 5], vec![1, 2, 3, 4, 6, 7]),
        ] {
            let e = env(&[("FEAT_VERIFY", verify), ("FEAT_CILIUM", cilium)]);
            let a = select_steps(&p, Mode::Apply, None, &e).expect("plan");
            let d = select_steps(&p, Mode::Delete, None, &e).expect("plan");
            assert_eq!(included(&a), apply, "apply with verify={verify}");
            assert_eq!(included(&d), delete, "delete with cilium={cilium}");
        }
        let a = select_steps(&p, Mode::Apply, None, &env(&[])).expect("plan");
        assert_eq!(a[0].reason, "default");
        assert_eq!(
            a[1].reason,
            "when FEAT_VERIFY does not hold: FEAT_VERIFY unset"
        );
        let a =
            select_steps(&p, Mode::Apply, None, &env(&[("FEAT_VERIFY", "true")])).expect("plan");
        assert_eq!(
            a[1].reason,
            "when FEAT_VERIFY: FEAT_VERIFY=true (environment)"
        );
    }

    #[test]
    fn only_takes_numbers_and_basenames_with_or_without_extension() {
        let p = cluster();
        let e = env(&[("FEAT_VERIFY", "true")]);
        let only = OnlySelection::parse("--only", "1, install-flux ,32_reconcile_flux_stack.sh,6")
            .expect("items");
        let d = select_steps(&p, Mode::Apply, Some(&only), &e).expect("plan");
        assert_eq!(included(&d), vec![1, 3, 5, 6]);
        assert_eq!(d[0].reason, "selected by --only");
        assert_eq!(d[1].reason, "not in --only");
        assert_eq!(
            d[5].reason,
            "selected by --only; when FEAT_VERIFY: FEAT_VERIFY=true (environment)"
        );
        // Selected, but its flag is off: out, and the flag says why.
        let off = select_steps(&p, Mode::Apply, Some(&only), &env(&[])).expect("plan");
        assert!(!off[5].included);
        assert_eq!(
            off[5].reason,
            "when FEAT_VERIFY does not hold: FEAT_VERIFY unset"
        );
        for bad in ["7", "0", "nope", "install"] {
            let only = OnlySelection::parse("ONLY", bad).expect("items");
            let e = select_steps(&p, Mode::Apply, Some(&only), &e).expect_err(bad);
            assert!(
                e.to_string().starts_with(&format!("unknown ONLY item {bad:?}: the apply flow of \"cluster\" has steps 1 15_verify_cluster_access.sh, 2 ")),
                "{e}"
            );
            assert_eq!(e.exit_code(), 2);
        }
    }

    #[test]
    fn a_selected_step_that_does_not_support_the_mode_fails_the_plan() {
        let mut p = cluster();
        p.delete[2].modes = vec![Mode::Apply];
        let e = select_steps(&p, Mode::Delete, None, &env(&[])).expect_err("apply-only");
        assert_eq!(
            e.to_string(),
            "cannot run the delete flow of \"cluster\": step 3 (30_manage_cert_manager_cleanup.sh) supports only apply; nothing was run"
        );
        // Not selected: no problem.
        let only = OnlySelection::parse("--only", "1").expect("items");
        assert!(select_steps(&p, Mode::Delete, Some(&only), &env(&[])).is_ok());
        p.delete.clear();
        assert!(select_steps(&p, Mode::Delete, None, &env(&[])).is_err());
    }
}
