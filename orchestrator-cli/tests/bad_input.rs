//! The bad-input catalogue: malformed config, versions, env files, plan files, event payloads,
//! comment events and command-line arguments.
//! Each must exit 2 with one clear `error:` line naming the file/field/value, and leave every
//! repository and origin exactly as they were, with no state directory (no lock, no database)
//! created.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use orchestrator_git::sandbox::{Sandbox, git};

const TOKEN: &str = "ghp_BADINPUTcanaryDoNotPrint0123456789";

const GOOD: &str = "[forge]\nowner = \"acme\"\n[forge.simulate]\nci_delay = \"10ms\"\n\
                    [[repo]]\nname = \"a\"\nassets = [\"a-v{version}.tgz\"]\n";

/// A config case: (what it tests, file contents, text the error must contain).
const CONFIGS: &[(&str, &str, &str)] = &[
    (
        "unknown section",
        "[relase]\n",
        "bad.toml:1: unknown field `relase`",
    ),
    (
        "unknown key",
        "[release]\npoll = \"1s\"\n",
        "bad.toml:2: `poll`: unknown field `poll`",
    ),
    (
        "bad duration",
        "[release]\npoll_interval = \"10q\"\n",
        "`release.poll_interval`: invalid duration \"10q\"",
    ),
    (
        "zero duration",
        "[release]\ntimeout = \"0s\"\n",
        "`release.timeout`: \"0s\" must be above zero",
    ),
    (
        "duration without unit",
        "[release]\ntimeout = \"45\"\n",
        "invalid duration \"45\"",
    ),
    (
        "zero concurrency",
        "[release]\nconcurrency = 0\n",
        "`release.concurrency`: 0 is out of range",
    ),
    (
        "negative concurrency",
        "[release]\nconcurrency = -3\n",
        "`release.concurrency`: -3 is out of range",
    ),
    (
        "wrong type",
        "[release]\nstable_polls = \"two\"\n",
        "`stable_polls`: invalid type: string \"two\"",
    ),
    (
        "tag without placeholder",
        "[release]\ntag = \"release\"\n",
        "must contain {version} exactly once",
    ),
    (
        "tag with a space",
        "[release]\ntag = \"v {version}\"\n",
        "would not make a valid git tag name",
    ),
    (
        "placeholder twice",
        "[release]\ntag = \"{version}-{version}\"\n",
        "exactly once",
    ),
    (
        "ftp api url",
        "[forge]\napi_url = \"ftp://x\"\n",
        "`forge.api_url`: invalid URL \"ftp://x\"",
    ),
    (
        "owner with slash",
        "[forge]\nowner = \"a/b\"\n",
        "`forge.owner`: invalid owner \"a/b\"",
    ),
    (
        "no owner, no github",
        "[[repo]]\nname = \"a\"\n",
        "has no `github = \"owner/name\"`",
    ),
    (
        "github not owner/name",
        "[[repo]]\nname = \"a\"\ngithub = \"nope\"\n",
        "invalid repository \"nope\"",
    ),
    (
        "duplicate repo",
        "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\n[[repo]]\nname = \"a\"\n",
        "repo \"a\" is declared twice",
    ),
    (
        "unknown dependency",
        "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\ndepends_on = [\"ghost\"]\n",
        "depends on \"ghost\", which is not declared",
    ),
    (
        "cycle",
        "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\ndepends_on = [\"b\"]\n[[repo]]\nname = \"b\"\ndepends_on = [\"a\"]\n",
        "dependency cycle: a -> b -> a",
    ),
    (
        "self dependency",
        "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\ndepends_on = [\"a\"]\n",
        "dependency cycle: a -> a",
    ),
    (
        "asset with a directory",
        "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\nassets = [\"dir/x\"]\n",
        "invalid asset pattern \"dir/x\"",
    ),
    (
        "asset bad glob",
        "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\nassets = [\"x[\"]\n",
        "invalid asset pattern \"x[\"",
    ),
    (
        "empty asset",
        "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\nassets = [\"\"]\n",
        "invalid asset pattern \"\"",
    ),
    ("toml syntax", "[release\n", "bad.toml:1"),
    (
        "empty repo name",
        "[forge]\nowner = \"o\"\n[[repo]]\nname = \"\"\n",
        "invalid repo name \"\"",
    ),
    (
        "repo name with space",
        "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a b\"\n",
        "invalid repo name \"a b\"",
    ),
    (
        "unknown simulate key",
        "[forge.simulate]\ndelay = \"1s\"\n",
        "unknown field `delay`",
    ),
    (
        "bad simulate duration",
        "[forge.simulate]\nci_delay = \"soon\"\n",
        "`forge.simulate.ci_delay`: invalid duration \"soon\"",
    ),
    (
        "empty path",
        "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\npath = \"\"\n",
        "`repo[0].path`: empty path",
    ),
    (
        "repo missing name",
        "[forge]\nowner = \"o\"\n[[repo]]\npath = \"a\"\n",
        "missing field `name`",
    ),
    (
        "asset with NUL",
        "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\nassets = [\"a\\u0000.tgz\"]\n",
        "invalid asset pattern \"a\\0.tgz\": control characters",
    ),
    (
        "asset with backslash",
        "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\nassets = [\"a\\\\x.tgz\"]\n",
        "invalid asset pattern \"a\\\\x.tgz\": control characters and backslashes",
    ),
    (
        "asset {ver}",
        "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\nassets = [\"a-{ver}.tgz\"]\n",
        "the only placeholder is {version}",
    ),
    (
        "asset {VERSION}",
        "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\nassets = [\"a-{VERSION}.tgz\"]\n",
        "invalid asset pattern \"a-{VERSION}.tgz\"",
    ),
    (
        "owner with a space",
        "[forge]\nowner = \"o o\"\n[[repo]]\nname = \"a\"\n",
        "`forge.owner`: invalid owner \"o o\"",
    ),
    (
        "api url with a space, simulated forge",
        "[forge]\nowner = \"acme\"\napi_url = \"http://exa mple\"\n[forge.simulate]\n[[repo]]\nname = \"a\"\n",
        "`forge.api_url`: invalid URL \"http://exa mple\"",
    ),
    (
        "api url without a host, simulated forge",
        "[forge]\nowner = \"acme\"\napi_url = \"https://\"\n[forge.simulate]\n[[repo]]\nname = \"a\"\n",
        "invalid URL \"https://\": expected a host",
    ),
    (
        "two repos on one clone",
        "[forge]\nowner = \"acme\"\n[forge.simulate]\n[[repo]]\nname = \"a\"\n[[repo]]\nname = \"b\"\npath = \"a/\"\n",
        "repo \"b\" uses the same clone as repo \"a\"",
    ),
    (
        "preflight: clone missing",
        "[forge]\nowner = \"acme\"\n[forge.simulate]\n[[repo]]\nname = \"ghost\"\n",
        "preflight failed",
    ),
    (
        "preflight: no origin",
        "[forge]\nowner = \"acme\"\n[forge.simulate]\n[[repo]]\nname = \"plain\"\n",
        "preflight failed",
    ),
];

