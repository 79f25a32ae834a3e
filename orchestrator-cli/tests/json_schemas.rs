//! The JSON reports are documented by the schemas in `docs/schemas/`: each main report, produced
//! by the real binary on the demo's sandbox, validates against its schema (which forbids
//! undocumented fields, so a field added to a report without its documentation fails here) and
//! holds no key twice.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::schema::{NoDuplicateKeys, check};
use serde::de::DeserializeSeed;

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
