//! The GitHub Action's install-and-run scripts (`.github/actions/{install,run}.sh`, used by
//! `action.yml`), run for real against the `orchestrator` binary this test suite built, packed as a
//! release archive with a `SHA256SUMS` file in a local "release" directory (`file://` download
//! base). Proves: the archive for this platform is found and checksum-verified, a mismatch installs
//! nothing, the binary lands on `$GITHUB_PATH`, and the run script exposes the JSON report as the
//! `json` output in GitHub's multi-line form while keeping the command's exit code.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the CLI crate sits in the workspace root")
        .to_path_buf()
}

/// The target triple install.sh picks for this machine, or `None` where it has no archive.
fn target() -> Option<&'static str> {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => Some("x86_64-unknown-linux-musl"),
        ("linux", "aarch64") => Some("aarch64-unknown-linux-musl"),
        ("macos", "x86_64") => Some("x86_64-apple-darwin"),
        ("macos", "aarch64") => Some("aarch64-apple-darwin"),
        _ => None,
    }
}

fn sh(cmd: &mut Command) -> std::process::Output {
    cmd.output().expect("runs")
}

/// A release directory `<dir>/v<version>/` with the archive and SHA256SUMS, as the release
/// workflow lays them out.
fn fake_release(dir: &Path, version: &str, target: &str) -> String {
    let name = format!("orchestrator-{version}-{target}");
    let staging = dir.join("staging").join(&name);
    std::fs::create_dir_all(&staging).expect("mkdir");
    std::fs::copy(
        env!("CARGO_BIN_EXE_orchestrator"),
        staging.join("orchestrator"),
    )
    .expect("copy binary");
    let release = dir.join(format!("v{version}"));
    std::fs::create_dir_all(&release).expect("mkdir");
    let archive = format!("{name}.tar.gz");
    let out = sh(Command::new("tar")
        .arg("-C")
        .arg(dir.join("staging"))
        .arg("-czf")
        .arg(release.join(&archive))
        .arg(&name));
    assert!(out.status.success(), "tar: {out:?}");
    let out = sh(Command::new("sha256sum")
        .arg(&archive)
        .current_dir(&release));
    assert!(out.status.success(), "sha256sum: {out:?}");
    std::fs::write(release.join("SHA256SUMS"), &out.stdout).expect("write sums");
    archive
}

fn install(dir: &Path, root: &Path, extra: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new("bash");
    cmd.arg(repo_root().join(".github/actions/install.sh"))
        .env("ORCHESTRATOR_VERSION", env!("CARGO_PKG_VERSION"))
        .env(
            "ORCHESTRATOR_DOWNLOAD_BASE",
            format!("file://{}", dir.display()),
        )
        .env("ORCHESTRATOR_INSTALL_ROOT", root)
        .env("GITHUB_PATH", dir.join("github_path"))
        .env_remove("ORCHESTRATOR_SHA256");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    sh(&mut cmd)
}

#[test]
fn the_action_installs_a_verified_binary_and_exposes_the_json_report() {
    let Some(target) = target() else {
        eprintln!("no release archive for this platform; install.sh would cargo install");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    fake_release(dir.path(), env!("CARGO_PKG_VERSION"), target);
    let root = dir.path().join("tool");
    let out = install(dir.path(), &root, &[]);
    assert!(
        out.status.success(),
        "install.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bin_dir = root.join("bin");
    assert!(bin_dir.join("orchestrator").is_file());
    let github_path = std::fs::read_to_string(dir.path().join("github_path")).expect("GITHUB_PATH");
    assert_eq!(github_path.trim(), bin_dir.display().to_string());

    // Run a command through run.sh with the installed binary first on PATH.
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).expect("mkdir");
    std::fs::write(
        work.join("orchestrator.toml"),
        "[forge]\nowner = \"acme\"\n\n[[repo]]\nname = \"app\"\n",
    )
    .expect("config");
    let output_file = dir.path().join("github_output");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |command: &str| {
        sh(Command::new("bash")
            .arg(repo_root().join(".github/actions/run.sh"))
            .current_dir(&work)
            .env("PATH", &path)
            .env("ORCHESTRATOR_COMMAND", command)
            .env("GITHUB_OUTPUT", &output_file))
    };
    let out = run("config check");
    assert!(
        out.status.success(),
        "run.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outputs = std::fs::read_to_string(&output_file).expect("GITHUB_OUTPUT");
    let (head, rest) = outputs.split_once('\n').expect("a json<<DELIM line");
    let delimiter = head.strip_prefix("json<<").expect("multi-line form");
    let body = rest
        .split(&format!("\n{delimiter}"))
        .next()
        .expect("closing delimiter");
    let json: serde_json::Value = serde_json::from_str(body.trim()).expect("one JSON document");
    assert_eq!(json["repos"], 1, "{json}");

    // A failing command keeps its exit code (the report is still exposed).
    let out = run("release --version not-a-version");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn a_checksum_mismatch_installs_nothing() {
    let Some(target) = target() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    fake_release(dir.path(), env!("CARGO_PKG_VERSION"), target);
    let root = dir.path().join("tool");
    let wrong = "0".repeat(64);
    let out = install(dir.path(), &root, &[("ORCHESTRATOR_SHA256", &wrong)]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("checksum mismatch"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!root.join("bin/orchestrator").exists());
    assert!(!dir.path().join("github_path").exists());

    // A tampered SHA256SUMS-listed archive is refused the same way.
    let sums = dir
        .path()
        .join(format!("v{}/SHA256SUMS", env!("CARGO_PKG_VERSION")));
    let text = std::fs::read_to_string(&sums).expect("sums");
    std::fs::write(&sums, format!("{wrong}{}", &text[64..])).expect("tamper");
    let out = install(dir.path(), &root, &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(!root.join("bin/orchestrator").exists());
}

#[test]
fn a_version_that_is_not_semver_is_refused_before_any_download() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("tool");
    let out = install(
        dir.path(),
        &root,
        &[("ORCHESTRATOR_VERSION", "1.0; curl evil")],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(!root.exists());
}