/// A command-line case: (what it tests, arguments, text the error must contain).
const ARGS: &[(&str, &[&str], &str)] = &[
    (
        "short version",
        &["release", "--version", "1.2"],
        "invalid version \"1.2\"",
    ),
    (
        "double v",
        &["release", "--version", "vv1.2.3"],
        "invalid version \"vv1.2.3\"",
    ),
    (
        "a word",
        &["release", "--version", "latest"],
        "invalid version \"latest\"",
    ),
    (
        "four parts",
        &["release", "--version", "1.2.3.4"],
        "invalid version \"1.2.3.4\"",
    ),
    (
        "empty version",
        &["release", "--version", ""],
        "invalid version \"\"",
    ),
    (
        "capital V",
        &["release", "--version", "V1.2.3"],
        "invalid version \"V1.2.3\"",
    ),
    (
        "leading zero",
        &["release", "--version", "01.2.3"],
        "invalid version \"01.2.3\"",
    ),
    (
        "unknown --only",
        &["release", "--version", "1.0.0", "--only", "a,zz"],
        "unknown repo \"zz\" in --only",
    ),
    (
        "zero concurrency flag",
        &["release", "--version", "1.0.0", "--concurrency", "0"],
        "--concurrency",
    ),
    (
        "unknown flag",
        &["release", "--version", "1.0.0", "--frobnicate"],
        "--frobnicate",
    ),
    ("missing version", &["release"], "--version <SEMVER>"),
    ("unknown output", &["--output", "yaml", "runs"], "yaml"),
    ("unknown shell", &["completions", "tcsh-ish"], "tcsh-ish"),
    (
        "missing config file",
        &["--config", "missing.toml", "config", "check"],
        "missing.toml: cannot read",
    ),
    ("unknown pipeline", &["run", "nope"], "nope"),
    (
        "forge url with a space, dry run",
        &[
            "--forge-url",
            "http://exa mple",
            "release",
            "--version",
            "1.0.0",
            "--dry-run",
        ],
        "--forge-url / ORCHESTRATOR_FORGE_URL: invalid URL \"http://exa mple\"",
    ),
    (
        "forge url that is not http",
        &["--forge-url", "file:///etc", "runs"],
        "invalid URL \"file:///etc\"",
    ),
    (
        "ci-snippet empty --needs",
        &[
            "ci-snippet",
            "a",
            "--orchestrator-repo",
            "acme/o",
            "--needs",
            "",
        ],
        "--needs: invalid job id \"\"",
    ),
    (
        "ci-snippet --needs with a newline",
        &[
            "ci-snippet",
            "a",
            "--orchestrator-repo",
            "acme/o",
            "--needs",
            "test]\n    if: always()\n    x: [y",
        ],
        "--needs: invalid job id",
    ),
    (
        "ci-snippet --needs with an empty entry",
        &[
            "ci-snippet",
            "a",
            "--orchestrator-repo",
            "acme/o",
            "--needs",
            "test,",
        ],
        "--needs: invalid job id \"\"",
    ),
    (
        "config is a FIFO",
        &["--config", "fifo.toml", "config", "check"],
        "fifo.toml: cannot read: a FIFO (named pipe), not a regular file",
    ),
    (
        "config is a dangling link",
        &["--config", "dangling.toml", "release", "--version", "1.0.0"],
        "dangling.toml: cannot read: a symbolic link to",
    ),
    (
        "config is a directory",
        &["--config", "origins", "runs"],
        "origins: cannot read: a directory, not a regular file",
    ),
];

