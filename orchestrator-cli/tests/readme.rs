//! Every `orchestrator` command line in the README's code blocks is run by this test, in a sandbox
//! built by `orchestrator demo --dir` (seven repos, bare origins, a config) plus the files the
//! README itself shows (the rehearsal cluster, a task list). Each line has an expectation in
//! [`EXPECTED`]; a README line without one, or an expectation no line matches, fails the test, so a
//! new or changed command line in the README cannot go unrun.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::MockForge;

/// What a README command line must do when run in the sandbox.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Started in the background (`&` in the README): the mock GitHub the later lines use.
    Background,
    /// Exit 0.
    Succeeds,
    /// Exit 0 and exactly one JSON document on stdout.
    SucceedsWithJson,
    /// This exit code, with this text on stderr: the line parses and runs, and the sandbox lacks
    /// what the line needs in real use (said in the README next to it).
    Exits(i32, &'static str),
}

/// The README's command lines (arguments after `orchestrator`, with the sandbox's values
/// substituted for `PORT`, `$GITHUB_EVENT_PATH` and `${{ github.repository }}`), in README order
/// of first appearance, and what each must do.
const EXPECTED: &[(&str, Expect)] = &[
    (
        "publish --bump auto",
        // The install example: the demo's repos are a release config, not a package DAG.
        Expect::Exits(
            2,
            "declares no [[repo]] with a `manifest`: nothing to publish",
        ),
    ),
    (
        "--config orchestrator.toml mock-forge --origins ./origins",
        Expect::Background,
    ),
    (
        "release --version 1.2.3 --forge-url http://127.0.0.1:PORT",
        Expect::Succeeds,
    ),
    (
        "mock-forge --origins ./origins --fail acme/lib:v1.4.0=timed_out",
        // A second mock GitHub (the first is stopped): the rehearsal of a failing CI run.
        Expect::Background,
    ),
    (
        "publish --bump minor --forge-url http://127.0.0.1:PORT",
        // The demo's repos are a release config, not a package DAG.
        Expect::Exits(
            2,
            "declares no [[repo]] with a `manifest`: nothing to publish",
        ),
    ),
    ("tasks run nightly", Expect::Succeeds),
    (
        "--output json runs list --limit 1",
        Expect::SucceedsWithJson,
    ),
    ("status --update-issue Truthdb/truthdb#1", Expect::Succeeds),
    (
        "cascade --event-file EVENT_PATH",
        // The demo's repos are a release config, not a package DAG.
        Expect::Exits(2, "declares a `manifest`: nothing to cascade"),
    ),
    (
        "cascade --all --nightly",
        Expect::Exits(2, "declares a `manifest`: nothing to cascade"),
    ),
    (
        "scale plan --cluster file:cluster.yaml --out plan --target=prod --namespace=assistant \
         --kube-context=production --workload=Deployment:web:6 --workload=Deployment:api:4 \
         --hpa=min:4,max:12,cpu:65 --req=web:cpu=500m,mem=1Gi --lim=web:cpu=1,mem=2Gi \
         --req=api:cpu=400m,mem=1Gi --lim=api:cpu=1,mem=2Gi",
        Expect::Succeeds,
    ),
    (
        "serve --listen 0.0.0.0:8080",
        // The test gives no webhook secret: the service refuses to start rather than accept
        // unsigned webhooks.
        Expect::Exits(2, "ORCHESTRATOR_WEBHOOK_SECRET is not set"),
    ),
    (
        "scale apply --plan plan/plan.yaml --cluster file:cluster.yaml",
        Expect::Succeeds,
    ),
    (
        "scale rollback --plan plan/plan.yaml --cluster file:cluster.yaml",
        Expect::Succeeds,
    ),
];

/// One command line found in the README.
#[derive(Debug)]
struct ReadmeLine {
    /// 1-based line number of its first line.
    line: usize,
    /// Its arguments after `orchestrator`.
    args: Vec<String>,
}

/// Every `orchestrator …` command line in the README's fenced code blocks, continuation lines
/// joined, cut at a comment, pipe, redirection or `&`; `command:` inputs of the orchestrator
/// action count too.
fn readme_lines(readme: &str) -> Vec<ReadmeLine> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut found = Vec::new();
    let mut in_block = false;
    let mut after_action = false;
    let mut i = 0;
    while i < lines.len() {
        let trimmed = lines[i].trim_start();
        if trimmed.starts_with("```") {
            in_block = !in_block;
            i += 1;
            continue;
        }
        if !in_block {
            i += 1;
            continue;
        }
        let start = i;
        // An Actions expression is one word here: the repository the workflow runs in.
        let mut text = lines[i]
            .replace("${{ github.repository }}", "Truthdb/truthdb")
            .replace("${{ github.event_path }}", "$GITHUB_EVENT_PATH");
        while text.trim_end().ends_with('\\') && i + 1 < lines.len() {
            i += 1;
            text = format!(
                "{} {}",
                text.trim_end().trim_end_matches('\\'),
                lines[i].trim()
            );
        }
        i += 1;
        if trimmed.contains("uses: orchestrator-rs/orchestrator@") {
            after_action = true;
            continue;
        }
        let rest = if after_action && let Some(rest) = text.trim().strip_prefix("command:") {
            after_action = false;
            Some(rest.trim().trim_matches('"').to_string())
        } else {
            command_after_program(&text)
        };
        if let Some(rest) = rest {
            found.push(ReadmeLine {
                line: start + 1,
                args: words(&rest),
            });
        }
    }
    found
}

