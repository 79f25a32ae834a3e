//! `[pipeline.<name>]` in `orchestrator.toml`: env-file layers and the apply and delete flows.
//!
//! ```toml
//! [pipeline.cluster]
//! env_files = [
//!   { file = "config.env" },
//!   { file = "profiles/local.env", optional = true, skip_if = "PROFILE_EXCLUSIVE" },
//!   { file = "profiles/secrets.env", optional = true, secret = true, skip_if = "PROFILE_EXCLUSIVE" },
//! ]                                   # lowest first; `--profile FILE` is always the highest
//! timeout = "30m"                     # default per-step timeout (default: none)
//! grace = "10s"                       # between the stop signal and the kill (default 10s)
//!
//! [[pipeline.cluster.apply]]
//! run = ["scripts/94_verify_config_inputs.sh"]   # argv, run directly (never a shell)
//! name = "94_verify_config_inputs.sh"            # default: the file name of run[0]
//! when = "FEAT_VERIFY"                           # NAME, !NAME, NAME=value, NAME!=value
//! modes = ["apply", "delete"]                    # what the step supports (default: both)
//! timeout = "5m"
//! env = { KUBECONFIG = "${HOME}/.kube/home" }    # extra env, with references
//! workdir = "."                                  # relative to the config file
//!
//! [[pipeline.cluster.apply]]                     # built-in: set a key in an env or YAML file
//! set = { file = "clusters/home/settings.yaml", key = "CERT_ISSUER", value = "${CERT_ISSUER}" }
//!
//! [[pipeline.cluster.apply]]                     # built-in: copy a template over a target
//! copy = { from = "clusters/home/modes/prod.yaml", to = "clusters/home/tenants.yaml" }
//!
//! [[pipeline.cluster.apply]]                     # another capability, as this binary
//! orchestrator = ["release", "--version", "${VERSION}"]
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::config::errors::ErrFn;
use crate::config::values::duration_field;
use crate::engine::Mode;
use crate::error::Result;
use crate::pipeline::builtin::BuiltinAction;
use crate::pipeline::condition::{Condition, is_var_name};

/// Default time between the stop signal and the kill.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// One `[pipeline.<name>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineConfig {
    /// Its name (`orchestrator run <name>`).
    pub name: String,
    /// Env-file layers, lowest precedence first.
    pub env_files: Vec<EnvFileLayer>,
    /// Default per-step timeout.
    pub timeout: Option<Duration>,
    /// Between the stop signal (SIGTERM) and the kill.
    pub grace: Duration,
    /// The apply flow, in order.
    pub apply: Vec<StepConfig>,
    /// The delete flow, in order (its own list, not apply reversed).
    pub delete: Vec<StepConfig>,
}

impl PipelineConfig {
    /// The flow of `mode`.
    pub fn flow(&self, mode: Mode) -> &[StepConfig] {
        match mode {
            Mode::Apply => &self.apply,
            Mode::Delete => &self.delete,
        }
    }
}

/// One env file in a pipeline's layers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvFileLayer {
    /// As written in the config (relative to it), for display.
    pub name: String,
    /// The resolved path.
    pub path: PathBuf,
    /// Its values are secrets: never printed, shown as `[redacted]`.
    pub secret: bool,
    /// A missing file is skipped rather than an error.
    pub optional: bool,
    /// Skipped when this variable is true (e.g. `PROFILE_EXCLUSIVE`).
    pub skip_if: Option<String>,
}

/// One step of a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepConfig {
    /// Unique within its flow; `--only` accepts it with or without extension.
    pub name: String,
    /// What it does.
    pub action: StepAction,
    /// The step runs only when this holds.
    pub when: Option<Condition>,
    /// The modes the step supports.
    pub modes: Vec<Mode>,
    /// Kill the step after this long (default: the pipeline's `timeout`).
    pub timeout: Option<Duration>,
    /// Extra environment; values may reference variables (`${VAR}`).
    pub env: BTreeMap<String, String>,
    /// Working directory (absolute; default: the config's directory).
    pub workdir: Option<PathBuf>,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepAction {
    /// `run = [...]`: a command, argv run directly (`${VAR}` references in arguments expanded).
    Run(Vec<String>),
    /// `set = {...}` or `copy = {...}`: a built-in file edit.
    Builtin(BuiltinAction),
    /// `orchestrator = ["release", "--version", "${VERSION}"]`: another capability of this
    /// orchestrator (`release`, `publish`, `cascade`, `scale`), run as this binary with this
    /// config, under the pipeline's workspace lock.
    Orchestrator(Vec<String>),
}

