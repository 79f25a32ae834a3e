//! Manifest rewriting: a package's own version and its requirements on released packages, with
//! nothing else changed.
//!
//! - `Cargo.toml` goes through `toml_edit`, so comments, ordering, spacing and inline tables stay
//!   as written. `[package] version`, `[workspace.package] version`, and the `version` of every
//!   dependency entry (`[dependencies]`, `[dev-dependencies]`, `[build-dependencies]`,
//!   `[target.*.…]`, `[workspace.dependencies]`; renamed entries by their `package` key) are
//!   rewritten. Entries that inherit (`x.workspace = true`) or have no version (path/git only)
//!   are left alone, except that a path/git entry without a `version` outside
//!   `[dev-dependencies]` is an error (the published crate could not name the release; Cargo
//!   strips version-less dev-dependencies itself).
//! - `package.json` is edited in place: the string values of `version` and of the released
//!   packages in `dependencies`, `devDependencies`, `optionalDependencies` and
//!   `peerDependencies` are replaced byte for byte, so key order, indentation and line endings
//!   cannot change. `workspace:`, `file:`, `link:`, URLs, dist-tags and `*` are left alone.
//!
//! Every requirement is moved by [`super::range`] so that it admits the new version, in the
//! style `[publish] dependency_range` asks for; one that cannot be rewritten faithfully fails
//! the whole rewrite with its line, so nothing is written.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::range::{DependencyRange, cargo_requirement, npm_requirement};
use crate::error::{Error, Result};

/// Which manifest format a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ManifestKind {
    /// `Cargo.toml`.
    Cargo,
    /// `package.json`.
    Npm,
}

impl ManifestKind {
    /// From the file name: `Cargo.toml` or `package.json`.
    pub fn detect(path: &Path) -> Result<Self> {
        match path.file_name().and_then(|n| n.to_str()) {
            Some("Cargo.toml") => Ok(Self::Cargo),
            Some("package.json") => Ok(Self::Npm),
            _ => Err(Error::invalid_input(format!(
                "unsupported manifest {}: expected Cargo.toml or package.json",
                path.display()
            ))),
        }
    }
}

/// One change made to a manifest, for plans and commit bodies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestChange {
    /// `version`, or `dependencies.<name>`, `peerDependencies.<name>`, `dependencies.<name>.version`…
    pub key: String,
    /// The value before.
    pub from: String,
    /// The value after.
    pub to: String,
}

/// A rewritten manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEdit {
    /// The new text.
    pub text: String,
    /// What changed (empty when the text is unchanged).
    pub changes: Vec<ManifestChange>,
}

/// What a manifest declares about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestInfo {
    /// The package name (`name` / `[package] name`).
    pub name: Option<String>,
    /// Its version, when written there (not inherited).
    pub version: Option<String>,
}

/// Reads the package name and version.
pub fn read_manifest(kind: ManifestKind, text: &str) -> Result<ManifestInfo> {
    match kind {
        ManifestKind::Cargo => {
            let doc: toml_edit::DocumentMut = text
                .parse()
                .map_err(|e| Error::invalid_input(format!("invalid Cargo.toml: {e}")))?;
            let package = doc.get("package");
            let field = |k: &str| {
                package
                    .and_then(|p| p.get(k))
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            };
            let version = field("version").or_else(|| {
                doc.get("workspace")
                    .and_then(|w| w.get("package"))
                    .and_then(|p| p.get("version"))
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            });
            Ok(ManifestInfo {
                name: field("name"),
                version,
            })
        }
        ManifestKind::Npm => {
            let value: serde_json::Value = serde_json::from_str(text)
                .map_err(|e| Error::invalid_input(format!("invalid package.json: {e}")))?;
            let field = |k: &str| value.get(k).and_then(|v| v.as_str()).map(str::to_owned);
            Ok(ManifestInfo {
                name: field("name"),
                version: field("version"),
            })
        }
    }
}

/// Sets the package's own version (when `version` is given) and the requirements on the
/// packages in `released` (package name → its new version), moved as `policy` says. A
/// requirement that cannot be rewritten is an [`Error::InvalidInput`] naming its line, table,
/// key and value (the caller adds the file).
pub fn rewrite_manifest(
    kind: ManifestKind,
    text: &str,
    version: Option<&semver::Version>,
    released: &BTreeMap<String, semver::Version>,
    policy: DependencyRange,
) -> Result<ManifestEdit> {
    match kind {
        ManifestKind::Cargo => rewrite_cargo(text, version, released, policy),
        ManifestKind::Npm => rewrite_npm(text, version, released, policy),
    }
}

