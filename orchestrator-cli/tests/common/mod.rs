//! Shared by the CLI tests: the `orchestrator mock-forge` process wrapper and fixtures.

#![allow(dead_code, unreachable_pub)] // each test crate uses a different part

pub mod schema;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `orchestrator mock-forge`; SIGKILLed on drop if still running.
pub struct MockForge {
    child: Child,
    /// The API root it announced.
    pub url: String,
}

impl MockForge {
    pub fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mock-forge starts");
        let mut first = String::new();
        BufReader::new(child.stdout.as_mut().expect("stdout"))
            .read_line(&mut first)
            .expect("the first line");
        let url = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line: {first:?}"))
            .to_owned();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        Self { child, url }
    }

    /// `GET /_mock/stats` as JSON.
    pub fn stats(&self) -> serde_json::Value {
        let addr = self.url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(addr).expect("connect");
        write!(
            stream,
            "GET /_mock/stats HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        let body = response.split_once("\r\n\r\n").expect("a body").1;
        serde_json::from_str(body).expect("stats JSON")
    }

    /// SIGTERM, then the exit status and stderr; fails if it does not exit within 10s.
    pub fn stop(mut self, token: &str) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(status.success());
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "still running");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        assert!(!stderr.contains(token), "the token leaked:\n{stderr}");
        (status, stderr)
    }

    /// One API request with a JSON body; the status code and the JSON answer.
    pub fn api(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: &str,
    ) -> (u16, serde_json::Value) {
        let addr = self.url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(addr).expect("connect");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        let (head, body) = response.split_once("\r\n\r\n").expect("a body");
        let code = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .expect("a status code");
        (code, serde_json::from_str(body).expect("JSON"))
    }
}

impl Drop for MockForge {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Seed 003's workloads as a cluster state file (`--cluster file:...`): `web` and `api` in
/// `assistant`, `api` with an HPA.
pub const SCALE_STATE: &str = "\
workloads:
  - kind: Deployment
    namespace: assistant
    name: web
    replicas: 3
    revision: 2
    containers:
      - name: web
        requests: {cpu: 250m, memory: 512Mi}
        limits: {cpu: 500m, memory: 1Gi}
  - kind: Deployment
    namespace: assistant
    name: api
    replicas: 2
    containers:
      - name: api
        requests: {cpu: 200m, memory: 512Mi}
        limits: {cpu: 500m, memory: 1Gi}
hpas:
  - namespace: assistant
    name: api
    targetKind: Deployment
    targetName: api
    minReplicas: 2
    maxReplicas: 5
    targetCpuPercent: 80
";

/// Two packages, `lib` and `app`, each a real clone tagged v1.0.0 with a package.json manifest,
/// released by tag push (`trigger = "tag"`).
pub fn two_package_fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = orchestrator_git::sandbox::Sandbox::new(dir.path()).expect("sandbox");
    let mut config = String::from(
        "[forge]\nowner = \"acme\"\n[release]\npoll_interval = \"10ms\"\ntimeout = \"120s\"\n",
    );
    for name in ["lib", "app"] {
        let manifest = format!("{{\n  \"name\": \"@acme/{name}\",\n  \"version\": \"1.0.0\"\n}}\n");
        sandbox
            .create_repo(name, &[("package.json", manifest.as_str())])
            .expect("repo");
        orchestrator_git::sandbox::git(
            &dir.path().join(name),
            &["tag", "-a", "v1.0.0", "-m", "v1.0.0"],
        )
        .expect("tag");
        config.push_str(&format!(
            "[[repo]]\nname = \"{name}\"\nmanifest = \"package.json\"\ntrigger = \"tag\"\n"
        ));
    }
    std::fs::write(dir.path().join("orchestrator.toml"), config).expect("config");
    dir
}
