//! Built-in steps beside commands: set a key in an env or YAML file (the seed's `make
//! platform-certs-prod` sets `CERT_ISSUER` in a ConfigMap file) and copy a template over a target
//! (the seed's mode targets). Both edit text in place, keeping comments and layout, and both
//! know when their effect is already there, so a resumed run does not redo them.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::step::{Check, Step, StepContext, StepOutput};

/// What a built-in step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuiltinAction {
    /// Set `key` to `value` in `file`: `KEY=value` in an env file, `key: value` in a `.yaml`/`.yml`
    /// file (the first line with that key, at any depth; the key must exist).
    SetKey {
        /// The file (absolute).
        file: PathBuf,
        /// The key.
        key: String,
        /// The value, `${VAR}` references expanded at plan time.
        value: String,
    },
    /// Copy `from` over `to`.
    CopyFile {
        /// The template (absolute).
        from: PathBuf,
        /// The target (absolute).
        to: PathBuf,
    },
}

impl BuiltinAction {
    /// The file the action changes.
    pub fn target(&self) -> &Path {
        match self {
            BuiltinAction::SetKey { file, .. } => file,
            BuiltinAction::CopyFile { to, .. } => to,
        }
    }

    /// The target's current text and its text after the action.
    pub fn contents(&self) -> std::result::Result<(String, String), String> {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
        };
        match self {
            BuiltinAction::SetKey { file, key, value } => {
                let current = read(file)?;
                let yaml = matches!(
                    file.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml")
                );
                let next = if yaml {
                    set_yaml_key(&current, key, value)
                        .ok_or_else(|| format!("no `{key}:` line in {}", file.display()))?
                } else {
                    set_env_key(&current, key, value)
                };
                Ok((current, next))
            }
            BuiltinAction::CopyFile { from, to } => {
                let next = read(from)?;
                let current = match std::fs::read_to_string(to) {
                    Ok(t) => t,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                    Err(e) => return Err(format!("cannot read {}: {e}", to.display())),
                };
                Ok((current, next))
            }
        }
    }
}

/// Sets `KEY=value` in env-file text (replacing the last assignment, `export` kept, else
/// appending), quoting the value when a shell would need it.
pub fn set_env_key(text: &str, key: &str, value: &str) -> String {
    let quoted = if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+,=".contains(c))
    {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    };
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let position = lines.iter().rposition(|l| {
        let l = l.trim_start();
        let l = l.strip_prefix("export ").map_or(l, str::trim_start);
        l.strip_prefix(key)
            .is_some_and(|rest| rest.starts_with('='))
    });
    match position {
        Some(i) => {
            let export = if lines[i].trim_start().starts_with("export ") {
                "export "
            } else {
                ""
            };
            lines[i] = format!("{export}{key}={quoted}");
        }
        None => lines.push(format!("{key}={quoted}")),
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// Sets the first `key: ...` line in YAML text, keeping its indentation and any comment;
/// `None` when no line has that key.
pub fn set_yaml_key(text: &str, key: &str, value: &str) -> Option<String> {
    let rendered = yaml_scalar(value);
    let mut found = false;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            if found {
                return line.to_owned();
            }
            let indent = line.len() - line.trim_start().len();
            let body = line.trim_start();
            let body = body.strip_prefix("- ").unwrap_or(body);
            let Some(rest) = body.strip_prefix(key).and_then(|r| r.strip_prefix(':')) else {
                return line.to_owned();
            };
            if !(rest.is_empty() || rest.starts_with(' ')) {
                return line.to_owned();
            }
            found = true;
            // Keep a trailing comment and the spacing before it.
            let comment = rest
                .find(" #")
                .map(|i| rest[rest[..i].trim_end().len().max(1)..].to_owned())
                .unwrap_or_default();
            let prefix_len = line.len() - body.len();
            format!(
                "{}{key}: {rendered}{comment}",
                &line[..prefix_len.max(indent)]
            )
        })
        .collect();
    found.then(|| {
        let mut out = lines.join("\n");
        if text.ends_with('\n') {
            out.push('\n');
        }
        out
    })
}