/// Env-file cases for `run`: (what it tests, config.env contents, text the error must contain).
const ENV_FILES: &[(&str, &str, &str)] = &[
    ("no equals sign", "FOO BAR\n", "config.env:1"),
    ("unterminated quote", "A=1\nFOO=\"open\n", "config.env:2"),
    ("command substitution", "FOO=$(whoami)\n", "config.env:1"),
    ("backticks", "FOO=`id`\n", "config.env:1"),
    ("bad name", "1FOO=x\n", "config.env:1"),
];

/// Everything a bad command could have changed: refs of clones and origins, the state dir.
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for repo in ["a"] {
        for dir in [
            root.join(repo),
            root.join("origins").join(format!("{repo}.git")),
        ] {
            let refs = git(&dir, &["for-each-ref"]).expect("for-each-ref");
            let status = if dir.join(".git").exists() {
                git(&dir, &["status", "--porcelain"]).expect("status")
            } else {
                String::new()
            };
            out.insert(dir.display().to_string(), format!("{refs}\n{status}"));
        }
    }
    out
}

fn check(root: &Path, label: &str, args: &[&str], expected: &str, failures: &mut Vec<String>) {
    let before = snapshot(root);
    let out = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .current_dir(root)
        .env("GITHUB_TOKEN", TOKEN)
        .env_remove("ORCHESTRATOR_FORGE_URL")
        .env_remove("ONLY")
        .args(args)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let all = format!("{}{stderr}", String::from_utf8_lossy(&out.stdout));
    let error_lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    if out.status.code() != Some(2) {
        failures.push(format!(
            "{label}: exit {:?}, want 2: {stderr}",
            out.status.code()
        ));
    } else if !stderr.contains(expected) {
        failures.push(format!("{label}: error lacks {expected:?}: {stderr}"));
    } else if error_lines.len() != 1 {
        failures.push(format!("{label}: want one error line, got {error_lines:?}"));
    } else if all.contains(TOKEN) {
        failures.push(format!("{label}: the token leaked"));
    } else if snapshot(root) != before {
        failures.push(format!("{label}: something changed"));
    }
    // Refused input creates nothing, not even the state directory (its lock or database).
    let state = root.join(".orchestrator");
    if state.exists() {
        failures.push(format!("{label}: created {}", state.display()));
        std::fs::remove_dir_all(&state).expect("remove the state dir for the next case");
    }
}

