//! Releasing as a GitHub App from the CLI: `orchestrator mock-forge --app-id N --app-public-key
//! FILE` plays GitHub for the app, and `orchestrator publish` with `ORCHESTRATOR_APP_ID` and
//! `ORCHESTRATOR_APP_PRIVATE_KEY_FILE` (no `GITHUB_TOKEN`) buys an installation token with the
//! app's JWT and releases with it. A key that is not a key stops the run with one line naming the
//! variable, before anything changes.

use std::path::Path;
use std::process::{Command, Output};

use orchestrator_git::sandbox::git;

mod common;
use common::{MockForge, two_package_fixture as fixture};

const APP_ID: &str = "4242";

/// A key pair made by openssl in `dir`; `false` (after one "skipped" line) without openssl.
fn keys(dir: &Path) -> bool {
    let run = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let made = run(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        "app.pem",
    ]) && run(&["rsa", "-in", "app.pem", "-pubout", "-out", "app.pub.pem"]);
    if !made {
        assert!(
            std::env::var("ORCHESTRATOR_REQUIRE_EXTERNAL").as_deref() != Ok("1"),
            "openssl is needed to make GitHub App test keys"
        );
        eprintln!("skipped: openssl not installed (apt-get install openssl)");
    }
    made
}

fn orchestrator(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
    cmd.current_dir(dir)
        .env_remove("GITHUB_TOKEN")
        .env_remove("GH_TOKEN")
        .env_remove("ORCHESTRATOR_APP_ID")
        .env_remove("ORCHESTRATOR_APP_PRIVATE_KEY")
        .env_remove("ORCHESTRATOR_APP_PRIVATE_KEY_FILE")
        .env_remove("ORCHESTRATOR_APP_INSTALLATION_ID")
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

fn mock(dir: &Path) -> MockForge {
    let mut cmd = orchestrator(dir);
    cmd.arg("mock-forge")
        .arg("--origins")
        .arg(dir.join("origins"))
        .args(["--ci-delay-ms", "30", "--asset-interval-ms", "10"])
        .args(["--app-id", APP_ID, "--app-public-key", "app.pub.pem"]);
    MockForge::spawn(cmd)
}

fn requests(mock: &MockForge, route: &str) -> u64 {
    mock.stats()["by_route"][route]["requests"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn publish_authenticates_as_a_github_app_through_mock_forge() {
    let dir = fixture();
    if !keys(dir.path()) {
        return;
    }
    let mock = mock(dir.path());
    let out = orchestrator(dir.path())
        .args(["publish", "--bump", "patch", "--forge-url", &mock.url])
        .env("ORCHESTRATOR_APP_ID", APP_ID)
        .env(
            "ORCHESTRATOR_APP_PRIVATE_KEY_FILE",
            dir.path().join("app.pem"),
        )
        .output()
        .expect("publish runs");
    let all = text(&out);
    assert!(out.status.success(), "publish as the app:\n{all}");
    assert!(
        !all.contains("PRIVATE KEY") && !all.contains("ghs_") && !all.contains("eyJ"),
        "a secret leaked:\n{all}"
    );
    assert!(
        requests(
            &mock,
            "POST /app/installations/{installation_id}/access_tokens"
        ) >= 1,
        "{}",
        mock.stats()
    );
    assert!(
        requests(&mock, "GET /repos/{owner}/{repo}/installation") >= 1,
        "looked up by repository: {}",
        mock.stats()
    );
    let (status, stderr) = mock.stop("ghs_");
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(stderr.contains("mock-forge: GitHub App 4242"), "{stderr}");
}

#[test]
fn a_private_key_that_is_not_one_is_one_clear_line_and_nothing_changes() {
    let dir = fixture();
    if !keys(dir.path()) {
        return;
    }
    let mock = mock(dir.path());
    let out = orchestrator(dir.path())
        .args(["publish", "--bump", "patch", "--forge-url", &mock.url])
        .env("ORCHESTRATOR_APP_ID", APP_ID)
        .env("ORCHESTRATOR_APP_PRIVATE_KEY", "not a key at all")
        .output()
        .expect("publish runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr.contains("ORCHESTRATOR_APP_PRIVATE_KEY"), "{stderr}");
    assert!(
        !stderr.contains("not a key at all"),
        "the value is not echoed: {stderr}"
    );
    let errors = stderr.lines().filter(|l| l.starts_with("error")).count();
    assert_eq!(errors, 1, "one error line:\n{stderr}");
    assert_eq!(mock.stats()["requests"], 0, "no request reached the forge");
    let tags = git(&dir.path().join("lib"), &["tag", "--list", "v1.0.1"]).expect("git tag");
    assert!(tags.trim().is_empty(), "no tag was made: {tags}");
    let (status, _) = mock.stop("ghs_");
    assert!(status.success());
}