/// The 1-based line of the first line holding `key` and then `value` (the line an error names);
/// 0 when not found (a value spread over lines).
fn line_of(text: &str, key: &str, value: &str) -> usize {
    text.lines()
        .position(|l| l.find(key).is_some_and(|at| l[at..].contains(value)))
        .map_or(0, |i| i + 1)
}

/// `e` with the manifest's path in front of its message (`path:line N: ...`).
pub fn in_file(path: &Path, e: Error) -> Error {
    match e {
        Error::InvalidInput { message } => {
            Error::invalid_input(format!("{}: {message}", path.display()))
        }
        other => other,
    }
}

fn unrewritable(text: &str, key: &str, label: &str, old: &str, why: &str) -> Error {
    Error::invalid_input(format!(
        "line {}: {label} = {old:?} cannot be rewritten: {why}",
        line_of(text, key, old)
    ))
}

/// The child `key` of a table-like item, never inserting (unlike `Item::get_mut`).
fn child<'a>(item: &'a mut toml_edit::Item, key: &str) -> Option<&'a mut toml_edit::Item> {
    item.as_table_like_mut().and_then(|t| t.get_mut(key))
}

fn set_str(value: &mut toml_edit::Value, new: &str) {
    let decor = value.decor().clone();
    *value = toml_edit::Value::from(new);
    *value.decor_mut() = decor;
}

fn rewrite_cargo(
    text: &str,
    version: Option<&semver::Version>,
    released: &BTreeMap<String, semver::Version>,
    policy: DependencyRange,
) -> Result<ManifestEdit> {
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| Error::invalid_input(format!("invalid Cargo.toml: {e}")))?;
    let mut changes = Vec::new();
    if let Some(version) = version {
        let new = version.to_string();
        for path in [&["package"][..], &["workspace", "package"][..]] {
            let mut item = Some(doc.as_item_mut());
            for key in path {
                item = item.and_then(|i| child(i, key));
            }
            if let Some(v) = item
                .and_then(|i| child(i, "version"))
                .and_then(|v| v.as_value_mut())
                && let Some(old) = v.as_str().map(str::to_owned)
                && old != new
            {
                set_str(v, &new);
                changes.push(ManifestChange {
                    key: format!("{}.version", path.join(".")),
                    from: old,
                    to: new.clone(),
                });
            }
        }
    }
    // Every dependency table, wherever Cargo allows one.
    let mut tables: Vec<Vec<String>> = Vec::new();
    for kind in ["dependencies", "dev-dependencies", "build-dependencies"] {
        tables.push(vec![kind.into()]);
        if let Some(targets) = doc.get("target").and_then(|t| t.as_table_like()) {
            for (target, _) in targets.iter() {
                tables.push(vec!["target".into(), target.to_owned(), kind.into()]);
            }
        }
    }
    tables.push(vec!["workspace".into(), "dependencies".into()]);
    for path in tables {
        let mut item = Some(doc.as_item_mut());
        for key in &path {
            item = item.and_then(|i| child(i, key));
        }
        let Some(table) = item.and_then(|i| i.as_table_like_mut()) else {
            continue;
        };
        for (key, entry) in table.iter_mut() {
            let key = key.get().to_owned();
            let package = entry
                .get("package")
                .and_then(|p| p.as_str())
                .map_or_else(|| key.clone(), str::to_owned);
            let Some(new_version) = released.get(&package) else {
                continue;
            };
            let (slot, label) = if entry.is_str() {
                (entry.as_value_mut(), format!("{}.{key}", path.join(".")))
            } else {
                (
                    child(entry, "version").and_then(|v| v.as_value_mut()),
                    format!("{}.{key}.version", path.join(".")),
                )
            };
            let Some(slot) = slot else {
                // Inherited from the workspace table (rewritten there), or a path/git entry
                // with no version: the published crate could not name the release.
                let inherits = entry.get("workspace").is_some();
                let dev = path.last().is_some_and(|t| t == "dev-dependencies");
                if !inherits && !dev {
                    let source = ["path", "git"]
                        .into_iter()
                        .find(|k| entry.get(k).is_some())
                        .unwrap_or("version");
                    return Err(Error::invalid_input(format!(
                        "line {}: {}.{key} has a {source} but no version: add `version = \"{new_version}\"`",
                        line_of(text, &key, source),
                        path.join("."),
                    )));
                }
                continue;
            };
            let Some(old) = slot.as_str().map(str::to_owned) else {
                continue;
            };
            let new = cargo_requirement(&old, new_version, policy)
                .map_err(|why| unrewritable(text, &key, &label, &old, &why))?;
            if new != old {
                set_str(slot, &new);
                changes.push(ManifestChange {
                    key: label,
                    from: old,
                    to: new,
                });
            }
        }
    }
    Ok(ManifestEdit {
        text: doc.to_string(),
        changes,
    })
}

