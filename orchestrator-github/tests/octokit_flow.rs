//! A second, independent client against the mock: the official `@octokit/rest`, run by node
//! (`tests/octokit/flow.mjs`), lists releases, reads an asset (JSON and its bytes), dispatches a
//! workflow, opens a pull request, labels and comments on it. Needs node and the package that
//! `.ci/tools/npm-octokit.sh` installs: without them the test says it is skipped, unless
//! `ORCHESTRATOR_REQUIRE_EXTERNAL=1` (as in CI), when it fails naming the script.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use common::origin::BareOrigin;
use orchestrator_github::mock::{MockGitHub, MockOptions};

/// Where `.ci/tools/npm-octokit.sh` installs the package, if it did.
fn octokit_dir() -> Option<PathBuf> {
    let tools = std::env::var_os("ORCHESTRATOR_TOOLS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/orchestrator-ci"))
        })?;
    let dir = tools.join("npm-octokit");
    let installed = dir
        .join("node_modules/@octokit/rest/package.json")
        .is_file()
        && std::process::Command::new("node")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    installed.then_some(dir)
}

#[tokio::test]
async fn the_official_octokit_client_drives_a_release_and_pull_request_flow() {
    let Some(dir) = octokit_dir() else {
        if std::env::var("ORCHESTRATOR_REQUIRE_EXTERNAL").as_deref() == Ok("1") {
            panic!("@octokit/rest or node is not installed: run .ci/tools/npm-octokit.sh");
        }
        eprintln!("skipped: @octokit/rest not installed (run .ci/tools/npm-octokit.sh)");
        return;
    };
    let origins = tempfile::tempdir().expect("tempdir");
    let origin = BareOrigin::create(&origins.path().join("app.git"));
    origin.commit_file(
        "main",
        ".github/workflows/release.yml",
        "on: workflow_dispatch\n",
        "workflow",
    );
    let main = origin.commit_file("main", "README.md", "hello\n", "readme");
    origin.commit_file("feature", "src/lib.rs", "pub fn f() {}\n", "a feature");
    origin.tag("v1.0.0", &main);
    let mock = MockGitHub::start(MockOptions::default().origins(origins.path()))
        .await
        .expect("mock starts");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/octokit/flow.mjs");
    let child = tokio::process::Command::new("node")
        .arg(&script)
        .env("MOCK_URL", mock.url())
        .env("OCTOKIT_DIR", &dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    // A generous bound: the flow takes well under a second; this only stops a hang.
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the octokit flow does not hang")
        .expect("node ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the octokit flow failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("octokit flow: 15 steps passed"), "{stdout}");
    eprintln!("{}", stdout.lines().last().unwrap_or_default());
    mock.shutdown().await;
}
