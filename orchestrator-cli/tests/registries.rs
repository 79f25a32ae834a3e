//! `orchestrator publish` against real package registries on loopback: cargo-http-registry (a
//! Cargo registry that accepts `cargo publish`) and verdaccio (npm), installed by
//! `.ci/tools/registries.sh`. The ecosystem mixes Cargo crates (caret, tilde and bounded `>=,<`
//! requirements, committed `Cargo.lock`s) and npm packages (tilde, caret, a bounded
//! devDependency, committed `package-lock.json`s). The forge is `[forge.simulate]`; the registry
//! side of CI is this test: it watches the bare origins and publishes each package to its
//! registry once its tag is pushed, so the orchestrator's wait for an installable version and its
//! lockfile updates run against real servers.
//!
//! Cargo runs with a `CARGO_HOME` inside the temp dir that knows only the loopback registry, and
//! the packages have no other dependencies, so nothing reaches crates.io.
//!
//! Without the tools the tests print one "skipped" line and pass, unless
//! `ORCHESTRATOR_REQUIRE_EXTERNAL=1` (CI), where they fail naming the script to run.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use orchestrator_core::publish;
use orchestrator_git::sandbox::{Sandbox, git};

const SCRIPT: &str = ".ci/tools/registries.sh";
/// A token the loopback registries accept; not a secret.
const NPM_TOKEN: &str = "loopback-test-token";

/// The two servers' binaries, or `None` (after saying so) when the test is to be skipped.
fn tools() -> Option<(PathBuf, PathBuf)> {
    let dir = std::env::var_os("ORCHESTRATOR_TOOLS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/orchestrator-ci"))
        })
        .unwrap_or_default();
    let verdaccio = dir.join("registries-npm/node_modules/.bin/verdaccio");
    let cargo_registry = dir.join("cargo-http-registry/bin/cargo-http-registry");
    let npm = Command::new("npm")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    for (tool, found) in [
        ("verdaccio", verdaccio.is_file()),
        ("cargo-http-registry", cargo_registry.is_file()),
        ("npm", npm),
    ] {
        if !found {
            if std::env::var("ORCHESTRATOR_REQUIRE_EXTERNAL").as_deref() == Ok("1") {
                panic!("{tool} not installed in {} (run {SCRIPT})", dir.display());
            }
            eprintln!("skipped: {tool} not installed (run {SCRIPT})");
            return None;
        }
    }
    Some((verdaccio, cargo_registry))
}

/// A server process, stopped by PID on drop (also when the test panics).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `ready` every 50ms for at most 60s (servers start in a few seconds).
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what} did not come up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Both registries on loopback and the client configuration that reaches them.
struct Registries {
    _servers: Vec<Server>,
    /// The Cargo registry's git index, `file://…`.
    cargo_index: String,
    /// The npm registry's URL.
    npm_url: String,
    cargo_home: PathBuf,
    npmrc: PathBuf,
    npm_cache: PathBuf,
}