/// The text after the word `orchestrator` used as a program (`orchestrator release …`,
/// `ExecStart=/usr/local/bin/orchestrator …`, `run: orchestrator …`), not as a name in prose or
/// config (`orchestrator.toml`, `orchestrator-rs/…`).
fn command_after_program(text: &str) -> Option<String> {
    let mut search = 0;
    while let Some(pos) = text[search..].find("orchestrator ") {
        let at = search + pos;
        let before = text[..at].chars().last();
        if before.is_none_or(|c| c.is_whitespace() || c == '/' || c == '=') {
            let rest = &text[at + "orchestrator ".len()..];
            let first = rest.split_whitespace().next().unwrap_or("");
            if first.starts_with('-') || first.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
                return Some(rest.to_string());
            }
        }
        search = at + 1;
    }
    None
}

/// Shell-like words up to a comment, pipe, redirection, `&`, `;` or `&&`; double quotes removed.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text.split_whitespace() {
        if word.starts_with('#')
            || word.starts_with('>')
            || word.starts_with("2>")
            || matches!(word, "|" | "||" | "&" | "&&" | ";")
        {
            break;
        }
        out.push(word.trim_matches('"').to_string());
    }
    out
}

/// The README with the sandbox's stand-ins: what the test matches [`EXPECTED`] against.
fn normalise(args: &[String]) -> String {
    args.join(" ").replace("$GITHUB_EVENT_PATH", "EVENT_PATH")
}

fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    std::fs::read_to_string(&path).expect("README.md")
}

/// The YAML block of the README that starts with `first_line`: the rehearsal cluster.
fn readme_block(readme: &str, first_line: &str) -> String {
    let mut lines = readme.lines().skip_while(|l| *l != first_line);
    let mut block = String::new();
    for line in lines.by_ref() {
        if line.trim_start().starts_with("```") {
            break;
        }
        block.push_str(line);
        block.push('\n');
    }
    assert!(
        !block.is_empty(),
        "the README has no block starting {first_line:?}"
    );
    block
}

fn orchestrator(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
    cmd.current_dir(dir)
        .env_remove("GITHUB_TOKEN")
        .env_remove("GH_TOKEN")
        .env_remove("ORCHESTRATOR_FORGE_URL")
        .env_remove("ORCHESTRATOR_STATE_DIR")
        .env_remove("ORCHESTRATOR_CONFIG")
        .env_remove("ORCHESTRATOR_OUTPUT")
        .env_remove("ORCHESTRATOR_STATE_URL")
        .env_remove("ORCHESTRATOR_WEBHOOK_SECRET");
    cmd
}

