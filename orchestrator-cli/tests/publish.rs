//! `graph`, `cascade --dry-run`, `ci-snippet` and `publish --dry-run` end to end over the seed-004
//! ecosystem (no forge, no token needed).

use std::process::{Command, Output};

const SEED_004: &str = r#"
[forge]
owner = "BTCDecoded"

[[repo]]
name = "consensus-proof"
manifest = "Cargo.toml"
event_type = "build_consensus"

[[repo]]
name = "protocol-engine"
depends_on = ["consensus-proof"]
manifest = "Cargo.toml"
event_type = "build_protocol"

[[repo]]
name = "reference-node"
depends_on = ["protocol-engine", "consensus-proof"]
manifest = "Cargo.toml"

[[repo]]
name = "developer-sdk"
manifest = "Cargo.toml"

[[repo]]
name = "governance-app"
depends_on = ["developer-sdk"]
manifest = "Cargo.toml"
"#;

fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("orchestrator.toml"), SEED_004).expect("write config");
    let sandbox = orchestrator_git::sandbox::Sandbox::new(dir.path()).expect("sandbox");
    for (name, version, deps) in [
        ("consensus-proof", "0.3.0", ""),
        ("protocol-engine", "0.3.0", "consensus-proof = \"0.3.0\"\n"),
        (
            "reference-node",
            "0.3.0",
            "protocol-engine = { version = \"0.3.0\" }\nconsensus-proof = \"0.3\"\n",
        ),
        ("developer-sdk", "1.2.0", ""),
        ("governance-app", "1.2.0", "developer-sdk = \"1.2.0\"\n"),
    ] {
        // A clone with a bare origin in step with it, as `publish` (and its dry run) checks.
        sandbox
            .create_repo(
                name,
                &[(
                    "Cargo.toml",
                    &format!(
                        "[package]\nname = \"{name}\"\nversion = \"{version}\"\n\n[dependencies]\n{deps}"
                    ),
                )],
            )
            .expect("repo");
    }
    dir
}