impl Registries {
    fn start(dir: &Path, verdaccio: &Path, cargo_registry: &Path) -> Self {
        // cargo-http-registry binds an ephemeral port itself and writes it to config.json.
        let root = dir.join("cargo-registry");
        let chr = Server(
            Command::new(cargo_registry)
                .arg(&root)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("cargo-http-registry starts"),
        );
        let mut api = String::new();
        wait_until("cargo-http-registry", || {
            let Ok(text) = std::fs::read_to_string(root.join("config.json")) else {
                return false;
            };
            let Ok(config) = serde_json::from_str::<serde_json::Value>(&text) else {
                return false;
            };
            api = config["api"].as_str().unwrap_or_default().to_owned();
            TcpStream::connect(api.trim_start_matches("http://")).is_ok()
        });
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let vd = dir.join("verdaccio");
        std::fs::create_dir_all(vd.join("storage")).expect("verdaccio dir");
        std::fs::write(
            vd.join("config.yaml"),
            "storage: ./storage\nauth:\n  htpasswd:\n    file: ./htpasswd\n    max_users: -1\n\
             uplinks: {}\npackages:\n  '**':\n    access: $all\n    publish: $all\n    \
             unpublish: $all\nlog: { type: stdout, format: pretty, level: error }\n",
        )
        .expect("verdaccio config");
        let npm = Server(
            Command::new(verdaccio)
                .args(["--config", "config.yaml", "--listen"])
                .arg(format!("127.0.0.1:{port}"))
                .current_dir(&vd)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("verdaccio starts"),
        );
        wait_until("verdaccio", || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        let cargo_index = format!("file://{}", root.display());
        let cargo_home = dir.join("cargo-home");
        std::fs::create_dir_all(&cargo_home).expect("cargo home");
        std::fs::write(
            cargo_home.join("config.toml"),
            format!("[registries.loopback]\nindex = \"{cargo_index}\"\n"),
        )
        .expect("cargo config");
        let npm_url = format!("http://127.0.0.1:{port}/");
        let npmrc = dir.join("npmrc");
        std::fs::write(
            &npmrc,
            format!("registry={npm_url}\n//127.0.0.1:{port}/:_authToken={NPM_TOKEN}\n"),
        )
        .expect("npmrc");
        Self {
            _servers: vec![chr, npm],
            cargo_index,
            npm_url,
            cargo_home,
            npmrc,
            npm_cache: dir.join("npm-cache"),
        }
    }

    /// `program` configured for the loopback registries only.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>, dir: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(dir)
            .env("CARGO_HOME", &self.cargo_home)
            .env("NPM_CONFIG_USERCONFIG", &self.npmrc)
            .env("npm_config_cache", &self.npm_cache)
            .env_remove("npm_config_registry")
            .env_remove("NPM_CONFIG_REGISTRY")
            .env_remove("ORCHESTRATOR_FORGE_URL")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("GITHUB_OUTPUT");
        cmd
    }