/// The sandbox: the demo's repos and config, a task list and the README's cluster file.
fn sandbox(root: &Path, readme: &str) -> PathBuf {
    let dir = root.join("sandbox");
    let built = orchestrator(root)
        .args(["demo", "--dir"])
        .arg(&dir)
        .output()
        .expect("demo runs");
    assert!(built.status.success(), "demo: {}", text(&built));
    let config = dir.join("orchestrator.toml");
    let mut toml = std::fs::read_to_string(&config).expect("config");
    // The demo released 1.0.0 against its own mock: the README's release is a new version.
    toml.push_str(
        "\n[[tasks.nightly]]\nname = \"records\"\nrun = [\"sh\", \"-c\", \"echo outputs_uri=https://example.test/records\"]\n",
    );
    std::fs::write(&config, toml).expect("config");
    std::fs::write(dir.join("cluster.yaml"), readme_block(readme, "workloads:")).expect("cluster");
    std::fs::write(
        dir.join("event.json"),
        r#"{"action": "build_all", "client_payload": {"repo": "truthdb-proto"}}"#,
    )
    .expect("event");
    dir
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn every_readme_command_line_runs_as_documented() {
    let readme = readme();
    let found = readme_lines(&readme);
    assert!(found.len() >= EXPECTED.len(), "found only {found:?}");
    // Every line has an expectation, and every expectation a line.
    let unknown: Vec<String> = found
        .iter()
        .map(|l| (l.line, normalise(&l.args)))
        .filter(|(_, n)| !EXPECTED.iter().any(|(e, _)| e == n))
        .map(|(line, n)| format!("README.md:{line}: {n}"))
        .collect();
    assert!(
        unknown.is_empty(),
        "README command lines with no expectation here: {unknown:#?}"
    );
    let unused: Vec<&str> = EXPECTED
        .iter()
        .map(|(e, _)| *e)
        .filter(|e| !found.iter().any(|l| normalise(&l.args) == *e))
        .collect();
    assert!(
        unused.is_empty(),
        "expectations no README line matches: {unused:#?}"
    );

    let root = tempfile::tempdir().expect("tempdir");
    let dir = sandbox(root.path(), &readme);
    let event = dir.join("event.json");
    let mut mock: Option<MockForge> = None;
    let mut failures = Vec::new();
    let mut done = std::collections::HashSet::new();
    for line in &found {
        let normalised = normalise(&line.args);
        // The same line in several workflows is run once.
        if !done.insert(normalised.clone()) {
            continue;
        }
        let expect = EXPECTED
            .iter()
            .find(|(e, _)| *e == normalised)
            .map(|(_, x)| *x)
            .expect("checked above");
        let args: Vec<String> = line
            .args
            .iter()
            .map(|a| {
                let a = a.replace("$GITHUB_EVENT_PATH", &event.display().to_string());
                match &mock {
                    Some(m) => a.replace("http://127.0.0.1:PORT", &m.url),
                    None => a,
                }
            })
            .collect();
        let mut cmd = orchestrator(&dir);
        cmd.args(&args);
        // Once the README's mock GitHub runs, every later line talks to it, as in a rehearsal.
        if let Some(m) = &mock {
            cmd.env("ORCHESTRATOR_FORGE_URL", &m.url);
        }
        if let Expect::Background = expect {
            if let Some(previous) = mock.take() {
                previous.stop("no token");
            }
            let started = MockForge::spawn(cmd);
            // The issue the README's status monitor keeps its table in.
            let (code, _) = started.api(
                "no token",
                "POST",
                "/repos/Truthdb/truthdb/issues",
                r#"{"title": "Release status"}"#,
            );
            assert_eq!(code, 201, "the mock creates the status issue");
            mock = Some(started);
            continue;
        }
        let output = cmd.output().expect("runs");
        let ok = match expect {
            Expect::Background => unreachable!("handled above"),
            Expect::Succeeds => output.status.success(),
            Expect::SucceedsWithJson => {
                output.status.success()
                    && serde_json::from_slice::<serde_json::Value>(&output.stdout).is_ok()
            }
            Expect::Exits(code, needle) => {
                output.status.code() == Some(code)
                    && String::from_utf8_lossy(&output.stderr).contains(needle)
            }
        };
        // A usage error means the README shows a command line the CLI does not accept.
        let usage_error = String::from_utf8_lossy(&output.stderr).contains("Usage: orchestrator");
        if !ok || usage_error {
            failures.push(format!(
                "README.md:{}: orchestrator {normalised}\nexpected {expect:?}, got {}",
                line.line,
                text(&output)
            ));
        }
    }
    if let Some(mock) = mock {
        mock.stop("no token");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The workflows the README shows are the files in `examples/workflows/` that CI lints
/// (actionlint, zizmor): each README block that opens with a file's first line is that file.
#[test]
fn readme_workflows_are_the_linted_example_files() {
    let readme = readme();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/workflows");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/workflows") {
        let path = entry.expect("entry").path();
        let file = std::fs::read_to_string(&path).expect("workflow");
        let first = file.lines().next().expect("a first line");
        // The README may indent a block inside a list item.
        let block = readme
            .lines()
            .find(|l| l.trim_start() == first)
            .map(|l| {
                let indent = l.len() - l.trim_start().len();
                let unindented: Vec<&str> = readme
                    .lines()
                    .skip_while(|x| *x != l)
                    .take_while(|x| !x.trim_start().starts_with("```"))
                    .map(|x| x.get(indent..).unwrap_or(""))
                    .collect();
                unindented.join("\n") + "\n"
            })
            .unwrap_or_else(|| panic!("the README does not show {}", path.display()));
        assert_eq!(block, file, "README's copy of {} differs", path.display());
        checked += 1;
    }
    assert!(checked >= 3, "{checked} example workflows");
}

#[test]
fn the_extractor_finds_commands_and_skips_prose() {
    let readme = "text orchestrator release --version 1 outside a block\n\
        ```sh\n\
        orchestrator release --version 1.2.3 \\\n  --only a   # comment\n\
        0 2 * * *  cd /srv && X=1 orchestrator tasks run nightly >> log 2>&1\n\
        ExecStart=/usr/local/bin/orchestrator runs list\n\
        cp orchestrator.toml orchestrator-rs/x\n\
        ```\n\
        ```yaml\n\
        - uses: orchestrator-rs/orchestrator@0123 # v0.1.0\n\
          with:\n\
            command: status --update-issue o/r#1\n\
        ```\n";
    let found: Vec<String> = readme_lines(readme)
        .iter()
        .map(|l| l.args.join(" "))
        .collect();
    assert_eq!(
        found,
        [
            "release --version 1.2.3 --only a",
            "tasks run nightly",
            "runs list",
            "status --update-issue o/r#1",
        ]
    );
}
