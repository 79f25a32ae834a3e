//! Layered env files: which value each variable has, where it came from, and whether it is secret.
//!
//! Precedence, lowest first: the process environment, then each configured env file in order,
//! then the `--profile FILE`. A file overrides the environment, as `source file` does in `sh`;
//! a file defers to the environment with `${VAR:-default}`. A layer with `skip_if = "NAME"` is
//! skipped when `NAME` is true in what is loaded so far (the seed's `PROFILE_EXCLUSIVE=true`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::pipeline::condition::is_truthy;
use crate::pipeline::config::EnvFileLayer;
use crate::pipeline::envfile::{parse_env_file, parse_env_file_as};

pub use crate::redact::REDACTED;
use crate::redact::Redactor;

/// Whether a variable's name says it holds a secret: it contains `TOKEN`, `SECRET`, `PASSWORD`
/// or `KEY` (any case).
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["TOKEN", "SECRET", "PASSWORD", "KEY"]
        .iter()
        .any(|word| upper.contains(word))
}

/// Where a variable's value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VarSource {
    /// The process environment.
    Environment,
    /// An env file.
    File {
        /// The layer as configured (or the `--profile` path as given).
        layer: String,
        /// The line that set it.
        line: usize,
    },
}

impl std::fmt::Display for VarSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VarSource::Environment => f.write_str("environment"),
            VarSource::File { layer, line } => write!(f, "{layer}:{line}"),
        }
    }
}

/// A variable set by an env file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileVar {
    value: String,
    source: VarSource,
    secret_layer: bool,
}

/// What happened to one layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerReport {
    /// As configured, or the `--profile` path as given.
    pub name: String,
    /// The resolved path.
    pub path: PathBuf,
    /// Its values are secrets.
    pub secret: bool,
    /// `loaded`, `missing (optional)` or `skipped: NAME=true`.
    pub state: String,
    /// Variables it set.
    pub variables: usize,
}

/// The environment a pipeline's steps see, with the origin of every file-set value.
#[derive(Debug, Clone, Default)]
pub struct ResolvedEnv {
    process: BTreeMap<String, String>,
    files: BTreeMap<String, FileVar>,
    layers: Vec<LayerReport>,
}

impl ResolvedEnv {
    /// An environment with no files loaded.
    pub fn from_process(process: BTreeMap<String, String>) -> Self {
        Self {
            process,
            ..Self::default()
        }
    }