    fn run(&self, program: &str, args: &[&str], dir: &Path) -> Output {
        let out = self
            .command(program, dir)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?} in {}: {}{}",
            dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// What the release CI of a package does after its build: publish to its registry.
    fn publish(&self, kind: Kind, dir: &Path) {
        match kind {
            Kind::Cargo => self.run(
                "cargo",
                &[
                    "publish",
                    "--registry",
                    "loopback",
                    "--no-verify",
                    "--allow-dirty",
                    "--token",
                    "loopback",
                ],
                dir,
            ),
            Kind::Npm => self.run("npm", &["publish", "--registry", &self.npm_url], dir),
        };
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Cargo,
    Npm,
}

/// (repo, kind, dependencies): Cargo `qt-core` ← `qt-render` (caret) ← `qt-cli` (bounded on
/// render, tilde on core); npm `tokens` ← `ui` (tilde) ← `app` (caret, bounded devDependency).
const ECOSYSTEM: &[(&str, Kind, &[&str])] = &[
    ("qt-core", Kind::Cargo, &[]),
    ("qt-render", Kind::Cargo, &["qt-core"]),
    ("qt-cli", Kind::Cargo, &["qt-render", "qt-core"]),
    ("tokens", Kind::Npm, &[]),
    ("ui", Kind::Npm, &["tokens"]),
    ("app", Kind::Npm, &["ui", "tokens"]),
];

fn manifest(name: &str) -> (&'static str, String) {
    let cargo = |version: &str, deps: &str| {
        format!(
            "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\
             description = \"{name}\"\nlicense = \"MIT\"\n\n[dependencies]\n{deps}"
        )
    };
    match name {
        "qt-core" => ("Cargo.toml", cargo("0.4.2", "")),
        "qt-render" => (
            "Cargo.toml",
            cargo(
                "0.4.0",
                "qt-core = { version = \"^0.4.2\", registry = \"loopback\" }\n",
            ),
        ),
        "qt-cli" => (
            "Cargo.toml",
            cargo(
                "0.4.0",
                "qt-render = { version = \">=0.4.0, <0.5\", registry = \"loopback\" }\n\
                 qt-core = { version = \"~0.4.2\", registry = \"loopback\" }\n",
            ),
        ),
        "tokens" => (
            "package.json",
            "{\n  \"name\": \"@acme/tokens\",\n  \"version\": \"1.0.0\"\n}\n".into(),
        ),
        "ui" => (
            "package.json",
            "{\n  \"name\": \"@acme/ui\",\n  \"version\": \"1.0.0\",\n  \"dependencies\": {\n    \"@acme/tokens\": \"~1.0.0\"\n  }\n}\n".into(),
        ),
        "app" => (
            "package.json",
            "{\n  \"name\": \"@acme/app\",\n  \"version\": \"1.0.0\",\n  \"dependencies\": {\n    \"@acme/ui\": \"^1.0.0\"\n  },\n  \"devDependencies\": {\n    \"@acme/tokens\": \">=1.0.0 <1.1.0\"\n  }\n}\n".into(),
        ),
        other => panic!("no manifest for {other}"),
    }
}

struct World {
    dir: tempfile::TempDir,
    registries: Registries,
}

impl World {
    /// The ecosystem at its first versions, each published, each dependent with its lockfile
    /// committed, tagged and pushed; `orchestrator.toml` with `[release] timeout`.
    fn new(timeout: &str) -> Option<Self> {
        let (verdaccio, cargo_registry) = tools()?;
        let dir = tempfile::tempdir().expect("tempdir");
        let registries = Registries::start(dir.path(), &verdaccio, &cargo_registry);
        let sandbox = Sandbox::new(dir.path()).expect("sandbox");
        let mut config = format!(
            "[forge]\nowner = \"acme\"\n\n[forge.simulate]\nci_delay = \"20ms\"\nasset_interval = \"10ms\"\n\n\
             [release]\npoll_interval = \"100ms\"\ntimeout = \"{timeout}\"\nstable_polls = 1\n\n\
             [publish]\nnpm_registry = \"{}\"\n\n",
            registries.npm_url
        );
        for (name, kind, deps) in ECOSYSTEM {
            let (file, text) = manifest(name);
            let mut files = vec![(file, text.as_str())];
            if *kind == Kind::Cargo {
                files.push(("src/lib.rs", "//! A crate of the loopback ecosystem.\n"));
            }
            sandbox.create_repo(name, &files).expect("repo");
            let clone = dir.path().join(name);
            {
                match kind {
                    Kind::Cargo => registries.run("cargo", &["generate-lockfile"], &clone),
                    Kind::Npm => registries.run(
                        "npm",
                        &["install", "--package-lock-only", "--ignore-scripts"],
                        &clone,
                    ),
                };
                git(&clone, &["add", "-A"]).expect("add");
                git(&clone, &["commit", "-q", "-m", "chore: lockfile"]).expect("commit");
                git(&clone, &["push", "-q", "origin", "main"]).expect("push");
            }
            let version = if *kind == Kind::Cargo {
                if *name == "qt-core" { "0.4.2" } else { "0.4.0" }
            } else {
                "1.0.0"
            };
            git(
                &clone,
                &["tag", "-a", &format!("v{version}"), "-m", version],
            )
            .expect("tag");
            git(&clone, &["push", "-q", "origin", &format!("v{version}")]).expect("push tag");
            registries.publish(*kind, &clone);
            let registry = if *kind == Kind::Cargo {
                "loopback"
            } else {
                "npm"
            };
            let quoted: Vec<String> = deps.iter().map(|d| format!("{d:?}")).collect();
            config.push_str(&format!(
                "[[repo]]\nname = \"{name}\"\ndepends_on = [{}]\nmanifest = \"{file}\"\nregistry = \"{registry}\"\n\n",
                quoted.join(", ")
            ));
        }
        std::fs::write(dir.path().join("orchestrator.toml"), config).expect("config");
        std::fs::write(
            dir.path().join("versions.toml"),
            "unrelated = { version = \"3.1.0\", git_tag = \"v3.1.0\", git_commit = \"u0\", requires = [\"qt-core=0.4.2\"] } # not ours\n",
        )
        .expect("versions.toml");
        Some(Self { dir, registries })
    }