#[test]
fn every_bad_input_exits_2_with_one_clear_line_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    Sandbox::new(root)
        .expect("sandbox")
        .create_repo("a", &[("README.md", "a\n")])
        .expect("repo");
    std::fs::write(root.join("orchestrator.toml"), GOOD).expect("config");
    // A clone with a commit but no `origin` (preflight refuses it), a FIFO and a dangling link.
    let plain = root.join("plain");
    std::fs::create_dir(&plain).expect("plain");
    git(&plain, &["init", "-q", "-b", "main"]).expect("init");
    std::fs::write(plain.join("f"), "f\n").expect("file");
    git(&plain, &["add", "f"]).expect("add");
    git(
        &plain,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "f",
        ],
    )
    .expect("commit");
    let made = Command::new("mkfifo")
        .arg(root.join("fifo.toml"))
        .status()
        .expect("mkfifo");
    assert!(made.success());
    std::os::unix::fs::symlink(root.join("gone.toml"), root.join("dangling.toml"))
        .expect("symlink");
    let mut failures = Vec::new();
    let mut cases = 0;
    for (label, config, expected) in CONFIGS {
        std::fs::write(root.join("bad.toml"), config).expect("write");
        check(
            root,
            label,
            &["--config", "bad.toml", "release", "--version", "1.0.0"],
            expected,
            &mut failures,
        );
        cases += 1;
    }
    for (label, args, expected) in ARGS {
        check(root, label, args, expected, &mut failures);
        cases += 1;
    }
    let pipeline = "[pipeline.p]\nenv_files = [{ file = \"config.env\" }]\n[[pipeline.p.apply]]\nrun = [\"true\"]\n";
    std::fs::write(root.join("pipe.toml"), pipeline).expect("write");
    for (label, env, expected) in ENV_FILES {
        std::fs::write(root.join("config.env"), env).expect("write");
        check(
            root,
            label,
            &["--config", "pipe.toml", "run", "p"],
            expected,
            &mut failures,
        );
        cases += 1;
    }
    // Plans, event payloads, comment events and the other commands' flags.
    let files: &[(&str, &str, &str)] = &[
        (
            "plan.yaml",
            "apiVersion: infra.scale/v1\nkind: Nope\n",
            "plan.yaml: not a ScalePlan",
        ),
        ("plan2.yaml", "just text\n", "plan2.yaml: not a ScalePlan"),
        (
            "event.json",
            "{\"client_payload\": {\"repo\": \"acme/ghost\"}}",
            "ghost",
        ),
        ("event2.json", "not json", "event2.json"),
        (
            "comment.json",
            "{\"comment\": 5}",
            "issue_comment event lacks",
        ),
    ];
    for (file, content, _) in files {
        std::fs::write(root.join(file), content).expect("write");
    }
    let more: &[(&str, &[&str], &str)] = &[
        (
            "plan.yaml of another kind",
            &["scale", "apply", "--plan", "plan.yaml"],
            files[0].2,
        ),
        (
            "plan.yaml that is not YAML",
            &["scale", "apply", "--plan", "plan2.yaml"],
            files[1].2,
        ),
        (
            "event payload naming an unknown repo",
            &["cascade", "--event-file", "event.json", "--dry-run"],
            files[2].2,
        ),
        (
            "event payload that is not JSON",
            &["cascade", "--event-file", "event2.json", "--dry-run"],
            files[3].2,
        ),
        (
            "comment event without its fields",
            &["pr-command", "--event-file", "comment.json"],
            files[4].2,
        ),
        (
            "workload without replicas",
            &[
                "scale",
                "plan",
                "--target",
                "prod",
                "--namespace",
                "a",
                "--workload",
                "Deployment:web",
            ],
            "--workload Deployment:web",
        ),
        (
            "hpa min above max",
            &[
                "scale",
                "plan",
                "--target",
                "prod",
                "--namespace",
                "a",
                "--workload",
                "Deployment:web:3",
                "--hpa",
                "min:5,max:2,cpu:60",
            ],
            "min (5) is above max (2)",
        ),
        (
            "resource quantity",
            &[
                "scale",
                "plan",
                "--target",
                "prod",
                "--namespace",
                "a",
                "--workload",
                "Deployment:web:3",
                "--req",
                "web:cpu=lots",
            ],
            "\"lots\" is not a quantity",
        ),
        (
            "rollout timeout without a unit",
            &["scale", "apply", "--plan", "p", "--rollout-timeout", "5"],
            "error: --rollout-timeout 5: invalid duration \"5\": expected a number and a unit, \
             such as 500ms, 10s, 5m, 1h or 1h30m",
        ),
        (
            "zero rollout timeout",
            &[
                "scale",
                "rollback",
                "--plan",
                "p",
                "--rollout-timeout",
                "0s",
            ],
            "error: --rollout-timeout 0s: must be above zero (--no-wait skips the wait)",
        ),
        (
            "rollout timeout with --no-wait",
            &[
                "scale",
                "apply",
                "--plan",
                "p",
                "--no-wait",
                "--rollout-timeout=5m",
            ],
            "error: --no-wait skips the wait that --rollout-timeout 5m bounds: give one of them",
        ),
        (
            "missing plan file",
            &["scale", "apply", "--plan", "nope/plan.yaml"],
            "error: --plan nope/plan.yaml: no such file",
        ),
        (
            "unknown bump",
            &["publish", "--bump", "sideways", "--dry-run"],
            "invalid value 'sideways' for '--bump <BUMP>'",
        ),
    ];
    for (label, args, expected) in more {
        check(root, label, args, expected, &mut failures);
        cases += 1;
    }
    std::fs::write(root.join("config.env"), "A=1\n").expect("write");
    check(
        root,
        "unknown --only step",
        &["--config", "pipe.toml", "run", "p", "--only", "nine"],
        "nine",
        &mut failures,
    );
    cases += 1;
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(cases >= 40, "the catalogue holds {cases} cases");
    println!("{cases} bad inputs: exit 2, one error line, nothing changed");
}

