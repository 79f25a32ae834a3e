//! The GitHub Action's install-and-run scripts (`.github/actions/{install,run}.sh`, used by
//! `action.yml`), run for real against the `orchestrator` binary this test suite built, packed as a
//! release archive with a `SHA256SUMS` file and uploaded as a GitHub release to `orchestrator
//! mock-forge` on loopback, so the download goes over HTTP through the same
//! `<base>/v<version>/<asset>` URLs github.com serves. Proves: the archive for this platform is found and checksum-verified, a mismatch installs
//! nothing, the binary lands on `$GITHUB_PATH`, and the run script exposes the JSON report as the
//! `json` output in GitHub's multi-line form while keeping the command's exit code.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::MockForge;

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

fn sh(cmd: &mut Command) -> Output {
    cmd.output().expect("runs")
}

/// The release archive for this binary and its `SHA256SUMS` line, laid out in `dir` as the
/// release workflow makes them: `orchestrator-<version>-<target>.tar.gz`.
fn pack(dir: &Path, version: &str, target: &str) -> (PathBuf, String) {
    let name = format!("orchestrator-{version}-{target}");
    let staging = dir.join("staging").join(&name);
    std::fs::create_dir_all(&staging).expect("mkdir");
    std::fs::copy(
        env!("CARGO_BIN_EXE_orchestrator"),
        staging.join("orchestrator"),
    )
    .expect("copy binary");
    let archive = dir.join(format!("{name}.tar.gz"));
    let out = sh(Command::new("tar")
        .arg("-C")
        .arg(dir.join("staging"))
        .arg("-czf")
        .arg(&archive)
        .arg(&name));
    assert!(out.status.success(), "tar: {out:?}");
    let out = sh(Command::new("sha256sum").arg(&archive));
    assert!(out.status.success(), "sha256sum: {out:?}");
    let digest = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("a digest")
        .to_owned();
    (archive, format!("{digest}  {name}.tar.gz\n"))
}

/// `orchestrator mock-forge` serving GitHub releases on loopback: the action downloads from its
/// `browser_download_url`s exactly as from github.com (`<base>/v<version>/<asset>`).
struct LoopbackReleases {
    mock: MockForge,
    _origins: tempfile::TempDir,
}

impl LoopbackReleases {
    /// A mock GitHub whose repos `acme/<name>` exist (bare origins, no simulated CI assets).
    fn start(repos: &[&str]) -> Self {
        let origins = tempfile::tempdir().expect("tempdir");
        for repo in repos {
            let out = sh(Command::new("git")
                .args(["init", "-q", "--bare"])
                .arg(origins.path().join(format!("{repo}.git"))));
            assert!(out.status.success(), "git init: {out:?}");
        }
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
        cmd.arg("mock-forge")
            .arg("--origins")
            .arg(origins.path())
            .current_dir(origins.path())
            .env_remove("ORCHESTRATOR_CONFIG");
        Self {
            mock: MockForge::spawn(cmd),
            _origins: origins,
        }
    }

