//! The binary against a forge that cannot answer (issue 14, items 3, 4 and 9): refused
//! connections, 500s, broken JSON, rate limits years away and a server that drips bytes must stop
//! `publish` at the credentials check, before any commit, push or tag, with exit 1 and one line
//! naming the forge (without the `user:password@` its URL was given with) and the cause. `status`
//! tells an unreachable forge (exit 3) from drift (exit 1), and `--help` never prints the forge
//! URL's value.
//!
//! The forge is a hand-written HTTP server on a loopback thread, so nothing smooths its answers.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use orchestrator_git::sandbox::{Sandbox, git};

const TOKEN: &str = "ghp_HOSTILEcanaryDoNotPrint0123456789";
/// The password written into the forge URL; it must show nowhere.
const URL_SECRET: &str = "hunter2-url-password";
/// Generous: each case ends in seconds; this only catches a hang.
const BOUND: Duration = Duration::from_secs(120);

/// How the server answers every request.
#[derive(Clone, Copy)]
enum Mode {
    Status500,
    BrokenJson,
    ResetYearsAway,
    /// Headers, then a byte a second, forever.
    Drip,
}

/// Serves `mode` on a loopback port from a thread (it lives as long as the test process).
fn serve(mode: Mode) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream, mode));
        }
    });
    port
}

fn answer(mut stream: TcpStream, mode: Mode) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let reply = |status: &str, headers: &str, body: &str| {
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n{headers}\r\n{body}",
            body.len()
        )
    };
    let text = match mode {
        Mode::Status500 => reply(
            "500 Internal Server Error",
            "",
            r#"{"message":"Server Error"}"#,
        ),
        Mode::BrokenJson => reply("200 OK", "", r#"{"id": 7, "tag_name": "#),
        Mode::ResetYearsAway => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("after 1970")
                .as_secs();
            reply(
                "403 Forbidden",
                &format!(
                    "x-ratelimit-remaining: 0\r\nx-ratelimit-reset: {}\r\n",
                    // An hour over ten years: the client rounds down, and reads its own clock a
                    // moment after this one.
                    now + 10 * 365 * 86_400 + 3_600
                ),
                r#"{"message":"API rate limit exceeded"}"#,
            )
        }
        Mode::Drip => {
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n",
            );
            while stream.write_all(b" ").is_ok() {
                std::thread::sleep(Duration::from_secs(1));
            }
            return;
        }
    };
    let _ = stream.write_all(text.as_bytes());
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// Two packages (`lib`, then `app` which depends on it), each with a bare origin; the run's
/// timeout is short, so a stalled forge is given up on quickly.
fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = Sandbox::new(dir.path()).expect("sandbox");
    let mut config =
        "[forge]\nowner = \"acme\"\n[release]\npoll_interval = \"10ms\"\ntimeout = \"4s\"\n"
            .to_owned();
    let manifests = [
        (
            "lib",
            "",
            "{\n  \"name\": \"@acme/lib\",\n  \"version\": \"1.0.0\"\n}\n",
        ),
        (
            "app",
            "\"lib\"",
            "{\n  \"name\": \"@acme/app\",\n  \"version\": \"1.0.0\",\n  \"dependencies\": {\n    \"@acme/lib\": \"^1.0.0\"\n  }\n}\n",
        ),
    ];
    for (name, deps, manifest) in manifests {
        sandbox
            .create_repo(name, &[("package.json", manifest)])
            .expect("repo");
        git(
            &dir.path().join(name),
            &["tag", "-a", "v1.0.0", "-m", "v1.0.0"],
        )
        .expect("tag");
        config.push_str(&format!(
            "[[repo]]\nname = \"{name}\"\ndepends_on = [{deps}]\nmanifest = \"package.json\"\ntrigger = \"tag\"\n"
        ));
    }
    std::fs::write(dir.path().join("orchestrator.toml"), config).expect("config");
    dir
}

/// Per package: origin's tags, origin's `main` log, and the clone's HEAD.
fn state(dir: &Path) -> Vec<String> {
    ["lib", "app"]
        .iter()
        .map(|name| {
            let origin = dir.join("origins").join(format!("{name}.git"));
            format!(
                "{name}: tags {:?}; main {:?}; HEAD {:?}",
                git(&origin, &["tag", "--list"]).expect("tags"),
                git(&origin, &["log", "--format=%s", "main"]).expect("log"),
                git(&dir.join(name), &["rev-parse", "HEAD"]).expect("head"),
            )
        })
        .collect()
}