/// A read-only `.orchestrator` (a CI cache, another user's workspace) does not break the
/// commands that only read it: `runs` and `run --dry-run` open the database read-only, and
/// nothing in the directory changes. Run as an unprivileged user when the tests run as root,
/// since root writes through a read-only mode.
#[test]
fn read_only_commands_work_on_a_read_only_state_dir() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let config = "[[pipeline.p.apply]]\nname = \"one\"\nrun = [\"true\"]\n";
    std::fs::write(root.join("orchestrator.toml"), config).expect("config");
    let out = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .current_dir(root)
        .args(["run", "p"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A copy of the binary another user can run, in a directory they can enter.
    let exe = root.join("orchestrator");
    std::fs::copy(env!("CARGO_BIN_EXE_orchestrator"), &exe).expect("copy");
    let mode = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    };
    mode(root, 0o755);
    mode(&root.join("orchestrator.toml"), 0o644);
    let state = root.join(".orchestrator");
    for entry in std::fs::read_dir(&state).expect("state dir") {
        mode(&entry.expect("entry").path(), 0o444);
    }
    mode(&state, 0o555);
    let listing = || {
        let mut names: Vec<String> = std::fs::read_dir(&state)
            .expect("state dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let before = listing();
    let as_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    for args in [&["runs"][..], &["run", "p", "--dry-run"]] {
        let mut cmd = if as_root {
            let mut cmd = Command::new("setpriv");
            cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(&exe);
            cmd
        } else {
            Command::new(&exe)
        };
        let out = cmd.current_dir(root).args(args).output().expect("runs");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains('p'), "{args:?}: {stdout}");
    }
    assert_eq!(listing(), before, "nothing created in the state dir");
    mode(&state, 0o755);
}

/// A reader that stops reading (`orchestrator ... | head -1`) is not a panic (exit 101): the
/// command finishes quietly with its own exit code, for every kind of printing.
#[test]
fn a_closed_stdout_is_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    Sandbox::new(root)
        .expect("sandbox")
        .create_repo("a", &[("README.md", "a\n")])
        .expect("repo");
    std::fs::write(root.join("orchestrator.toml"), GOOD).expect("config");
    let cases: &[&[&str]] = &[
        &["completions", "bash"],
        &["config", "check"],
        &["graph"],
        &["--output", "json", "runs"],
        &["release", "--version", "1.0.0", "--dry-run"],
        &[
            "--output",
            "json",
            "release",
            "--version",
            "1.0.0",
            "--dry-run",
        ],
        &[
            "scale",
            "plan",
            "--target",
            "prod",
            "--namespace",
            "a",
            "--workload",
            "Deployment:web:3",
        ],
    ];
    let mut failures = Vec::new();
    for args in cases {
        // Spawned with a pipe whose reading end is closed at once: the first write fails.
        let mut child = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
            .current_dir(root)
            .env_remove("ORCHESTRATOR_FORGE_URL")
            .args(*args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(0) || stderr.contains("panicked") {
            failures.push(format!("{args:?}: exit {:?}: {stderr}", out.status.code()));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
