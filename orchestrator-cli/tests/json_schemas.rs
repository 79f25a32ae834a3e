//! The JSON reports are documented by the schemas in `docs/schemas/`: each main report, produced
//! by the real binary on the demo's sandbox, validates against its schema (which forbids
//! undocumented fields, so a field added to a report without its documentation fails here) and
//! holds no key twice.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};

fn schema(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/schemas")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs `orchestrator --output json ARGS` in `dir`; its stdout, which must be one JSON document.
fn json_of(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .current_dir(dir)
        .env_remove("GITHUB_TOKEN")
        .env_remove("GH_TOKEN")
        .env_remove("ORCHESTRATOR_FORGE_URL")
        .env_remove("ORCHESTRATOR_CONFIG")
        .env_remove("GITHUB_OUTPUT")
        .env_remove("GITHUB_STEP_SUMMARY")
        .args(["--output", "json"])
        .args(args)
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// Fails when `text` is not exactly one JSON document, when an object in it holds a key twice
/// (serde_json's `Value` would silently keep the last), or when it does not validate.
fn check(what: &str, text: &str, schema_file: &str) {
    let mut de = serde_json::Deserializer::from_str(text);
    NoDuplicateKeys
        .deserialize(&mut de)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    de.end()
        .unwrap_or_else(|e| panic!("{what}: more than one JSON document: {e}"));
    let value: serde_json::Value = serde_json::from_str(text).expect("JSON");
    let validator = jsonschema::validator_for(&schema(schema_file))
        .unwrap_or_else(|e| panic!("{schema_file} does not compile: {e}"));
    let problems: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{what} at '{}': {e}", e.instance_path()))
        .collect();
    assert!(
        problems.is_empty(),
        "{what} does not match docs/schemas/{schema_file}:\n{}",
        problems.join("\n")
    );
}

/// Walks a JSON document and refuses any object that holds one key twice.
struct NoDuplicateKeys;

impl<'de> DeserializeSeed<'de> for NoDuplicateKeys {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NoDuplicateKeys {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(NoDuplicateKeys)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(A::Error::custom(format!("the key {key:?} appears twice")));
            }
            map.next_value_seed(NoDuplicateKeys)?;
        }
        Ok(())
    }
}

#[test]
fn the_duplicate_key_check_can_fail() {
    let mut de = serde_json::Deserializer::from_str(r#"{"a": [{"name": 1, "name": 2}]}"#);
    let err = NoDuplicateKeys
        .deserialize(&mut de)
        .expect_err("a duplicate");
    assert!(err.to_string().contains("\"name\" appears twice"), "{err}");
}

#[test]
fn the_main_reports_match_their_documented_schemas() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox: PathBuf = dir.path().join("demo");
    let sandbox_arg = sandbox.to_str().expect("UTF-8 path");

    let report = json_of(dir.path(), &["demo", "--dir", sandbox_arg]);
    check(
        "demo (a release report)",
        &report,
        "release-report.schema.json",
    );

    let plan = json_of(&sandbox, &["release", "--version", "1.1.0", "--dry-run"]);
    check("release --dry-run", &plan, "release-plan.schema.json");

    let runs = json_of(&sandbox, &["runs", "list", "--limit", "5"]);
    check("runs list", &runs, "runs-list.schema.json");
    let listed: serde_json::Value = serde_json::from_str(&runs).expect("JSON");
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");

    let run = json_of(&sandbox, &["runs", "show", "1"]);
    check("runs show 1", &run, "run-show.schema.json");
}
