//! `[[tasks.<list>]]` in `orchestrator.toml`: the tasks of a scheduled run, in order.
//!
//! ```toml
//! [[tasks.nightly]]
//! name = "infra.scale"                          # unique in the list; what --skip and SKIP_TASKS use
//! run = ["node", "scripts/infra.scale.mjs"]     # argv, run directly (never a shell)
//! enabled = "ENABLE_INFRA_SCALE=1"              # gate: NAME, !NAME, NAME=value, NAME!=value
//! env = { TARGET = "prod" }                     # extra env, with ${VAR} references
//! timeout = "30m"
//! workdir = "."
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::config::errors::ErrFn;
use crate::config::values::duration_field;
use crate::error::Result;
use crate::pipeline::condition::{Condition, is_var_name};
use crate::pipeline::config::valid_name;

/// One `[[tasks.<list>]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskConfig {
    /// Unique within its list.
    pub name: String,
    /// The command: argv, run directly.
    pub run: Vec<String>,
    /// The gate; a task whose gate is off is recorded as skipped.
    pub enabled: Option<Condition>,
    /// Extra environment; values may reference variables (`${VAR}`).
    pub env: BTreeMap<String, String>,
    /// Kill the task after this long.
    pub timeout: Option<Duration>,
    /// Working directory (absolute; default: the config's directory).
    pub workdir: Option<PathBuf>,
}

/// Every `[[tasks.<list>]]` as read, by list name: the section's raw type.
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
pub(crate) struct RawTaskLists(BTreeMap<String, Vec<Spanned<RawTask>>>);

// The name appears in serde's messages ("expected struct RawTask"): keep it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTask {
    name: Spanned<String>,
    run: Spanned<Vec<String>>,
    enabled: Option<Spanned<String>>,
    env: Option<Spanned<BTreeMap<String, String>>>,
    timeout: Option<Spanned<String>>,
    workdir: Option<Spanned<String>>,
}

/// Validates every task list: names unique within a list, commands, gates, env and timeouts.
pub(crate) fn parse_task_lists(
    raw: RawTaskLists,
    root: &Path,
    err: &ErrFn<'_>,
) -> Result<BTreeMap<String, Vec<TaskConfig>>> {
    let mut out = BTreeMap::new();
    for (list, tasks) in raw.0 {
        let mut parsed: Vec<TaskConfig> = Vec::new();
        for (i, raw) in tasks.into_iter().enumerate() {
            let span = raw.span();
            let raw = raw.into_inner();
            let key = |k: &str| Some(format!("tasks.{list}[{i}].{k}"));
            if !valid_name(&list) {
                return Err(err(
                    Some(span),
                    Some(format!("tasks.{list}")),
                    format!("invalid task list name {list:?}"),
                ));
            }
            let name_span = raw.name.span();
            let name = raw.name.into_inner();
            if !valid_name(&name) {
                return Err(err(
                    Some(name_span),
                    key("name"),
                    format!("invalid task name {name:?}"),
                ));
            }
            if parsed.iter().any(|t| t.name == name) {
                return Err(err(
                    Some(name_span),
                    key("name"),
                    format!("task {name:?} appears twice in tasks.{list}"),
                ));
            }
            let run_span = raw.run.span();
            let run = raw.run.into_inner();
            if run.first().is_none_or(|p| p.trim().is_empty()) {
                return Err(err(
                    Some(run_span),
                    key("run"),
                    "expected the command as a non-empty argument list".into(),
                ));
            }
            let enabled = match raw.enabled {
                None => None,
                Some(w) => Some(
                    Condition::parse(w.get_ref())
                        .map_err(|e| err(Some(w.span()), key("enabled"), e.to_string()))?,
                ),
            };
            let env = match raw.env {
                None => BTreeMap::new(),
                Some(e) => {
                    let e_span = e.span();
                    let env = e.into_inner();
                    if let Some(bad) = env.keys().find(|k| !is_var_name(k)) {
                        return Err(err(
                            Some(e_span),
                            key("env"),
                            format!("invalid variable name {bad:?}"),
                        ));
                    }
                    env
                }
            };
            let timeout = match raw.timeout {
                None => None,
                Some(t) => Some(duration_field(
                    Some(t),
                    &format!("tasks.{list}[{i}].timeout"),
                    Duration::ZERO,
                    err,
                )?),
            };
            parsed.push(TaskConfig {
                name,
                run,
                enabled,
                env,
                timeout,
                workdir: raw.workdir.map(|w| root.join(w.into_inner())),
            });
        }
        out.insert(list, parsed);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::config::testing::{assert_errors, parse};

    #[test]
    fn task_lists_load() {
        let c = parse(
            r#"
[[tasks.nightly]]
name = "infra.scale"
run = ["node", "scripts/infra.scale.mjs"]
enabled = "ENABLE_INFRA_SCALE=1"
workdir = "ops"
"#,
        )
        .expect("valid");
        let t = &c.tasks["nightly"][0];
        assert_eq!(t.run, vec!["node", "scripts/infra.scale.mjs"]);
        assert_eq!(
            t.enabled.as_ref().map(ToString::to_string).as_deref(),
            Some("ENABLE_INFRA_SCALE=1")
        );
        assert_eq!(
            t.workdir.as_deref(),
            Some(std::path::Path::new("/work/ops"))
        );
    }

    #[test]
    fn bad_tasks_name_file_line_and_key() {
        assert_errors(&[
            (
                "[[tasks.n]]\nname = \"a\"\nrun = [\"x\"]\nenabled = \"A B\"\n",
                ":4: `tasks.n[0].enabled`: invalid condition",
            ),
            (
                "[[tasks.n]]\nname = \"a\"\nrun = [\"x\"]\n[[tasks.n]]\nname = \"a\"\nrun = [\"y\"]\n",
                ":5: `tasks.n[1].name`: task \"a\" appears twice",
            ),
        ]);
    }
}