/// A string value in a JSON document: the keys leading to it and its byte range (quotes
/// included).
struct JsonString {
    path: Vec<String>,
    range: std::ops::Range<usize>,
    value: String,
}

/// Collects every string value at depth 1 and 2 of a JSON object (enough for `version` and the
/// dependency maps) with its exact position.
fn json_strings(text: &str) -> Result<Vec<JsonString>> {
    // Validate first, so the scanner below can assume well-formed input.
    serde_json::from_str::<serde_json::Value>(text)
        .map_err(|e| Error::invalid_input(format!("invalid package.json: {e}")))?;
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut path: Vec<String> = Vec::new();
    // For each open container: is it an object, and the key pending for its next value.
    let mut stack: Vec<(bool, Option<String>)> = Vec::new();
    let mut i = 0;
    let read_string = |start: usize| -> (usize, String) {
        let mut j = start + 1;
        while j < bytes.len() {
            match bytes[j] {
                b'\\' => j += 2,
                b'"' => break,
                _ => j += 1,
            }
        }
        let raw = &text[start..=j];
        let value = serde_json::from_str::<String>(raw).unwrap_or_default();
        (j + 1, value)
    };
    while i < bytes.len() {
        match bytes[i] {
            b'{' | b'[' => {
                let is_object = bytes[i] == b'{';
                let key = stack.last_mut().and_then(|(_, k)| k.take());
                if !stack.is_empty() {
                    path.push(key.unwrap_or_default());
                }
                stack.push((is_object, None));
                i += 1;
            }
            b'}' | b']' => {
                stack.pop();
                if !stack.is_empty() {
                    path.pop();
                }
                i += 1;
            }
            b'"' => {
                let (end, value) = read_string(i);
                let in_object = stack.last().is_some_and(|(o, _)| *o);
                let pending = stack.last().and_then(|(_, k)| k.clone());
                if in_object && pending.is_none() {
                    // A key: the next value belongs to it.
                    if let Some(top) = stack.last_mut() {
                        top.1 = Some(value);
                    }
                } else {
                    let key = stack.last_mut().and_then(|(_, k)| k.take());
                    let mut full = path.clone();
                    full.push(key.unwrap_or_default());
                    out.push(JsonString {
                        path: full,
                        range: i..end,
                        value,
                    });
                }
                i = end;
            }
            b',' => {
                if let Some(top) = stack.last_mut() {
                    top.1 = None;
                }
                i += 1;
            }
            _ => {
                // Numbers, literals, whitespace and ':' need no tracking, but a scalar value
                // consumes its pending key.
                if !matches!(bytes[i], b':' | b' ' | b'\t' | b'\r' | b'\n')
                    && let Some(top) = stack.last_mut()
                {
                    top.1 = None;
                }
                i += 1;
            }
        }
    }
    Ok(out)
}

/// The npm dependency maps whose requirements are rewritten.
const NPM_TABLES: [&str; 4] = [
    "dependencies",
    "devDependencies",
    "optionalDependencies",
    "peerDependencies",
];

