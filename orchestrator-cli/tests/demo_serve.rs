//! `orchestrator demo --serve`: the rehearsal with `serve`'s intake and dashboard in process, the
//! mock GitHub delivering signed webhooks to it. Loopback only, no token.

use std::process::Command;

#[test]
fn the_demo_with_serve_wakes_its_waits_by_webhook_and_says_how_late() {
    let out = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args(["demo", "--serve"])
        .env_remove("GITHUB_TOKEN")
        .env_remove("GH_TOKEN")
        .env_remove("ORCHESTRATOR_FORGE_URL")
        .env_remove("ORCHESTRATOR_LOG")
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("release 1.0.0 succeeded"), "{stdout}");
    assert!(
        stderr.contains("demo: dashboard at http://127.0.0.1:"),
        "{stderr}"
    );
    let summary = stderr
        .lines()
        .find(|l| l.starts_with("demo: serve took "))
        .unwrap_or_else(|| panic!("no summary:\n{stderr}"));
    // Seven repos: a push, a draft, its publication and each asset settling, all delivered.
    let number_before = |text: &str, word: &str| -> u64 {
        let at = text
            .find(word)
            .unwrap_or_else(|| panic!("{word:?} in {text:?}"));
        text[..at]
            .split_whitespace()
            .last()
            .and_then(|n| n.trim_start_matches('(').parse().ok())
            .unwrap_or_else(|| panic!("a number before {word:?} in {text:?}"))
    };
    assert!(number_before(summary, "woke waits") >= 21, "{summary}");
    assert_eq!(number_before(summary, "refused"), 0, "{summary}");
    assert_eq!(number_before(summary, "failed"), 0, "{summary}");
    let lag = stderr
        .lines()
        .find(|l| l.starts_with("demo: detection lag"))
        .unwrap_or_else(|| panic!("no lag line:\n{stderr}"));
    assert!(lag.contains("over 7 waits"), "{lag}");
    // Polled, a wait would see its release at the fallback's second poll, 2 s after the first
    // (the release is ready ~1.2 s in): at least 0.7 s late. Woken, it is a confirming poll late.
    let median = number_before(lag, "ms,");
    assert!(median < 700, "the waits were not woken: {lag}");
}