/// `value` as a YAML scalar that reads back as this very string under YAML 1.1 (Kubernetes,
/// PyYAML) and YAML 1.2: plain when that is certain, else double-quoted with escapes.
///
/// Plain only for a conservative alphabet (letters, digits, `-_./`) and never for what a
/// resolver turns into something else: the YAML 1.1 booleans and nulls in any case (`on`,
/// `Yes`, `NO`, `Null`, `y`, `~`), and anything starting like a number, a timestamp or an
/// indicator (`0x1F`, `1_000`, `.inf`, `-`, `+1`, `2024-01-01`). Quoting a string that needed
/// none costs nothing; missing one changes what a ConfigMap means.
pub fn yaml_scalar(value: &str) -> String {
    const RESOLVED: &[&str] = &["y", "n", "yes", "no", "on", "off", "true", "false", "null"];
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        && !value.starts_with(|c: char| c.is_ascii_digit() || "-.".contains(c))
        && !RESOLVED.contains(&value.to_ascii_lowercase().as_str());
    if plain {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A short line diff: the changed middle, `-` old lines then `+` new lines, with a line of
/// context each side; empty when equal.
pub fn line_diff(old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let mut out = String::new();
    if prefix > 0 {
        out.push_str(&format!("  {}\n", a[prefix - 1]));
    }
    for l in &a[prefix..a.len() - suffix] {
        out.push_str(&format!("- {l}\n"));
    }
    for l in &b[prefix..b.len() - suffix] {
        out.push_str(&format!("+ {l}\n"));
    }
    if suffix > 0 {
        out.push_str(&format!("  {}\n", a[a.len() - suffix]));
    }
    out
}

/// A built-in step on the engine.
#[derive(Debug)]
pub(crate) struct BuiltinStep {
    pub(crate) id: String,
    pub(crate) action: BuiltinAction,
    pub(crate) shown: String,
}

impl BuiltinStep {
    fn execute(&self) -> Result<StepOutput> {
        let (current, next) = self.action.contents().map_err(Error::invalid_input)?;
        if current == next {
            return Ok(StepOutput::summary(format!("{}: already so", self.shown)));
        }
        let target = self.action.target();
        let tmp = target.with_extension("orchestrator-tmp");
        std::fs::write(&tmp, &next)
            .and_then(|()| std::fs::rename(&tmp, target))
            .map_err(|e| Error::io(format!("writing {}", target.display()), e))?;
        Ok(StepOutput::summary(self.shown.clone()))
    }
}

#[async_trait]
impl Step for BuiltinStep {
    fn id(&self) -> &str {
        &self.id
    }

    fn describe(&self) -> String {
        self.shown.clone()
    }

    async fn check(&self, _ctx: &StepContext) -> Result<Check> {
        let (current, next) = self.action.contents().map_err(Error::invalid_input)?;
        Ok(if current == next {
            Check::Done(format!("{}: already so", self.shown))
        } else {
            Check::Pending(self.shown.clone())
        })
    }

    async fn apply(&self, _ctx: &StepContext) -> Result<StepOutput> {
        self.execute()
    }

    async fn delete(&self, _ctx: &StepContext) -> Result<StepOutput> {
        self.execute()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_env_keys_keeping_export_and_quoting() {
        let text = "# settings\nexport CERT_ISSUER=letsencrypt-staging\nOTHER=1\n";
        assert_eq!(
            set_env_key(text, "CERT_ISSUER", "letsencrypt-prod"),
            "# settings\nexport CERT_ISSUER=letsencrypt-prod\nOTHER=1\n"
        );
        assert_eq!(
            set_env_key("A=1\n", "B", "two words"),
            "A=1\nB='two words'\n"
        );
    }

    /// Every value that a YAML 1.1 or 1.2 resolver would read as a boolean, null, number,
    /// timestamp or structure is quoted; plain strings stay plain; quoting escapes.
    #[test]
    fn yaml_values_are_quoted_unless_they_read_back_as_the_same_string() {
        let quoted = [
            "on",
            "On",
            "ON",
            "off",
            "yes",
            "Yes",
            "NO",
            "no",
            "y",
            "N",
            "true",
            "False",
            "null",
            "Null",
            "NULL",
            "~",
            "",
            "0x1F",
            "0o17",
            "017",
            "1_000",
            "1e3",
            "1.5",
            "12",
            ".inf",
            "-.inf",
            ".NaN",
            ".5",
            "-",
            "-1",
            "+1",
            "2024-01-01",
            "1:20",
            " lead",
            "trail ",
            "a: b",
            "a #b",
            "#x",
            "a b",
            "*alias",
            "&anchor",
            "!tag",
            "[x]",
            "{x}",
            "|",
            ">",
            "%x",
            "@x",
            "`x",
            "'x'",
            "=",
            "<<",
            "?",
            "a,b",
        ];
        for value in quoted {
            let rendered = yaml_scalar(value);
            assert!(
                rendered.starts_with('"') && rendered.ends_with('"'),
                "{value:?} must be quoted, got {rendered}"
            );
            // Nothing but the escapes below changes inside the quotes.
            assert_eq!(&rendered[1..rendered.len() - 1], value, "{value:?}");
        }
        for value in [
            "letsencrypt-prod",
            "v1.2.3",
            "foo_bar",
            "a/b",
            "x.y",
            "prod",
            "inf",
            "nan",
            "onion",
            "yesterday",
            "nullable",
            "_1",
        ] {
            assert_eq!(yaml_scalar(value), value, "{value:?} stays plain");
        }
        let escaped = [
            ("say \"hi\"", r#""say \"hi\"""#),
            (r"C:\dir", r#""C:\\dir""#),
            ("two\nlines", r#""two\nlines""#),
            ("tab\there", r#""tab\there""#),
            ("bell\u{7}", r#""bell\u0007""#),
        ];
        for (value, want) in escaped {
            assert_eq!(yaml_scalar(value), want, "{value:?}");
        }
    }

    #[test]
    fn sets_yaml_keys_in_place() {
        let cm = "apiVersion: v1\nkind: ConfigMap\ndata:\n  CERT_ISSUER: letsencrypt-staging # platform issuer\n  OTHER: x\n";
        let out = set_yaml_key(cm, "CERT_ISSUER", "letsencrypt-prod").expect("key exists");
        assert_eq!(
            out,
            "apiVersion: v1\nkind: ConfigMap\ndata:\n  CERT_ISSUER: letsencrypt-prod # platform issuer\n  OTHER: x\n"
        );
        assert_eq!(
            set_yaml_key("a:\n  b: 1\n", "b", "true").as_deref(),
            Some("a:\n  b: \"true\"\n")
        );
        assert!(set_yaml_key(cm, "MISSING", "x").is_none());
        assert_eq!(
            set_yaml_key(cm, "CERT_ISSUER", "on").as_deref(),
            Some(
                "apiVersion: v1\nkind: ConfigMap\ndata:\n  CERT_ISSUER: \"on\" # platform issuer\n  OTHER: x\n"
            )
        );
        assert_eq!(
            line_diff(cm, &out),
            "  data:\n-   CERT_ISSUER: letsencrypt-staging # platform issuer\n+   CERT_ISSUER: letsencrypt-prod # platform issuer\n    OTHER: x\n"
        );
        assert_eq!(line_diff("same\n", "same\n"), "");
    }
}