/// The capabilities an `orchestrator = [...]` step may run.
pub const CAPABILITIES: &[&str] = &["release", "publish", "cascade", "scale"];

impl StepAction {
    /// The file name a step is known by: the script's, or the edited file's.
    pub fn basename(&self) -> String {
        let path = match self {
            StepAction::Run(argv) => Path::new(&argv[0]),
            StepAction::Builtin(b) => b.target(),
            StepAction::Orchestrator(args) => Path::new(&args[0]),
        };
        path.file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Every `[pipeline.<name>]` as read, by name: the section's raw type.
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
pub(crate) struct RawPipelines(BTreeMap<String, Spanned<RawPipeline>>);

// The raw types' names appear in serde's messages ("expected struct RawPipeline"): keep them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    #[serde(default)]
    env_files: Vec<RawLayer>,
    timeout: Option<Spanned<String>>,
    grace: Option<Spanned<String>>,
    #[serde(default)]
    apply: Vec<Spanned<RawStep>>,
    #[serde(default)]
    delete: Vec<Spanned<RawStep>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayer {
    file: Spanned<String>,
    #[serde(default)]
    secret: bool,
    #[serde(default)]
    optional: bool,
    skip_if: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: Option<Spanned<String>>,
    run: Option<Spanned<Vec<String>>>,
    orchestrator: Option<Spanned<Vec<String>>>,
    set: Option<RawSet>,
    copy: Option<RawCopy>,
    when: Option<Spanned<String>>,
    modes: Option<Spanned<Vec<String>>>,
    timeout: Option<Spanned<String>>,
    env: Option<Spanned<BTreeMap<String, String>>>,
    workdir: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSet {
    file: String,
    key: String,
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCopy {
    from: String,
    to: String,
}

/// A step or task name: letters, digits, `.`, `_`, `-`.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// Validates every `[pipeline.<name>]`: names, env layers, durations and both flows' steps.
pub(crate) fn parse_pipelines(
    raw: RawPipelines,
    root: &Path,
    err: &ErrFn<'_>,
) -> Result<BTreeMap<String, PipelineConfig>> {
    let mut out = BTreeMap::new();
    for (name, raw) in raw.0 {
        let span = raw.span();
        let raw = raw.into_inner();
        let key = |k: &str| Some(format!("pipeline.{name}.{k}"));
        if !valid_name(&name) {
            return Err(err(
                Some(span),
                Some(format!("pipeline.{name}")),
                format!("invalid pipeline name {name:?}"),
            ));
        }
        let mut env_files = Vec::new();
        for layer in raw.env_files {
            let file_span = layer.file.span();
            let file = layer.file.into_inner();
            if file.trim().is_empty() {
                return Err(err(Some(file_span), key("env_files"), "empty file".into()));
            }
            let skip_if = match layer.skip_if {
                None => None,
                Some(s) => {
                    if !is_var_name(s.get_ref()) {
                        return Err(err(
                            Some(s.span()),
                            key("env_files"),
                            format!("skip_if {:?} is not a variable name", s.get_ref()),
                        ));
                    }
                    Some(s.into_inner())
                }
            };
            env_files.push(EnvFileLayer {
                path: root.join(&file),
                name: file,
                secret: layer.secret,
                optional: layer.optional,
                skip_if,
            });
        }
        let timeout = match raw.timeout {
            None => None,
            Some(t) => Some(duration_field(
                Some(t),
                &format!("pipeline.{name}.timeout"),
                Duration::ZERO,
                err,
            )?),
        };
        let grace = duration_field(
            raw.grace,
            &format!("pipeline.{name}.grace"),
            DEFAULT_GRACE,
            err,
        )?;
        let apply = parse_steps(raw.apply, &format!("pipeline.{name}.apply"), root, err)?;
        let delete = parse_steps(raw.delete, &format!("pipeline.{name}.delete"), root, err)?;
        if apply.is_empty() && delete.is_empty() {
            return Err(err(
                Some(span),
                Some(format!("pipeline.{name}")),
                "declares no steps: add [[pipeline.NAME.apply]] or [[pipeline.NAME.delete]] tables"
                    .into(),
            ));
        }
        out.insert(
            name.clone(),
            PipelineConfig {
                name,
                env_files,
                timeout,
                grace,
                apply,
                delete,
            },
        );
    }
    Ok(out)
}

fn parse_steps(
    raw: Vec<Spanned<RawStep>>,
    prefix: &str,
    root: &Path,
    err: &ErrFn<'_>,
) -> Result<Vec<StepConfig>> {
    let mut steps: Vec<StepConfig> = Vec::new();
    for (i, raw) in raw.into_iter().enumerate() {
        let span = raw.span();
        let raw = raw.into_inner();
        let key = |k: &str| Some(format!("{prefix}[{i}].{k}"));
        let capability = match raw.orchestrator {
            Some(_) if raw.run.is_some() || raw.set.is_some() || raw.copy.is_some() => {
                return Err(err(
                    Some(span),
                    Some(format!("{prefix}[{i}]")),
                    "expected exactly one of `run`, `set`, `copy` or `orchestrator`".into(),
                ));
            }
            Some(args) => {
                let args_span = args.span();
                let args = args.into_inner();
                if !args
                    .first()
                    .is_some_and(|c| CAPABILITIES.contains(&c.as_str()))
                {
                    return Err(err(
                        Some(args_span),
                        key("orchestrator"),
                        format!(
                            "expected a capability and its arguments, e.g. [\"release\", \"--version\", \"${{VERSION}}\"]; capabilities: {}",
                            CAPABILITIES.join(", ")
                        ),
                    ));
                }
                Some(args)
            }
            None => None,
        };
        let is_capability = capability.is_some();
        let (action, default_name) = match (capability, raw.run, raw.set, raw.copy) {
            (Some(args), ..) => {
                let name = format!("orchestrator-{}", args[0]);
                (StepAction::Orchestrator(args), Some(name))
            }
            (None, Some(run), None, None) => {
                let run_span = run.span();
                let run = run.into_inner();
                if run.first().is_none_or(|p| p.trim().is_empty()) {
                    return Err(err(
                        Some(run_span),
                        key("run"),
                        "expected the command as a non-empty argument list, e.g. [\"scripts/10_step.sh\", \"--flag\"]".into(),
                    ));
                }
                let name = Path::new(&run[0])
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned());
                (StepAction::Run(run), name)
            }
            (None, None, Some(set), None) => {
                if !is_var_name(&set.key.replace(['.', '-'], "_")) {
                    return Err(err(
                        Some(span),
                        key("set"),
                        format!("invalid key {:?}", set.key),
                    ));
                }
                let name = format!("set-{}", set.key);
                (
                    StepAction::Builtin(BuiltinAction::SetKey {
                        file: root.join(set.file),
                        key: set.key,
                        value: set.value,
                    }),
                    Some(name),
                )
            }
            (None, None, None, Some(copy)) => {
                let to = root.join(copy.to);
                let name = to
                    .file_name()
                    .map(|f| format!("copy-{}", f.to_string_lossy()));
                (
                    StepAction::Builtin(BuiltinAction::CopyFile {
                        from: root.join(copy.from),
                        to,
                    }),
                    name,
                )
            }
            _ => {
                return Err(err(
                    Some(span),
                    Some(format!("{prefix}[{i}]")),
                    "expected exactly one of `run`, `set`, `copy` or `orchestrator`".into(),
                ));
            }
        };
        let name = match raw.name {
            Some(n) => {
                if !valid_name(n.get_ref()) {
                    return Err(err(
                        Some(n.span()),
                        key("name"),
                        format!("invalid step name {:?}", n.get_ref()),
                    ));
                }
                n.into_inner()
            }
            None => default_name.filter(|f| valid_name(f)).ok_or_else(|| {
                err(
                    Some(span.clone()),
                    key("name"),
                    "cannot name the step after its file; add name = \"...\"".into(),
                )
            })?,
        };
        if steps.iter().any(|s| s.name == name) {
            return Err(err(
                Some(span),
                key("name"),
                format!("step {name:?} appears twice in {prefix}; give one a distinct name"),
            ));
        }
        let when = match raw.when {
            None => None,
            Some(w) => Some(
                Condition::parse(w.get_ref())
                    .map_err(|e| err(Some(w.span()), key("when"), e.to_string()))?,
            ),
        };
        let modes = match raw.modes {
            // A release or a publish has no delete flow.
            None if is_capability => vec![Mode::Apply],
            None => vec![Mode::Apply, Mode::Delete],
            Some(m) => {
                let m_span = m.span();
                let mut modes = Vec::new();
                for s in m.into_inner() {
                    let mode = match s.as_str() {
                        "apply" => Mode::Apply,
                        "delete" => Mode::Delete,
                        other => {
                            return Err(err(
                                Some(m_span),
                                key("modes"),
                                format!("unknown mode {other:?}: expected \"apply\" or \"delete\""),
                            ));
                        }
                    };
                    if !modes.contains(&mode) {
                        modes.push(mode);
                    }
                }
                if modes.is_empty() {
                    return Err(err(Some(m_span), key("modes"), "empty list".into()));
                }
                modes
            }
        };
        let timeout = match raw.timeout {
            None => None,
            Some(t) => Some(duration_field(
                Some(t),
                &format!("{prefix}[{i}].timeout"),
                Duration::ZERO,
                err,
            )?),
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
        let workdir = raw.workdir.map(|w| root.join(w.into_inner()));
        steps.push(StepConfig {
            name,
            action,
            when,
            modes,
            timeout,
            env,
            workdir,
        });
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::{assert_errors, parse};

    #[test]
    fn pipelines_load() {
        let c = parse(
            r#"
[pipeline.cluster]
env_files = [{ file = "config.env" }, { file = "profiles/secrets.env", secret = true, optional = true, skip_if = "PROFILE_EXCLUSIVE" }]
timeout = "30m"
[[pipeline.cluster.apply]]
run = ["scripts/94_verify.sh", "--strict"]
when = "FEAT_VERIFY"
env = { KUBECONFIG = "${HOME}/.kube/home" }
[[pipeline.cluster.delete]]
name = "teardown"
run = ["scripts/99.sh"]
modes = ["delete"]
timeout = "5m"
workdir = "ops"
"#,
        )
        .expect("valid");
        let p = &c.pipelines["cluster"];
        assert_eq!(p.env_files[1].path, Path::new("/work/profiles/secrets.env"));
        assert!(p.env_files[1].secret && p.env_files[1].optional);
        assert_eq!(p.timeout, Some(Duration::from_secs(1800)));
        assert_eq!(p.grace, DEFAULT_GRACE);
        assert_eq!(p.apply[0].name, "94_verify.sh");
        assert_eq!(p.apply[0].modes.len(), 2);
        assert_eq!(p.delete[0].name, "teardown");
        assert_eq!(p.delete[0].modes, vec![Mode::Delete]);
        assert_eq!(p.delete[0].workdir.as_deref(), Some(Path::new("/work/ops")));
    }

    #[test]
    fn bad_pipelines_name_file_line_and_key() {
        assert_errors(&[
            (
                "[pipeline.c]\n[[pipeline.c.apply]]\nrun = []\n",
                ":3: `pipeline.c.apply[0].run`: expected the command",
            ),
            (
                "[pipeline.c]\n[[pipeline.c.apply]]\nrun = [\"a.sh\"]\nwhen = \"1X\"\n",
                ":4: `pipeline.c.apply[0].when`: invalid condition",
            ),
            (
                "[pipeline.c]\n[[pipeline.c.apply]]\nrun = [\"a.sh\"]\nmodes = [\"undo\"]\n",
                ":4: `pipeline.c.apply[0].modes`: unknown mode \"undo\"",
            ),
            (
                "[pipeline.c]\n[[pipeline.c.apply]]\nrun = [\"a.sh\"]\n[[pipeline.c.apply]]\nrun = [\"x/a.sh\"]\n",
                ":4: `pipeline.c.apply[1].name`: step \"a.sh\" appears twice",
            ),
            (
                "[pipeline.c]\n[[pipeline.c.apply]]\nrun = [\"a.sh\"]\ntimeout = \"soon\"\n",
                ":4: `pipeline.c.apply[0].timeout`: invalid duration",
            ),
            (
                "[pipeline.c]\n[[pipeline.c.apply]]\nrun = [\"a.sh\"]\nshell = true\n",
                ":4: `shell`: unknown field `shell`",
            ),
            (
                "[pipeline.c]\ntimeout = \"1s\"\n",
                ":1: `pipeline.c`: declares no steps",
            ),
        ]);
    }
}