fn rewrite_npm(
    text: &str,
    version: Option<&semver::Version>,
    released: &BTreeMap<String, semver::Version>,
    policy: DependencyRange,
) -> Result<ManifestEdit> {
    let mut edits: Vec<(std::ops::Range<usize>, String, ManifestChange)> = Vec::new();
    for s in json_strings(text)? {
        let new = match s.path.as_slice() {
            [key] if key == "version" => version.map(ToString::to_string),
            [section, package] if NPM_TABLES.contains(&section.as_str()) => {
                match released.get(package) {
                    None => None,
                    Some(v) => npm_requirement(&s.value, v, policy).map_err(|why| {
                        unrewritable(
                            text,
                            &format!("\"{package}\""),
                            &s.path.join("."),
                            &s.value,
                            &why,
                        )
                    })?,
                }
            }
            _ => None,
        };
        if let Some(new) = new
            && new != s.value
        {
            let quoted = serde_json::to_string(&new).expect("strings always serialize");
            edits.push((
                s.range,
                quoted,
                ManifestChange {
                    key: s.path.join("."),
                    from: s.value,
                    to: new,
                },
            ));
        }
    }
    let mut out = text.to_owned();
    for (range, quoted, _) in edits.iter().rev() {
        out.replace_range(range.clone(), quoted);
    }
    Ok(ManifestEdit {
        text: out,
        changes: edits.into_iter().map(|(_, _, c)| c).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn released(pairs: &[(&str, &str)]) -> BTreeMap<String, semver::Version> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), semver::Version::parse(v).expect("valid")))
            .collect()
    }

    /// A unified-style line diff, for snapshots that show exactly what changed.
    fn diff(before: &str, after: &str) -> String {
        let (a, b): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
        assert_eq!(a.len(), b.len(), "line count changed:\n{after}");
        a.iter()
            .zip(&b)
            .enumerate()
            .filter(|(_, (x, y))| x != y)
            .map(|(i, (x, y))| format!("{:>3}: - {x}\n     + {y}\n", i + 1))
            .collect()
    }

    const PACKAGE_JSON: &str = "{\n    \"name\": \"@web-buddy/framework\",\n    \"version\": \"1.0.3\",\n    \"description\": \"Meta-package: \\\"version\\\": 1.0.3 in prose stays\",\n    \"main\": \"dist/index.js\",\n    \"scripts\": { \"build\": \"tsc -p .\", \"version\": \"echo 1.0.3\" },\n    \"dependencies\": {\n        \"@web-buddy/core\": \"^1.0.3\",\n        \"@google-buddy/client\": \"~1.0.0\",\n        \"@web-buddy/nodejs-server\": \"workspace:*\",\n        \"left-pad\": \"^1.3.0\"\n    },\n    \"peerDependencies\": {\"typescript-eda\": \">=1.0.0 <2\"},\n    \"devDependencies\": {\n        \"@web-buddy/core\": \"^1.0.3\",\n        \"typescript\": \"5.4.5\"\n    },\n    \"files\": [\"dist\", \"1.0.3\"],\n    \"publishConfig\": {\"access\": \"public\"}\n}\n";

    #[test]
    fn package_json_changes_only_version_strings() {
        let edit = rewrite_manifest(
            ManifestKind::Npm,
            PACKAGE_JSON,
            Some(&semver::Version::parse("1.1.0").expect("valid")),
            &released(&[
                ("@web-buddy/core", "1.1.0"),
                ("@google-buddy/client", "1.1.0"),
                ("@web-buddy/nodejs-server", "1.1.0"),
                ("typescript-eda", "2.0.0"),
            ]),
            DependencyRange::KeepStyle,
        )
        .expect("valid");
        insta::assert_snapshot!(diff(PACKAGE_JSON, &edit.text));
        insta::assert_json_snapshot!(edit.changes);
        let info = read_manifest(ManifestKind::Npm, &edit.text).expect("valid");
        assert_eq!(info.version.as_deref(), Some("1.1.0"));
        // Idempotent: a second rewrite changes nothing.
        let again = rewrite_manifest(
            ManifestKind::Npm,
            &edit.text,
            Some(&semver::Version::parse("1.1.0").expect("valid")),
            &released(&[("@web-buddy/core", "1.1.0")]),
            DependencyRange::KeepStyle,
        )
        .expect("valid");
        assert!(again.changes.is_empty());
        assert_eq!(again.text, edit.text);
    }

    #[test]
    fn package_json_with_tabs_and_crlf_keeps_them() {
        let text = "{\r\n\t\"name\": \"a\",\r\n\t\"version\": \"0.1.0\",\r\n\t\"dependencies\": {\r\n\t\t\"b\": \"0.1.0\"\r\n\t}\r\n}";
        let edit = rewrite_manifest(
            ManifestKind::Npm,
            text,
            Some(&semver::Version::parse("0.2.0").expect("valid")),
            &released(&[("b", "0.3.0")]),
            DependencyRange::KeepStyle,
        )
        .expect("valid");
        assert_eq!(
            edit.text,
            "{\r\n\t\"name\": \"a\",\r\n\t\"version\": \"0.2.0\",\r\n\t\"dependencies\": {\r\n\t\t\"b\": \"0.3.0\"\r\n\t}\r\n}"
        );
    }

    const CARGO_TOML: &str = r#"# The protocol engine.