    fn origin(&self, name: &str) -> PathBuf {
        self.dir.path().join("origins").join(format!("{name}.git"))
    }

    /// `orchestrator publish --bump minor` while a registry CI publishes every pushed release
    /// tag (except `withheld`'s) to its registry; the JSON report and the exit status.
    fn publish(&self, withheld: &[&str]) -> (serde_json::Value, Output) {
        let ci = RegistryCi::start(self, withheld);
        let out = self
            .registries
            .command(env!("CARGO_BIN_EXE_orchestrator"), self.dir.path())
            .args(["--output", "json", "publish", "--bump", "minor"])
            .output()
            .expect("runs");
        ci.stop();
        common::schema::check(
            "publish",
            &String::from_utf8_lossy(&out.stdout),
            "publish-report.schema.json",
        );
        let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{e}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (report, out)
    }

    /// A fresh clone of `name`'s origin at `tag`.
    fn checkout(&self, name: &str, tag: &str) -> PathBuf {
        let to = self
            .dir
            .path()
            .join("checkouts")
            .join(format!("{name}-{tag}"));
        let origin = self.origin(name);
        git(
            self.dir.path(),
            &[
                "clone",
                "-q",
                "--branch",
                tag,
                &origin.to_string_lossy(),
                &to.to_string_lossy(),
            ],
        )
        .expect("clone");
        to
    }
}

/// The registry half of the simulated CI: publishes each package when its release tag reaches
/// its origin. Stops (bounded) when told.
struct RegistryCi {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

impl RegistryCi {
    fn start(world: &World, withheld: &[&str]) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let watched: Vec<(String, Kind, PathBuf, BTreeSet<String>)> = ECOSYSTEM
            .iter()
            .filter(|(n, _, _)| !withheld.contains(n))
            .map(|(n, k, _)| {
                let origin = world.origin(n);
                let seen = tags(&origin);
                ((*n).to_owned(), *k, origin, seen)
            })
            .collect();
        let root = world.dir.path().join("ci");
        let registries = Registries {
            _servers: Vec::new(),
            cargo_index: world.registries.cargo_index.clone(),
            npm_url: world.registries.npm_url.clone(),
            cargo_home: world.registries.cargo_home.clone(),
            npmrc: world.registries.npmrc.clone(),
            npm_cache: world.registries.npm_cache.clone(),
        };
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut watched = watched;
            let started = Instant::now();
            while !flag.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(300) {
                for (name, kind, origin, seen) in &mut watched {
                    for tag in tags(origin).difference(&seen.clone()) {
                        let to = root.join(format!("{name}-{tag}"));
                        git(
                            root.parent().expect("parent"),
                            &[
                                "clone",
                                "-q",
                                "--branch",
                                tag,
                                &origin.to_string_lossy(),
                                &to.to_string_lossy(),
                            ],
                        )
                        .expect("ci clone");
                        registries.publish(*kind, &to);
                        seen.insert(tag.clone());
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Self { stop, handle }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().expect("the registry CI did not panic");
    }
}

fn tags(origin: &Path) -> BTreeSet<String> {
    git(origin, &["tag", "--list", "v*"])
        .expect("tags")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn outcomes(report: &serde_json::Value) -> BTreeMap<String, (String, String)> {
    report["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_owned(),
                (
                    p["outcome"].as_str().unwrap_or_default().to_owned(),
                    p["error"].as_str().unwrap_or_default().to_owned(),
                ),
            )
        })
        .collect()
}

/// Whether npm's own range semantics admit `version` (the `semver` CLI verdaccio ships).
fn npm_admits(range: &str, version: &str) -> bool {
    let tools = tools().expect("tools were found");
    let semver = tools.0.parent().expect(".bin").join("semver");
    Command::new(semver)
        .args(["-r", range, version])
        .output()
        .expect("semver runs")
        .status
        .success()
}

#[test]
fn publish_leaves_every_release_commit_buildable_against_loopback_registries() {
    let Some(world) = World::new("90s") else {
        return;
    };
    // The dry run names what each dependent will wait for, where.
    let dry = world
        .registries
        .command(env!("CARGO_BIN_EXE_orchestrator"), world.dir.path())
        .args(["publish", "--bump", "minor", "--dry-run"])
        .output()
        .expect("runs");
    let dry = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry.contains(&format!(
            "  qt-cli: qt-render@0.5.0 on {0}, qt-core@0.5.0 on {0}",
            world.registries.cargo_index
        )) && dry.contains(&format!(
            "  app: @acme/ui@1.1.0 on {0}, @acme/tokens@1.1.0 on {0}",
            world.registries.npm_url
        )),
        "{dry}"
    );
    let plan = world
        .registries
        .command(env!("CARGO_BIN_EXE_orchestrator"), world.dir.path())
        .args([
            "--output",
            "json",
            "publish",
            "--bump",
            "minor",
            "--dry-run",
        ])
        .output()
        .expect("runs");
    let plan = String::from_utf8_lossy(&plan.stdout);
    common::schema::check("publish --dry-run", &plan, "publish-plan.schema.json");
    assert!(
        plan.contains(&format!(
            "qt-core@0.5.0 on {}",
            world.registries.cargo_index
        )),
        "{plan}"
    );
    let (report, out) = world.publish(&[]);
    assert!(
        out.status.success(),
        "{report:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outcomes = outcomes(&report);
    assert!(
        outcomes.values().all(|(o, _)| o == "released"),
        "{outcomes:#?}"
    );
    let versions = [
        ("qt-core", "0.5.0"),
        ("qt-render", "0.5.0"),
        ("qt-cli", "0.5.0"),
        ("tokens", "1.1.0"),
        ("ui", "1.1.0"),
        ("app", "1.1.0"),
    ];
    let version_of: BTreeMap<&str, &str> = versions.into_iter().collect();
    let package_of = |repo: &str| match repo {
        "tokens" | "ui" | "app" => format!("@acme/{repo}"),
        other => other.to_owned(),
    };
    for (name, kind, deps) in ECOSYSTEM {
        let tag = format!("v{}", version_of[name]);
        let clone = world.checkout(name, &tag);
        match kind {
            Kind::Cargo => {
                // The release commit builds `--locked` against the registry.
                world.registries.run(
                    "cargo",
                    &["metadata", "--locked", "--format-version", "1"],
                    &clone,
                );
                let text = std::fs::read_to_string(clone.join("Cargo.toml")).expect("manifest");
                let doc: toml::Table = text.parse().expect("toml");
                for dep in *deps {
                    let req = doc["dependencies"][*dep]["version"]
                        .as_str()
                        .expect("a version requirement");
                    let req = semver::VersionReq::parse(req).expect("a Cargo requirement");
                    let new = semver::Version::parse(version_of[dep]).expect("version");
                    assert!(req.matches(&new), "{name}: {req} excludes {dep} {new}");
                }
                {
                    let lock = std::fs::read_to_string(clone.join("Cargo.lock")).expect("lock");
                    for dep in std::iter::once(name).chain(deps.iter()) {
                        assert!(
                            lock.contains(&format!(
                                "name = \"{dep}\"\nversion = \"{}\"",
                                version_of[dep]
                            )),
                            "{name}'s Cargo.lock does not lock {dep} {}:\n{lock}",
                            version_of[dep]
                        );
                    }
                }
            }
            Kind::Npm => {
                {
                    // `npm ci` really installs the locked tree from verdaccio.
                    world.registries.run(
                        "npm",
                        &["ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                        &clone,
                    );
                }
                let lock: serde_json::Value = serde_json::from_str(
                    &std::fs::read_to_string(clone.join("package-lock.json")).expect("lock"),
                )
                .expect("lock json");
                assert_eq!(
                    lock["packages"][""]["version"], version_of[name],
                    "{lock:#}"
                );
                for dep in *deps {
                    assert_eq!(
                        lock["packages"][format!("node_modules/{}", package_of(dep))]["version"],
                        version_of[dep],
                        "{name}'s package-lock.json: {lock:#}"
                    );
                }
                let text = std::fs::read_to_string(clone.join("package.json")).expect("manifest");
                let json: serde_json::Value = serde_json::from_str(&text).expect("json");
                for table in ["dependencies", "devDependencies"] {
                    for dep in *deps {
                        if let Some(range) = json[table][package_of(dep)].as_str() {
                            assert!(
                                npm_admits(range, version_of[dep]),
                                "{name}: {table} {range} excludes {dep} {}",
                                version_of[dep]
                            );
                        }
                    }
                }
            }
        }
    }
    // The author's operators survive: tilde stays tilde, bounded stays bounded.
    let ui = git(&world.origin("ui"), &["show", "v1.1.0:package.json"]).expect("show");
    assert!(ui.contains("\"@acme/tokens\": \"~1.1.0\""), "{ui}");
    let qt_cli = git(&world.origin("qt-cli"), &["show", "v0.5.0:Cargo.toml"]).expect("show");
    assert!(qt_cli.contains("version = \"~0.5.0\""), "{qt_cli}");
    assert!(qt_cli.contains(">=0.5.0, <0.6"), "{qt_cli}");
    // versions.toml: our entries updated, the unrelated one kept.
    let written = std::fs::read_to_string(world.dir.path().join("versions.toml")).expect("read");
    let back = publish::read_coordination(&written).expect("valid");
    assert_eq!(back["qt-cli"].version, "0.5.0");
    assert_eq!(back["unrelated"].version, "3.1.0");
    assert_eq!(back["unrelated"].requires, vec!["qt-core=0.4.2"]);
}

#[test]
fn a_version_the_registry_never_serves_fails_only_its_dependents() {
    let Some(world) = World::new("3s") else {
        return;
    };
    let (report, out) = world.publish(&["qt-render"]);
    assert!(!out.status.success(), "{report:#}");
    let outcomes = outcomes(&report);
    let outcome = |n: &str| outcomes[n].0.as_str();
    // The withheld package itself is released (its forge release exists); its dependent fails
    // naming the registry and the version; the npm chain is untouched by it.
    assert_eq!(outcome("qt-core"), "released", "{outcomes:#?}");
    assert_eq!(outcome("qt-render"), "released", "{outcomes:#?}");
    assert_eq!(outcome("qt-cli"), "failed", "{outcomes:#?}");
    for n in ["tokens", "ui", "app"] {
        assert_eq!(outcome(n), "released", "{outcomes:#?}");
    }
    let error = &outcomes["qt-cli"].1;
    assert!(
        error.contains("qt-render@0.5.0") && error.contains(&world.registries.cargo_index),
        "{error}"
    );
    // Nothing of qt-cli's release happened.
    assert!(!tags(&world.origin("qt-cli")).contains("v0.5.0"));
    assert_eq!(
        git(&world.dir.path().join("qt-cli"), &["status", "--porcelain"]).expect("status"),
        "",
        "qt-cli's clone is untouched"
    );

    // Once the registry serves it, `--resume` finishes the run: only qt-cli's steps remain.
    world
        .registries
        .publish(Kind::Cargo, &world.checkout("qt-render", "v0.5.0"));
    let ci = RegistryCi::start(&world, &[]);
    let resumed = world
        .registries
        .command(env!("CARGO_BIN_EXE_orchestrator"), world.dir.path())
        .args(["--output", "json", "publish", "--resume"])
        .output()
        .expect("runs");
    ci.stop();
    assert!(resumed.status.success(), "{resumed:?}");
    let report: serde_json::Value = serde_json::from_slice(&resumed.stdout).expect("json");
    assert_eq!(
        self::outcomes(&report)["qt-cli"].0,
        "released",
        "{report:#}"
    );
    let clone = world.checkout("qt-cli", "v0.5.0");
    world.registries.run(
        "cargo",
        &["metadata", "--locked", "--format-version", "1"],
        &clone,
    );
    for out in [&out, &resumed] {
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains(NPM_TOKEN), "the registry token was printed");
    }
}