    /// Publishes release `v<version>` of `acme/<repo>` with `assets` uploaded through the API,
    /// and answers the download base the action is given.
    fn publish(&self, repo: &str, version: &str, assets: &[(&str, &Path)]) -> String {
        let (code, release) = self.mock.api(
            TOKEN,
            "POST",
            &format!("/repos/acme/{repo}/releases"),
            &format!(r#"{{"tag_name":"v{version}"}}"#),
        );
        assert_eq!(code, 201, "{release}");
        let upload = release["upload_url"]
            .as_str()
            .expect("upload_url")
            .split('{')
            .next()
            .expect("a URL")
            .to_owned();
        for (name, file) in assets {
            let out = sh(Command::new("curl")
                .args(["--fail", "--silent", "--show-error"])
                .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
                .args(["-H", "Content-Type: application/octet-stream"])
                .arg("--data-binary")
                .arg(format!("@{}", file.display()))
                .arg(format!("{upload}?name={name}")));
            assert!(out.status.success(), "upload {name}: {out:?}");
            let asset: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
            let expected = format!(
                "{}/acme/{repo}/releases/download/v{version}/{name}",
                self.mock.url
            );
            assert_eq!(asset["browser_download_url"], expected.as_str());
        }
        format!("{}/acme/{repo}/releases/download", self.mock.url)
    }
}

/// A token for the mock's API (it accepts any); never printed.
const TOKEN: &str = "ghp_actionTestToken0123456789";

fn install(base: &str, root: &Path, github_path: &Path, extra: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(repo_root().join(".github/actions/install.sh"))
        .env("ORCHESTRATOR_VERSION", env!("CARGO_PKG_VERSION"))
        .env("ORCHESTRATOR_DOWNLOAD_BASE", base)
        .env("ORCHESTRATOR_INSTALL_ROOT", root)
        .env("GITHUB_PATH", github_path)
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
    let version = env!("CARGO_PKG_VERSION");
    let (archive, sums) = pack(dir.path(), version, target);
    let sums_file = dir.path().join("SHA256SUMS");
    std::fs::write(&sums_file, sums).expect("write sums");
    let releases = LoopbackReleases::start(&["orchestrator"]);
    let archive_name = archive.file_name().and_then(|n| n.to_str()).expect("name");
    let base = releases.publish(
        "orchestrator",
        version,
        &[(archive_name, &archive), ("SHA256SUMS", &sums_file)],
    );
    let root = dir.path().join("tool");
    let out = install(&base, &root, &dir.path().join("github_path"), &[]);
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
    let version = env!("CARGO_PKG_VERSION");
    let (archive, sums) = pack(dir.path(), version, target);
    let archive_name = archive.file_name().and_then(|n| n.to_str()).expect("name");
    let wrong = "0".repeat(64);
    let good_sums = dir.path().join("SHA256SUMS");
    std::fs::write(&good_sums, &sums).expect("write sums");
    let bad_sums = dir.path().join("SHA256SUMS.tampered");
    std::fs::write(&bad_sums, format!("{wrong}{}", &sums[64..])).expect("tamper");
    // Two releases of the same archive: one with true sums, one whose SHA256SUMS was tampered.
    let releases = LoopbackReleases::start(&["orchestrator", "tampered"]);
    let base = releases.publish(
        "orchestrator",
        version,
        &[(archive_name, &archive), ("SHA256SUMS", &good_sums)],
    );
    let tampered = releases.publish(
        "tampered",
        version,
        &[(archive_name, &archive), ("SHA256SUMS", &bad_sums)],
    );
    let root = dir.path().join("tool");
    let github_path = dir.path().join("github_path");
    let out = install(
        &base,
        &root,
        &github_path,
        &[("ORCHESTRATOR_SHA256", &wrong)],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("checksum mismatch"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!root.join("bin/orchestrator").exists());
    assert!(!github_path.exists());

    // A release whose SHA256SUMS does not match its archive is refused the same way.
    let out = install(&tampered, &root, &github_path, &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(!root.join("bin/orchestrator").exists());
    assert!(!github_path.exists());

    // Plain http to a host that is not loopback is never fetched: curl refuses the protocol and
    // the script falls back to `cargo install` (a stub here that records it was reached).
    let stub = dir.path().join("stub-bin");
    std::fs::create_dir_all(&stub).expect("mkdir");
    std::fs::write(
        stub.join("cargo"),
        "#!/bin/sh\necho \"stub cargo $*\" >&2\nexit 3\n",
    )
    .expect("stub");
    let out = sh(Command::new("chmod").arg("+x").arg(stub.join("cargo")));
    assert!(out.status.success());
    let path = format!(
        "{}:{}",
        stub.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = install(
        "http://example.invalid/acme/orchestrator/releases/download",
        &root,
        &github_path,
        &[("PATH", &path)],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("stub cargo install"), "{stderr}");
    assert!(!root.join("bin/orchestrator").exists());
}

#[test]
fn a_version_that_is_not_semver_is_refused_before_any_download() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("tool");
    let out = install(
        "https://example.invalid",
        &root,
        &dir.path().join("github_path"),
        &[("ORCHESTRATOR_VERSION", "1.0; curl evil")],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(!root.exists());
}