[package]
name = "protocol-engine"
version = "0.4.1"   # bumped by orchestrator publish
edition = "2024"

[dependencies]
consensus-proof = { version = "0.3", path = "../consensus-proof", features = ["std"] }
serde = { version = "1", features = ["derive"] }
# pinned on purpose
proof-macros = "=0.3.2"
cp = { package = "consensus-proof", version = "~0.3.0" }
sdk.workspace = true

[dev-dependencies]
consensus-proof   =   "0.3.0"     # odd spacing stays

[target.'cfg(unix)'.dependencies]
consensus-proof = { version = ">=0.3, <0.5" }

[workspace.dependencies]
consensus-proof = { version = "0.3.0", path = "crates/consensus-proof" }
"#;

    #[test]
    fn cargo_toml_changes_only_version_strings() {
        let edit = rewrite_manifest(
            ManifestKind::Cargo,
            CARGO_TOML,
            Some(&semver::Version::parse("0.5.0").expect("valid")),
            &released(&[("consensus-proof", "0.4.0"), ("proof-macros", "0.4.0")]),
            DependencyRange::KeepStyle,
        )
        .expect("valid");
        insta::assert_snapshot!(diff(CARGO_TOML, &edit.text));
        assert_eq!(edit.changes.len(), 7, "{:#?}", edit.changes);
        let info = read_manifest(ManifestKind::Cargo, &edit.text).expect("valid");
        assert_eq!(info.name.as_deref(), Some("protocol-engine"));
        assert_eq!(info.version.as_deref(), Some("0.5.0"));
    }

    #[test]
    fn unrewritable_requirements_name_line_table_and_value_and_change_nothing() {
        let v = semver::Version::parse("0.5.0").expect("valid");
        let cargo = "[package]\nname = \"a\"\nversion = \"0.1.0\"\n\n[build-dependencies]\nquill-core = { path = \"../quill-core\" }\n";
        let err = rewrite_manifest(
            ManifestKind::Cargo,
            cargo,
            Some(&v),
            &released(&[("quill-core", "0.5.0")]),
            DependencyRange::KeepStyle,
        )
        .expect_err("path without version");
        let msg = in_file(Path::new("a/Cargo.toml"), err).to_string();
        assert!(
            msg.contains(
                "a/Cargo.toml: line 6: build-dependencies.quill-core has a path but no version"
            ),
            "{msg}"
        );
        // A version-less path dev-dependency is fine: Cargo strips it when publishing.
        let dev = cargo.replace("[build-dependencies]", "[dev-dependencies]");
        rewrite_manifest(
            ManifestKind::Cargo,
            &dev,
            Some(&v),
            &released(&[("quill-core", "0.5.0")]),
            DependencyRange::KeepStyle,
        )
        .expect("dev path dependency");
        let npm = "{\n  \"name\": \"a\",\n  \"version\": \"0.1.0\",\n  \"optionalDependencies\": {\n    \"b\": \"^0.3 || ^0.4\"\n  }\n}\n";
        let err = rewrite_manifest(
            ManifestKind::Npm,
            npm,
            Some(&v),
            &released(&[("b", "0.5.0")]),
            DependencyRange::KeepStyle,
        )
        .expect_err("union");
        let msg = err.to_string();
        assert!(
            msg.contains("line 5: optionalDependencies.b = \"^0.3 || ^0.4\" cannot be rewritten"),
            "{msg}"
        );
        let cargo = "[package]\nname = \"a\"\nversion = \"0.1.0\"\n\n[target.'cfg(unix)'.dependencies]\nqc = { package = \"quill-core\", version = \">=0.1, <0.2, <0.3\" }\n";
        let msg = rewrite_manifest(
            ManifestKind::Cargo,
            cargo,
            Some(&v),
            &released(&[("quill-core", "0.5.0")]),
            DependencyRange::KeepStyle,
        )
        .expect_err("three comparators")
        .to_string();
        assert!(
            msg.contains(
                "line 6: target.cfg(unix).dependencies.qc.version = \">=0.1, <0.2, <0.3\""
            ),
            "{msg}"
        );
    }

    #[test]
    fn manifest_kind_from_file_name() {
        assert_eq!(
            ManifestKind::detect(Path::new("a/Cargo.toml")).expect("cargo"),
            ManifestKind::Cargo
        );
        assert!(ManifestKind::detect(Path::new("pyproject.toml")).is_err());
    }
}