fn run(dir: &tempfile::TempDir, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .current_dir(dir.path())
        .env_remove("ORCHESTRATOR_FORGE_URL")
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Commits every change in `repo` and pushes it, so its clone is clean and in step again.
fn commit_and_push(dir: &tempfile::TempDir, repo: &str) {
    let path = dir.path().join(repo);
    for args in [
        &["commit", "-q", "-am", "chore: edit manifest"][..],
        &["push", "-q", "origin", "main"],
    ] {
        orchestrator_git::sandbox::git(&path, args).expect("git");
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn cascade_from_consensus_proof_builds_exactly_its_downstream() {
    let dir = fixture();
    let out = run(&dir, &["cascade", "--from", "consensus-proof", "--dry-run"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout(&out),
        "cascade from consensus-proof: 3 repo(s) in 3 wave(s)\nwave 1: consensus-proof\nwave 2: protocol-engine\nwave 3: reference-node\n"
    );
    let event = dir.path().join("event.json");
    let head =
        orchestrator_git::sandbox::git(&dir.path().join("consensus-proof"), &["rev-parse", "HEAD"])
            .expect("HEAD");
    std::fs::write(
        &event,
        format!(
            r#"{{"action":"build_consensus","client_payload":{{"repo":"consensus-proof","ref":"refs/heads/main","sha":"{}"}}}}"#,
            &head[..10]
        ),
    )
    .expect("write event");
    let out = run(
        &dir,
        &[
            "cascade",
            "--event-file",
            event.to_str().expect("utf-8"),
            "--nightly",
            "--dry-run",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).starts_with("cascade from consensus-proof (nightly): 3 repo(s)"));
    // Seed 004's nightly sends build_all: every repo, the two chains side by side; --all too.
    std::fs::write(&event, r#"{"action":"build_all","client_payload":{}}"#).expect("write event");
    let expected = "cascade of every repo (nightly): 5 repo(s) in 3 wave(s)\nwave 1: consensus-proof, developer-sdk\nwave 2: protocol-engine, governance-app\nwave 3: reference-node\n";
    for args in [
        &[
            "cascade",
            "--event-file",
            event.to_str().expect("utf-8"),
            "--nightly",
            "--dry-run",
        ][..],
        &["cascade", "--all", "--nightly", "--dry-run"][..],
    ] {
        let out = run(&dir, args);
        assert!(out.status.success(), "{out:?}");
        assert_eq!(stdout(&out), expected);
    }
}

#[test]
fn bad_event_payload_or_unknown_repo_exits_2_and_does_nothing() {
    let dir = fixture();
    let event = dir.path().join("event.json");
    for payload in [
        r#"{"client_payload":{"repo":"bllvm-ghost"}}"#,
        r#"{"client_payload":{}}"#,
        "{",
    ] {
        std::fs::write(&event, payload).expect("write event");
        let out = run(
            &dir,
            &["cascade", "--event-file", event.to_str().expect("utf-8")],
        );
        assert_eq!(out.status.code(), Some(2), "{payload}: {out:?}");
    }
    let out = run(&dir, &["cascade", "--from", "ghost"]);
    assert_eq!(out.status.code(), Some(2));
    // An event about a commit the clone is not at: refused naming the sha and the repo.
    std::fs::write(
        &event,
        r#"{"action":"build_consensus","client_payload":{"repo":"consensus-proof","sha":"0123456789abcdef0123456789abcdef01234567"}}"#,
    )
    .expect("write event");
    for extra in [&[][..], &["--dry-run"], &["--nightly"]] {
        let mut args = vec!["cascade", "--event-file", event.to_str().expect("utf-8")];
        args.extend(extra);
        let out = run(&dir, &args);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("event.json")
                && err.contains("client_payload.sha 0123456789abcdef")
                && err.contains("not HEAD of consensus-proof"),
            "{err}"
        );
    }
    assert_eq!(
        orchestrator_git::sandbox::git(&dir.path().join("consensus-proof"), &["tag", "--list"])
            .expect("tags"),
        "",
        "no tag was made"
    );
    assert!(
        !dir.path().join(".orchestrator").exists(),
        "nothing was created"
    );
}

#[test]
fn graph_formats() {
    let dir = fixture();
    let out = run(&dir, &["graph", "--format", "text"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout(&out),
        "wave 1: consensus-proof, developer-sdk\nwave 2: protocol-engine, governance-app\nwave 3: reference-node\nlongest chain (3): consensus-proof -> protocol-engine -> reference-node\n"
    );
    let out = run(&dir, &["graph"]);
    assert!(stdout(&out).starts_with("graph TD\n"));
    let out = run(
        &dir,
        &["graph", "--format", "dot", "--from", "developer-sdk"],
    );
    assert!(stdout(&out).contains("\"developer-sdk\" -> \"governance-app\""));
    assert_eq!(
        run(&dir, &["graph", "--format", "png"]).status.code(),
        Some(2)
    );
}

#[test]
fn ci_snippet_gates_on_needed_jobs() {
    let dir = fixture();
    let out = run(
        &dir,
        &[
            "ci-snippet",
            "consensus-proof",
            "--orchestrator-repo",
            "BTCDecoded/bllvm",
            "--needs",
            "test,clippy",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("needs: [test, clippy]"));
    assert!(text.contains("event_type: 'build_consensus'"));
    assert!(!text.contains("always()"));
}

#[test]
fn publish_dry_run_shows_versions_and_waves() {
    let dir = fixture();
    let out = run(
        &dir,
        &[
            "publish",
            "--bump",
            "minor",
            "--packages",
            "consensus-proof",
            "--with-dependents",
            "--dry-run",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(
        text.starts_with("publish plan: 3 package(s) in 3 wave(s); longest chain 3"),
        "{text}"
    );
    assert!(text.contains("0.3.0 -> 0.4.0"));
    assert!(!text.contains("developer-sdk"));
    let out = run(&dir, &["publish", "--bump", "sideways", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2));
}

/// The dry run shows every requirement it will move (file, key, old -> new) and refuses, as the
/// real run does (exit 2), a range it cannot rewrite, naming file, line and value.
#[test]
fn publish_dry_run_shows_rewrites_and_refuses_an_unrewritable_range() {
    let dir = fixture();
    let node = dir.path().join("reference-node/Cargo.toml");
    // A bounded range that excludes 0.4.0, in a dev table: widened, with its upper bound moved.
    let mut text = std::fs::read_to_string(&node).expect("read");
    text.push_str("\n[dev-dependencies]\nconsensus-proof = \">=0.3.0, <0.4\"\n");
    std::fs::write(&node, &text).expect("write");
    commit_and_push(&dir, "reference-node");
    let args = [
        "publish",
        "--bump",
        "minor",
        "--packages",
        "consensus-proof",
        "--with-dependents",
        "--dry-run",
    ];
    let out = run(&dir, &args);
    assert!(out.status.success(), "{out:?}");
    let shown = stdout(&out);
    assert!(
        shown.contains("reference-node/Cargo.toml (reference-node):"),
        "{shown}"
    );
    assert!(
        shown.contains("  dev-dependencies.consensus-proof: >=0.3.0, <0.4 -> >=0.4.0, <0.5\n"),
        "{shown}"
    );
    assert!(
        shown.contains("  dependencies.consensus-proof: 0.3 -> 0.4.0\n"),
        "{shown}"
    );
    // Unchanged by the dry run.
    assert_eq!(std::fs::read_to_string(&node).expect("read"), text);
    let bad = text.replace(">=0.3.0, <0.4", ">=0.1, <0.2, <0.4");
    std::fs::write(&node, &bad).expect("write");
    commit_and_push(&dir, "reference-node");
    let out = run(&dir, &args);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("reference-node/Cargo.toml: line 10: dev-dependencies.consensus-proof = \">=0.1, <0.2, <0.4\" cannot be rewritten"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&node).expect("read"), bad);
    // The rest of the run's preflight too: a dirty clone fails the dry run as it fails the run.
    std::fs::write(&node, &text).expect("write");
    let out = run(&dir, &args);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("preflight failed") && err.contains("reference-node"),
        "{err}"
    );
}

/// `publish --resume` does not demand `--bump` (it continues the recorded plan); with nothing
/// to resume it says so and how to start one. Without `--resume`, `--bump` stays required.
#[test]
fn publish_resume_needs_no_bump() {
    let dir = fixture();
    let out = run(&dir, &["publish", "--resume"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no unfinished publish to resume: give --bump to start one"),
        "{err}"
    );
    assert!(!err.contains("--bump <BUMP>"), "{err}");
    let out = run(&dir, &["publish", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bump"));
}