    /// The effective value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.files
            .get(name)
            .map(|v| v.value.as_str())
            .or_else(|| self.process.get(name).map(String::as_str))
    }

    /// Where the effective value of `name` came from.
    pub fn source(&self, name: &str) -> Option<VarSource> {
        match self.files.get(name) {
            Some(v) => Some(v.source.clone()),
            None => self
                .process
                .contains_key(name)
                .then_some(VarSource::Environment),
        }
    }

    /// Whether `name`'s value must never be printed: it came from a secret layer or its name
    /// looks like a secret.
    pub fn is_secret(&self, name: &str) -> bool {
        looks_secret(name) || self.files.get(name).is_some_and(|v| v.secret_layer)
    }

    /// Every variable set by a file, by name.
    pub fn file_variables(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// What happened to each layer, lowest first.
    pub fn layers(&self) -> &[LayerReport] {
        &self.layers
    }

    /// The full environment for a child process: the process environment with the files on top.
    pub fn vars(&self) -> BTreeMap<String, String> {
        let mut all = self.process.clone();
        for (k, v) in &self.files {
            all.insert(k.clone(), v.value.clone());
        }
        all
    }

    /// `name`'s value for display: [`REDACTED`] for secrets, and any secret value embedded in it
    /// masked too.
    pub fn display_value(&self, name: &str) -> Option<String> {
        let value = self.get(name)?;
        Some(if self.is_secret(name) {
            REDACTED.to_owned()
        } else {
            self.redact(value)
        })
    }

    /// The values that must never appear in output: those of every secret variable.
    pub fn secret_values(&self) -> Vec<String> {
        let mut names: Vec<&str> = self.files.keys().map(String::as_str).collect();
        names.extend(self.process.keys().map(String::as_str));
        let mut values: Vec<String> = names
            .into_iter()
            .filter(|n| self.is_secret(n))
            .filter_map(|n| self.get(n))
            .map(str::to_owned)
            .collect();
        values.sort();
        values.dedup();
        values
    }

    /// The redactor for this environment's secrets, plus the values of `extra` variables whose
    /// names look secret (a step's or task's own env).
    pub fn redactor<'a>(
        &self,
        extra: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> Redactor {
        let mut values = self.secret_values();
        values.extend(
            extra
                .into_iter()
                .filter(|(name, _)| looks_secret(name))
                .map(|(_, value)| value.clone()),
        );
        Redactor::new(values)
    }

    /// `text` with every secret value (and each line of a multi-line one) replaced by
    /// [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        self.redactor(std::iter::empty()).redact(text)
    }

    /// Expands `${VAR}` references in a value (a step's extra env) against this environment.
    pub fn expand(&self, value: &str) -> std::result::Result<String, String> {
        let parsed = parse_env_file(
            &format!("V={}", quote_for_expansion(value)),
            Path::new("-"),
            &|n: &str| self.get(n).map(str::to_owned),
        )
        .map_err(|e| e.to_string())?;
        Ok(parsed
            .into_iter()
            .next()
            .map(|a| a.value)
            .unwrap_or_default())
    }
}