/// Runs `orchestrator args` in `dir` with the canary token, killing it (and failing) past
/// [`BOUND`]. Neither the token nor the URL's password may show in its output.
fn orchestrator(dir: &Path, args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .current_dir(dir)
        .env("GITHUB_TOKEN", TOKEN)
        .env_remove("ORCHESTRATOR_FORGE_URL")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_OUTPUT")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let started = Instant::now();
    let pid = child.id();
    let waiter = std::thread::spawn(move || child.wait_with_output().expect("runs"));
    while !waiter.is_finished() {
        if started.elapsed() > BOUND {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("orchestrator {args:?} did not end within {BOUND:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = waiter.join().expect("waiter");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains(TOKEN), "token leaked: {all}");
    assert!(!all.contains(URL_SECRET), "URL password leaked: {all}");
    out
}

/// `publish` against a forge that cannot answer: exit 1, one error line naming the forge (no
/// userinfo) and `cause`, nothing committed, pushed or tagged.
fn publish_stops_before_any_change(port: u16, cause: &str) {
    let dir = fixture();
    let before = state(dir.path());
    let url = format!("http://ci:{URL_SECRET}@127.0.0.1:{port}");
    let out = orchestrator(
        dir.path(),
        &["publish", "--bump", "patch", "--forge-url", &url],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    let forge = format!("the forge at http://127.0.0.1:{port} ");
    assert!(errors[0].contains(&forge), "names the forge: {stderr}");
    assert!(errors[0].contains("nothing was changed"), "{stderr}");
    assert!(
        errors[0].contains(cause),
        "names the cause {cause:?}: {stderr}"
    );
    assert_eq!(
        state(dir.path()),
        before,
        "nothing committed, tagged or pushed"
    );
}

#[test]
fn a_refused_connection_stops_publish_before_any_change() {
    publish_stops_before_any_change(closed_port(), "Connection refused");
}

#[test]
fn a_forge_answering_500_stops_publish_before_any_change() {
    publish_stops_before_any_change(serve(Mode::Status500), "500 Internal Server Error");
}

#[test]
fn a_forge_answering_broken_json_stops_publish_before_any_change() {
    publish_stops_before_any_change(serve(Mode::BrokenJson), "unexpected response");
}

#[test]
fn a_rate_limit_reset_years_away_stops_publish_before_any_change() {
    publish_stops_before_any_change(serve(Mode::ResetYearsAway), "10 years");
}

/// A byte a second keeps every idle timeout quiet; the check's bound (the run's 4s timeout here)
/// still ends it.
#[test]
fn a_dripping_forge_cannot_hold_the_check_past_the_run_timeout() {
    publish_stops_before_any_change(serve(Mode::Drip), "timed out after 4s");
}

#[test]
fn status_tells_an_unreachable_forge_from_drift() {
    let dir = fixture();
    let url = format!("http://ci:{URL_SECRET}@127.0.0.1:{}", closed_port());
    let out = orchestrator(dir.path(), &["status", "--forge-url", &url]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("cannot read the release status from the forge at http://127.0.0.1:"),
        "{stderr}"
    );
    let help = orchestrator(dir.path(), &["status", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("1  drift") && help.contains("3  the forge could not be read"),
        "{help}"
    );
}

#[test]
fn help_does_not_print_the_forge_url_value() {
    let out = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .env(
            "ORCHESTRATOR_FORGE_URL",
            format!("http://ci:{URL_SECRET}@forge.example"),
        )
        .arg("--help")
        .output()
        .expect("runs");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(help.contains("ORCHESTRATOR_FORGE_URL"), "{help}");
    assert!(
        !help.contains(URL_SECRET) && !help.contains("forge.example"),
        "{help}"
    );
}

/// `-v` logs and error lines name the forge URL; never with its password.
#[test]
fn verbose_logs_and_errors_never_show_the_url_password() {
    let dir = fixture();
    let url = format!(
        "http://ci:{URL_SECRET}@127.0.0.1:{}",
        serve(Mode::Status500)
    );
    // `orchestrator` asserts the password shows nowhere in stdout or stderr.
    let out = orchestrator(
        dir.path(),
        &["-v", "publish", "--bump", "patch", "--forge-url", &url],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("retrying"), "retries are logged: {stderr}");
    assert!(!stderr.contains("ERROR"), "a retry is a warning: {stderr}");
}
