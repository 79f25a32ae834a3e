//! Rehearsing a failing release from the CLI: `orchestrator mock-forge --fail REPO[:TAG]` makes the
//! simulated CI fail a tag push, and `orchestrator publish` against it stops on the failed run
//! (naming its conclusion) instead of waiting for a release that never comes; the failed job is
//! visible in `.../actions/runs/{id}/jobs`.

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::{MockForge, two_package_fixture as fixture};

/// Set for every invocation; no output may contain it.
const TOKEN: &str = "ghp_TESTTOKENdoNotPrint0123456789";

fn orchestrator(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
    cmd.current_dir(dir)
        .env("GITHUB_TOKEN", TOKEN)
        .env_remove("GH_TOKEN")
        .env_remove("ORCHESTRATOR_FORGE_URL")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_OUTPUT");
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_failing_ci_run_is_rehearsed_from_the_cli() {
    let dir = fixture();
    let mut cmd = orchestrator(dir.path());
    cmd.arg("mock-forge")
        .arg("--origins")
        .arg(dir.path().join("origins"))
        .args(["--ci-delay-ms", "30", "--asset-interval-ms", "10"])
        .args(["--fail", "acme/lib=cancelled"]);
    let mock = MockForge::spawn(cmd);
    let out = orchestrator(dir.path())
        .args(["publish", "--bump", "patch", "--forge-url", &mock.url])
        .output()
        .expect("publish runs");
    let all = text(&out);
    assert!(!all.contains(TOKEN), "the token leaked:\n{all}");
    assert!(!out.status.success(), "publish must fail:\n{all}");
    assert!(all.contains("cancelled"), "the conclusion is named:\n{all}");
    // The failed run and its job, as a client sees them.
    let (code, runs) = mock.api(TOKEN, "GET", "/repos/acme/lib/actions/runs?event=push", "");
    assert_eq!(code, 200, "{runs}");
    let run = &runs["workflow_runs"][0];
    assert_eq!(run["conclusion"], "cancelled", "{runs}");
    assert_eq!(run["head_branch"], "v1.0.1", "{runs}");
    let (code, jobs) = mock.api(
        TOKEN,
        "GET",
        &format!("/repos/acme/lib/actions/runs/{}/jobs", run["id"]),
        "",
    );
    assert_eq!(code, 200, "{jobs}");
    assert_eq!(jobs["jobs"][0]["conclusion"], "cancelled", "{jobs}");
    // No release for the failed tag; app, after lib, was never released either.
    let (code, release) = mock.api(TOKEN, "GET", "/repos/acme/lib/releases/tags/v1.0.1", "");
    assert_eq!(code, 404, "{release}");
    let (status, stderr) = mock.stop(TOKEN);
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(
        stderr.contains("mock-forge: CI of acme/lib concludes cancelled"),
        "{stderr}"
    );
}

#[test]
fn a_bad_fail_option_is_one_clear_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = orchestrator(dir.path())
        .args(["mock-forge", "--fail", "acme/lib=exploded"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--fail"), "{stderr}");
    assert!(
        stderr.contains("\"exploded\" is not one of failure, cancelled, timed_out"),
        "{stderr}"
    );
}
