//! Test support shared by every crate's tests (feature `test-support`): a throwaway PostgreSQL
//! server.
//!
//! [`PgCluster::start`] runs Debian's PostgreSQL binaries (installed by
//! `.ci/tools/postgres.sh`, found under `$ORCHESTRATOR_TOOLS_DIR/postgres/bin`) on a temporary
//! directory: `initdb`, then `pg_ctl start` on a free loopback port with its unix socket in the
//! same directory, so nothing outside it is touched. As root (CI runs as root, and `initdb`
//! refuses root) the server runs as the `postgres` user through `runuser`. Dropping the cluster
//! stops the server by its PID (also when the test panics) and deletes the directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The tools script that installs PostgreSQL.
pub const POSTGRES_SCRIPT: &str = ".ci/tools/postgres.sh";

/// `$ORCHESTRATOR_TOOLS_DIR`, else `$HOME/.cache/orchestrator-ci`.
pub fn tools_dir() -> PathBuf {
    std::env::var_os("ORCHESTRATOR_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".cache/orchestrator-ci")
        })
}

/// Whether a missing external tool fails the test (`ORCHESTRATOR_REQUIRE_EXTERNAL=1`, as CI sets)
/// rather than skipping it.
pub fn external_required() -> bool {
    std::env::var("ORCHESTRATOR_REQUIRE_EXTERNAL").is_ok_and(|v| v == "1")
}

/// A PostgreSQL server of its own, on loopback, removed when dropped.
#[derive(Debug)]
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    pid: Option<u32>,
    as_postgres: bool,
}

impl PgCluster {
    /// Starts a server, or returns `None` after printing one "skipped" line when PostgreSQL is
    /// not installed (a failure instead when [`external_required`]). `durable = false` turns
    /// off fsync for speed (tests); `true` keeps the server's defaults (benchmarks).
    pub fn start_or_skip(durable: bool) -> Option<Self> {
        let bin = tools_dir().join("postgres/bin");
        if !bin.join("initdb").is_file() {
            let message = format!("skipped: postgres not installed (run {POSTGRES_SCRIPT})");
            assert!(
                !external_required(),
                "{message}; ORCHESTRATOR_REQUIRE_EXTERNAL=1 requires it"
            );
            eprintln!("{message}");
            return None;
        }
        Some(Self::start(&bin, durable).unwrap_or_else(|e| panic!("starting PostgreSQL: {e}")))
    }

    /// Starts a server with the binaries in `bin`.
    pub fn start(bin: &Path, durable: bool) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("orchestrator-pg-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let as_postgres = rustix::process::geteuid().is_root();
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !status.success() {
                return Err(format!("chown postgres {}: {status}", dir.path().display()));
            }
        }
        // The tools dir may sit under /root, which `postgres` cannot enter: run the binaries
        // from where the link points (Debian's /usr/lib/postgresql/N/bin).
        let bin = std::fs::canonicalize(bin).unwrap_or_else(|_| bin.to_owned());
        let mut cluster = Self {
            dir,
            bin,
            port: 0,
            pid: None,
            as_postgres,
        };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                &data.display().to_string(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        // A port that was free a moment ago may be taken by a parallel test: try a few.
        let mut last = String::new();
        for _ in 0..5 {
            cluster.port = free_port()?;
            let mut options = format!(
                "-p {} -k {} -h 127.0.0.1 -c max_connections=50",
                cluster.port,
                cluster.dir.path().display()
            );
            if !durable {
                options.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
            }
            let log = cluster.dir.path().join("server.log").display().to_string();
            match cluster.run(
                "pg_ctl",
                &[
                    "-D",
                    &data.display().to_string(),
                    "-l",
                    &log,
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    &options,
                    "start",
                ],
            ) {
                Ok(()) => {
                    cluster.pid = std::fs::read_to_string(data.join("postmaster.pid"))
                        .ok()
                        .and_then(|s| s.lines().next().and_then(|l| l.trim().parse().ok()));
                    return Ok(cluster);
                }
                Err(e) => {
                    last = format!("{e}\n{}", std::fs::read_to_string(&log).unwrap_or_default());
                }
            }
        }
        Err(last)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let program = self.bin.join(tool);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let output = command
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", program.display()))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{tool} {}: {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL of database `db` (superuser `postgres`, no password, no TLS).
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    /// Creates database `name` (a fresh state for one test) and returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        let output = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                &format!("CREATE DATABASE \"{name}\""),
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("psql: {e}"));
        assert!(
            output.status.success(),
            "CREATE DATABASE {name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        self.url(name)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data().display().to_string();
        if self
            .run(
                "pg_ctl",
                &["-D", &data, "-m", "immediate", "-w", "-t", "30", "stop"],
            )
            .is_err()
            && let Some(pid) = self
                .pid
                .and_then(|p| i32::try_from(p).ok())
                .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}
