//! The release survives a SIGKILL at every journal write: rerun with `--resume`, it converges on
//! exactly the state of an uninterrupted run, with no tag made or pushed twice.

use std::path::Path;
use std::process::{Command, Output};

use orchestrator_git::sandbox::{Sandbox, git};

const TOKEN: &str = "ghp_CRASHcanaryDoNotPrint0123456789";
const KILL_AT: &str = "ORCHESTRATOR_FAULT_KILL_AT_JOURNAL_WRITE";

fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = Sandbox::new(dir.path()).expect("sandbox");
    for name in ["a", "b", "c"] {
        sandbox
            .create_repo(name, &[("README.md", name)])
            .expect("repo");
    }
    let config = "[forge]\nowner = \"acme\"\n[forge.simulate]\nci_delay = \"40ms\"\nasset_interval = \"10ms\"\n\
                  [release]\npoll_interval = \"10ms\"\ntimeout = \"30s\"\n\
                  [[repo]]\nname = \"a\"\nassets = [\"a-v{version}.tgz\"]\n\
                  [[repo]]\nname = \"b\"\ndepends_on = [\"a\"]\nassets = [\"b-v{version}.tgz\"]\n\
                  [[repo]]\nname = \"c\"\nassets = [\"c-v{version}.tgz\"]\n";
    std::fs::write(dir.path().join("orchestrator.toml"), config).expect("config");
    dir
}

fn release(dir: &Path, extra: &[&str], kill_at: Option<usize>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
    cmd.current_dir(dir)
        .env("GITHUB_TOKEN", TOKEN)
        .env_remove(KILL_AT)
        .args(["--output", "json", "release", "--version", "1.0.0"])
        .args(extra);
    if let Some(k) = kill_at {
        cmd.env(KILL_AT, k.to_string());
    }
    let out = cmd.output().expect("runs");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains(TOKEN), "token leaked: {all}");
    out
}

/// Tag name → peeled commit, on each repo's origin.
fn end_state(dir: &Path) -> Vec<(String, Vec<String>)> {
    ["a", "b", "c"]
        .iter()
        .map(|name| {
            let origin = dir.join("origins").join(format!("{name}.git"));
            let tags = git(
                &origin,
                &[
                    "for-each-ref",
                    "--format=%(refname:short) %(*objectname)",
                    "refs/tags",
                ],
            )
            .expect("refs");
            let head = git(&dir.join(name), &["rev-parse", "HEAD"]).expect("head");
            // Express the tag's commit relative to HEAD so two fixtures compare equal.
            let tags = tags.lines().map(|l| l.replace(&head, "HEAD")).collect();
            ((*name).to_owned(), tags)
        })
        .collect()
}

#[test]
fn sigkill_at_every_journal_write_then_resume_converges() {
    let reference_dir = fixture();
    let out = release(reference_dir.path(), &[], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference = end_state(reference_dir.path());
    assert!(
        reference
            .iter()
            .all(|(_, tags)| tags == &vec!["v1.0.0 HEAD".to_owned()]),
        "{reference:?}"
    );
    // 3 repos x (tag, push, wait) x (started, finished) + run finished.
    let writes = 19;
    let results: Vec<(usize, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..=writes)
            .map(|k| {
                let reference = &reference;
                scope.spawn(move || {
                    let dir = fixture();
                    let first = release(dir.path(), &[], Some(k));
                    if first.status.success() {
                        return (k, format!("write {k}: the run was not killed"));
                    }
                    let resumed = release(dir.path(), &["--resume"], None);
                    if !resumed.status.success() {
                        return (
                            k,
                            format!(
                                "write {k}: resume failed: {}{}",
                                String::from_utf8_lossy(&resumed.stderr),
                                String::from_utf8_lossy(&resumed.stdout)
                            ),
                        );
                    }
                    let state = end_state(dir.path());
                    if &state != reference {
                        return (
                            k,
                            format!("write {k}: end state {state:?} differs from {reference:?}"),
                        );
                    }
                    let db =
                        std::fs::read(dir.path().join(".orchestrator/state.db")).expect("state db");
                    if db.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()) {
                        return (k, format!("write {k}: token in the state database"));
                    }
                    (k, String::new())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("case thread"))
            .collect()
    });
    let failures: Vec<&String> = results
        .iter()
        .map(|(_, e)| e)
        .filter(|e| !e.is_empty())
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    println!("{writes} of {writes} crash points converged, 0 duplicate tags");
}