/// Wraps a TOML string value in double quotes so only `$` references are interpreted.
fn quote_for_expansion(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        if matches!(c, '"' | '\\' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Loads the layers over the process environment, then `profile` (highest), reading the files.
pub fn resolve_env(
    layers: &[EnvFileLayer],
    profile: Option<&Path>,
    process: BTreeMap<String, String>,
) -> Result<ResolvedEnv> {
    let mut env = ResolvedEnv::from_process(process);
    let mut all: Vec<EnvFileLayer> = layers.to_vec();
    if let Some(p) = profile {
        all.push(EnvFileLayer {
            name: p.display().to_string(),
            path: std::path::absolute(p).unwrap_or_else(|_| p.to_owned()),
            secret: false,
            optional: false,
            skip_if: None,
        });
    }
    for (i, layer) in all.iter().enumerate() {
        let is_profile = profile.is_some() && i + 1 == all.len();
        let mut report = LayerReport {
            name: layer.name.clone(),
            path: layer.path.clone(),
            secret: layer.secret,
            state: "loaded".into(),
            variables: 0,
        };
        if let Some(flag) = &layer.skip_if
            && env.get(flag).is_some_and(is_truthy)
        {
            report.state = format!("skipped: {flag}={}", env.get(flag).unwrap_or_default());
            env.layers.push(report);
            continue;
        }
        let text = match std::fs::read_to_string(&layer.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && layer.optional => {
                report.state = "missing (optional)".into();
                env.layers.push(report);
                continue;
            }
            Err(e) => {
                let what = if is_profile { "--profile" } else { "env file" };
                return Err(Error::invalid_input(format!(
                    "{what} {}: cannot read {}: {e}",
                    layer.name,
                    layer.path.display()
                )));
            }
        };
        let assignments = {
            let lookup = |n: &str| env.get(n).map(str::to_owned);
            parse_env_file_as(&text, &layer.path, layer.secret, &lookup)?
        };
        report.variables = assignments.len();
        for a in assignments {
            env.files.insert(
                a.name,
                FileVar {
                    value: a.value,
                    source: VarSource::File {
                        layer: layer.name.clone(),
                        line: a.line,
                    },
                    secret_layer: layer.secret,
                },
            );
        }
        env.layers.push(report);
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(dir: &Path, name: &str, text: Option<&str>) -> EnvFileLayer {
        let path = dir.join(name);
        if let Some(text) = text {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
            std::fs::write(&path, text).expect("write");
        }
        EnvFileLayer {
            name: name.into(),
            path,
            secret: name.contains("secret"),
            optional: true,
            skip_if: name
                .starts_with("profiles/")
                .then(|| "PROFILE_EXCLUSIVE".into()),
        }
    }

    #[test]
    fn layers_override_in_order_and_record_their_origin() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layers = [
            layer(dir.path(), "config.env", Some("A=config\nB=config\nC=$A\n")),
            layer(dir.path(), "profiles/local.env", Some("B=local\n")),
            layer(
                dir.path(),
                "profiles/secrets.env",
                Some("DB_PASS=hunter22\nB=secret-b\n"),
            ),
            layer(dir.path(), "profiles/absent.env", None),
        ];
        let process = BTreeMap::from([("A".into(), "env".into()), ("HOME".into(), "/h".into())]);
        let env = resolve_env(&layers, None, process.clone()).expect("resolves");
        assert_eq!(
            env.get("A"),
            Some("config"),
            "a file overrides the environment"
        );
        assert_eq!(env.get("C"), Some("config"));
        assert_eq!(env.get("B"), Some("secret-b"));
        assert_eq!(env.get("HOME"), Some("/h"));
        assert_eq!(
            env.source("B").expect("set").to_string(),
            "profiles/secrets.env:2"
        );
        assert_eq!(env.source("HOME"), Some(VarSource::Environment));
        assert_eq!(env.display_value("B").as_deref(), Some(REDACTED));
        assert_eq!(env.display_value("A").as_deref(), Some("config"));
        assert_eq!(env.layers()[3].state, "missing (optional)");

        let profile = dir.path().join("override.env");
        std::fs::write(&profile, "B=profile\nPROFILE_EXCLUSIVE=true\n").expect("write");
        let env = resolve_env(&layers, Some(&profile), process.clone()).expect("resolves");
        assert_eq!(env.get("B"), Some("profile"), "--profile is highest");
        assert!(!env.is_secret("B"), "the profile overrode the secret value");

        let mut exclusive = process;
        exclusive.insert("PROFILE_EXCLUSIVE".into(), "true".into());
        let env = resolve_env(&layers, None, exclusive).expect("resolves");
        assert_eq!(env.get("B"), Some("config"));
        assert_eq!(env.get("DB_PASS"), None);
        assert_eq!(env.layers()[1].state, "skipped: PROFILE_EXCLUSIVE=true");
    }

    #[test]
    fn secrets_are_masked_by_layer_name_and_value() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layers = [
            layer(
                dir.path(),
                "config.env",
                Some("API_TOKEN=tok-123\nPLAIN=x\n"),
            ),
            layer(dir.path(), "profiles/secrets.env", Some("DB=pw-456\n")),
        ];
        let env = resolve_env(&layers, None, BTreeMap::new()).expect("resolves");
        assert!(env.is_secret("API_TOKEN") && env.is_secret("DB") && !env.is_secret("PLAIN"));
        assert!(looks_secret("metrics_key") && looks_secret("GH_PASSWORD"));
        assert_eq!(
            env.redact("connect pw-456 with tok-123"),
            "connect [redacted] with [redacted]"
        );
        assert_eq!(env.expand("u:${DB}").expect("valid"), "u:pw-456");
    }

    #[test]
    fn a_required_missing_layer_or_profile_is_bad_input() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut required = layer(dir.path(), "config.env", None);
        required.optional = false;
        let e = resolve_env(&[required], None, BTreeMap::new()).expect_err("missing");
        assert!(
            e.to_string()
                .starts_with("env file config.env: cannot read"),
            "{e}"
        );
        assert_eq!(e.exit_code(), 2);
        let e = resolve_env(&[], Some(&dir.path().join("nope.env")), BTreeMap::new())
            .expect_err("missing");
        assert!(e.to_string().starts_with("--profile "), "{e}");
    }
}
