//! `orchestrator run` end to end over seed 001's layout rebuilt as a fixture: `config.env`,
//! `profiles/local.env`, `profiles/secrets.env`, step scripts that record how they were called,
//! and the host pipeline with its own layers.

use std::path::Path;
use std::process::{Command, Output};

/// Set for every invocation; no test output may contain it.
const TOKEN: &str = "ghp_TESTTOKENdoNotPrint0123456789";
/// Secret values in the fixture; no output may contain them either.
const SECRETS: [&str; 3] = [
    "oauth-very-secret-value",
    "clickstack-ingest-abc123",
    "metrics-plain-value-123",
];

const CLUSTER_APPLY: [&str; 6] = [
    "15_verify_cluster_access.sh",
    "94_verify_config_inputs.sh",
    "bootstrap/install-flux.sh",
    "bootstrap/sync-runtime-inputs.sh",
    "32_reconcile_flux_stack.sh",
    "91_verify_platform_state.sh",
];
const CLUSTER_DELETE: [&str; 7] = [
    "15_verify_cluster_access.sh",
    "32_reconcile_flux_stack.sh",
    "30_manage_cert_manager_cleanup.sh",
    "99_execute_teardown.sh",
    "26_manage_cilium_lifecycle.sh",
    "bootstrap/install-flux.sh",
    "98_verify_teardown_clean.sh",
];

/// Appends "<name> <args> LAYER=<layer> HOST=<host layer>" to $RECORD; fails with exit 4 while a
/// file `fail-<name>` exists beside the config, and waits (recording a SIGTERM) while `slow-<name>`
/// does.
const RECORDER: &str = r#"#!/bin/sh
name=$(basename "$0")
echo "$name $* LAYER=$LAYER HOST=$HOST_LAYER" >> "$RECORD"
echo "running $name in $(basename "$PWD")"
echo "secret check: $OAUTH2_PROXY_CLIENT_SECRET" >&2
if [ -e "$FIXTURE/fail-$name" ]; then
  echo "cannot reach the cluster"
  exit 4
fi
if [ -e "$FIXTURE/slow-$name" ]; then
  trap 'echo "$name got TERM" >> "$RECORD"; exit 143' TERM
  echo "waiting for the cluster"
  sleep 30 &
  wait
fi
"#;

const CONFIG: &str = r#"
[pipeline.cluster]
env_files = [
  { file = "config.env" },
  { file = "profiles/local.env", optional = true, skip_if = "PROFILE_EXCLUSIVE" },
  { file = "profiles/secrets.env", optional = true, secret = true, skip_if = "PROFILE_EXCLUSIVE" },
]

[[pipeline.cluster.apply]]
run = ["scripts/15_verify_cluster_access.sh"]
[[pipeline.cluster.apply]]
run = ["scripts/94_verify_config_inputs.sh"]
when = "FEAT_VERIFY"
[[pipeline.cluster.apply]]
run = ["scripts/bootstrap/install-flux.sh"]
[[pipeline.cluster.apply]]
run = ["scripts/bootstrap/sync-runtime-inputs.sh"]
env = { RUNTIME_AUTH = "Bearer ${OAUTH2_PROXY_CLIENT_SECRET}", SYNC_TARGET = "${CLUSTER_NAME}/flux-system" }
[[pipeline.cluster.apply]]
run = ["scripts/32_reconcile_flux_stack.sh"]
timeout = "5m"
[[pipeline.cluster.apply]]
run = ["scripts/91_verify_platform_state.sh"]
when = "FEAT_VERIFY"

[[pipeline.cluster.delete]]
run = ["scripts/15_verify_cluster_access.sh"]
[[pipeline.cluster.delete]]
run = ["scripts/32_reconcile_flux_stack.sh"]
[[pipeline.cluster.delete]]
run = ["scripts/30_manage_cert_manager_cleanup.sh"]
modes = ["delete"]
[[pipeline.cluster.delete]]
run = ["scripts/99_execute_teardown.sh"]
modes = ["delete"]
[[pipeline.cluster.delete]]
run = ["scripts/26_manage_cilium_lifecycle.sh"]
when = "FEAT_CILIUM"
[[pipeline.cluster.delete]]
run = ["scripts/bootstrap/install-flux.sh"]
[[pipeline.cluster.delete]]
run = ["scripts/98_verify_teardown_clean.sh"]
modes = ["delete"]

[pipeline.host]
env_files = [
  { file = "config.env" },
  { file = "host/config/homelab.env" },
  { file = "host/config/host.env" },
]
[[pipeline.host.apply]]
run = ["host/tasks/10_dynamic_dns.sh"]
[[pipeline.host.apply]]
run = ["host/tasks/20_install_k3s.sh"]
workdir = "host"
[[pipeline.host.delete]]
run = ["host/tasks/20_install_k3s.sh"]
workdir = "host"
[[pipeline.host.delete]]
run = ["host/tasks/10_dynamic_dns.sh"]
"#;

struct Fixture {
    dir: tempfile::TempDir,
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn script(path: &Path) {
    write(path, RECORDER);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(&root.join("orchestrator.toml"), CONFIG);
        write(
            &root.join("config.env"),
            "# cluster settings\nCLUSTER_NAME=home\nFEAT_VERIFY=${FEAT_VERIFY:-true}\n\
             FEAT_CILIUM=${FEAT_CILIUM:-false}\nexport KUBE_CONTEXT=\"home-admin\"   # kubectl context\n\
             METRICS_KEY=metrics-plain-value-123\nLAYER=config\n",
        );
        write(&root.join("profiles/local.env"), "LAYER='local'\n");
        write(
            &root.join("profiles/secrets.env"),
            "export OAUTH2_PROXY_CLIENT_SECRET=\"oauth-very-secret-value\"\n\
             CLICKSTACK_INGEST=clickstack-ingest-abc123\nLAYER=secrets\n",
        );
        write(&root.join("override.env"), "LAYER=profile\n");
        write(
            &root.join("host/config/homelab.env"),
            "HOST_LAYER=homelab\nDDNS_ZONE=lab.example\n",
        );
        write(&root.join("host/config/host.env"), "HOST_LAYER=host\n");
        write(&root.join("host-override.env"), "HOST_LAYER=cli\n");
        let mut scripts: Vec<&str> = CLUSTER_APPLY.to_vec();
        scripts.extend(CLUSTER_DELETE);
        for s in scripts {
            script(&root.join("scripts").join(s));
        }
        script(&root.join("host/tasks/10_dynamic_dns.sh"));
        script(&root.join("host/tasks/20_install_k3s.sh"));
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
        cmd.current_dir(self.path())
            .args(args)
            .env("GITHUB_TOKEN", TOKEN)
            .env("RECORD", self.path().join("record.log"))
            .env("FIXTURE", self.path())
            .env_remove("ONLY")
            .env_remove("PROFILE_EXCLUSIVE")
            .env_remove("FEAT_VERIFY")
            .env_remove("FEAT_CILIUM")
            .env_remove("ORCHESTRATOR_LOG");
        cmd
    }

    /// Runs and checks the universal rules: neither the token nor a fixture secret appears.
    fn run(&self, cmd: &mut Command) -> Output {
        let out = cmd.output().expect("the binary runs");
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!all.contains(TOKEN), "the token leaked:\n{all}");
        for secret in SECRETS {
            assert!(!all.contains(secret), "{secret} leaked:\n{all}");
        }
        out
    }

    /// Takes the record of what ran (and clears it).
    fn record(&self) -> Vec<String> {
        let path = self.path().join("record.log");
        let lines = std::fs::read_to_string(&path)
            .map(|t| t.lines().map(str::to_owned).collect())
            .unwrap_or_default();
        let _ = std::fs::remove_file(path);
        lines
    }

    fn names(&self) -> Vec<String> {
        self.record()
            .iter()
            .map(|l| l.split(' ').next().unwrap_or_default().to_owned())
            .collect()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn base(names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|n| {
            Path::new(n)
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn default_apply_and_delete_orders_for_each_flag_combination() {
    let fx = Fixture::new();
    for (verify, cilium) in [
        ("true", "true"),
        ("true", "false"),
        ("false", "true"),
        ("false", "false"),
    ] {
        let out = fx.run(
            fx.cmd(&["run", "cluster"])
                .env("FEAT_VERIFY", verify)
                .env("FEAT_CILIUM", cilium),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let want: Vec<&str> = CLUSTER_APPLY
            .iter()
            .copied()
            .filter(|s| {
                verify == "true" || !s.contains("verify_config") && !s.contains("verify_platform")
            })
            .collect();
        assert_eq!(fx.names(), base(&want), "apply, FEAT_VERIFY={verify}");

        let out = fx.run(
            fx.cmd(&["run", "cluster", "--delete"])
                .env("FEAT_VERIFY", verify)
                .env("FEAT_CILIUM", cilium),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let record = fx.record();
        assert!(
            record.iter().all(|l| l.contains(" --delete ")),
            "{record:?}"
        );
        let want: Vec<&str> = CLUSTER_DELETE
            .iter()
            .copied()
            .filter(|s| cilium == "true" || !s.contains("cilium"))
            .collect();
        let names: Vec<String> = record
            .iter()
            .map(|l| l.split(' ').next().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(names, base(&want), "delete, FEAT_CILIUM={cilium}");
    }
    // The host pipeline has its own flows.
    let out = fx.run(&mut fx.cmd(&["run", "host"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(fx.names(), ["10_dynamic_dns.sh", "20_install_k3s.sh"]);
    let out = fx.run(&mut fx.cmd(&["run", "host", "--delete"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(fx.names(), ["20_install_k3s.sh", "10_dynamic_dns.sh"]);
}

#[test]
fn only_takes_numbers_and_basenames_and_falls_back_to_the_only_variable() {
    let fx = Fixture::new();
    for only in [
        "1,5",
        "15_verify_cluster_access,32_reconcile_flux_stack.sh",
        "5,15_verify_cluster_access.sh",
    ] {
        let out = fx.run(&mut fx.cmd(&["run", "cluster", "--only", only]));
        assert!(out.status.success(), "{only}: {}", text(&out.stderr));
        assert_eq!(
            fx.names(),
            ["15_verify_cluster_access.sh", "32_reconcile_flux_stack.sh"],
            "--only {only}: the flow's order, not the list's"
        );
    }
    let out = fx.run(fx.cmd(&["run", "cluster"]).env("ONLY", "install-flux,6"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        fx.names(),
        ["install-flux.sh", "91_verify_platform_state.sh"]
    );
    // --only wins over ONLY.
    let out = fx.run(fx.cmd(&["run", "cluster", "--only", "2"]).env("ONLY", "1"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(fx.names(), ["94_verify_config_inputs.sh"]);
}

#[test]
fn layers_apply_in_order_with_profile_exclusive_and_profile_highest() {
    let fx = Fixture::new();
    let layer = |fx: &Fixture, cmd: &mut Command| {
        let out = fx.run(cmd);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let record = fx.record();
        assert_eq!(record.len(), 1, "{record:?}");
        record[0]
            .split("LAYER=")
            .nth(1)
            .expect("layer")
            .split(' ')
            .next()
            .expect("value")
            .to_owned()
    };
    assert_eq!(
        layer(&fx, &mut fx.cmd(&["run", "cluster", "--only", "1"])),
        "secrets"
    );
    assert_eq!(
        layer(
            &fx,
            fx.cmd(&["run", "cluster", "--only", "1"])
                .env("PROFILE_EXCLUSIVE", "true")
        ),
        "config"
    );
    assert_eq!(
        layer(
            &fx,
            &mut fx.cmd(&["run", "cluster", "--only", "1", "--profile", "override.env"])
        ),
        "profile"
    );
    assert_eq!(
        layer(
            &fx,
            fx.cmd(&["run", "cluster", "--only", "1", "--profile", "override.env"])
                .env("PROFILE_EXCLUSIVE", "true")
        ),
        "profile"
    );
    // A file overrides the process environment, as `source` does.
    assert_eq!(
        layer(
            &fx,
            fx.cmd(&["run", "cluster", "--only", "1"])
                .env("LAYER", "process")
        ),
        "secrets"
    );
    // Host: config.env < homelab.env < host.env < the file on the command line.
    let out = fx.run(&mut fx.cmd(&["run", "host", "--only", "10_dynamic_dns"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(fx.record(), ["10_dynamic_dns.sh  LAYER=config HOST=host"]);
    let out = fx.run(&mut fx.cmd(&["run", "host", "--profile", "host-override.env"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        fx.record(),
        [
            "10_dynamic_dns.sh  LAYER=config HOST=cli",
            "20_install_k3s.sh  LAYER=config HOST=cli"
        ]
    );
    // The workdir is honoured.
    assert!(
        text(&out.stderr).contains("running 20_install_k3s.sh in host"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn dry_run_prints_the_resolved_plan_with_secrets_redacted_and_runs_nothing() {
    let fx = Fixture::new();
    let out = fx.run(
        fx.cmd(&["run", "cluster", "--dry-run", "--only", "1,2,3,4,5"])
            .env("FEAT_VERIFY", "false"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    insta::assert_snapshot!("cluster_dry_run", text(&out.stdout));
    assert!(fx.record().is_empty(), "nothing ran");
    assert!(
        !fx.path().join(".orchestrator").exists(),
        "no state created"
    );

    let out = fx.run(&mut fx.cmd(&["--output", "json", "run", "host", "--delete", "--dry-run"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(plan["mode"], "delete");
    assert_eq!(
        plan["steps"][0]["command"],
        "host/tasks/20_install_k3s.sh --delete"
    );
    let secret = fx.run(&mut fx.cmd(&["--output", "json", "run", "cluster", "--dry-run"]));
    let plan: serde_json::Value = serde_json::from_slice(&secret.stdout).expect("json");
    let vars = plan["variables"].as_array().expect("variables");
    let var = |name: &str| vars.iter().find(|v| v["name"] == name).expect(name).clone();
    assert_eq!(var("OAUTH2_PROXY_CLIENT_SECRET")["value"], "[redacted]");
    assert_eq!(
        var("CLICKSTACK_INGEST")["value"],
        "[redacted]",
        "from a secret layer"
    );
    assert_eq!(
        var("METRICS_KEY")["value"],
        "[redacted]",
        "a secret-looking name"
    );
    assert_eq!(var("CLUSTER_NAME")["value"], "home");
    assert_eq!(var("LAYER")["source"], "profiles/secrets.env:3");
    assert!(fx.record().is_empty(), "nothing ran");
}

#[test]
fn a_failing_step_stops_the_flow_and_resume_continues_from_it() {
    let fx = Fixture::new();
    write(&fx.path().join("fail-sync-runtime-inputs.sh"), "");
    let out = fx.run(&mut fx.cmd(&["run", "cluster"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        fx.names(),
        [
            "15_verify_cluster_access.sh",
            "94_verify_config_inputs.sh",
            "install-flux.sh",
            "sync-runtime-inputs.sh"
        ],
        "stopped at the failing step"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error: step 4 (sync-runtime-inputs.sh) failed: `scripts/bootstrap/sync-runtime-inputs.sh` exited with code 4; last 3 line(s) of output:"),
        "{stderr}"
    );
    assert!(stderr.contains("| cannot reach the cluster"), "{stderr}");
    assert!(
        stderr.contains("secret check: [redacted]"),
        "streamed, masked: {stderr}"
    );
    assert!(
        stderr.contains("continue with: orchestrator run cluster --resume"),
        "{stderr}"
    );
    assert!(
        text(&out.stdout).contains("FAILED"),
        "{}",
        text(&out.stdout)
    );

    std::fs::remove_file(fx.path().join("fail-sync-runtime-inputs.sh")).expect("rm");
    let out = fx.run(&mut fx.cmd(&["--output", "json", "run", "cluster", "--resume"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        fx.names(),
        [
            "sync-runtime-inputs.sh",
            "32_reconcile_flux_stack.sh",
            "91_verify_platform_state.sh"
        ],
        "resumed at the failed step"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["run_id"], 1, "the failed run was continued");
    assert_eq!(report["steps"][0]["status"], "already_done");
    assert_eq!(report["steps"][3]["status"], "succeeded");
    // A delete run does not resume an apply run.
    write(&fx.path().join("fail-15_verify_cluster_access.sh"), "");
    let out = fx.run(&mut fx.cmd(&["run", "cluster", "--delete"]));
    assert_eq!(out.status.code(), Some(1));
    let out = fx.run(&mut fx.cmd(&["run", "cluster", "--resume"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("was a delete run; resume it with --delete"),
        "{}",
        text(&out.stderr)
    );
}

/// A resume finishes the job that was started: a flow whose steps were removed, added or
/// reordered since the run began is refused (exit 2, nothing runs); a step's command or env may
/// change (that is how a failing step gets fixed).
#[test]
fn resume_refuses_a_flow_whose_steps_changed() {
    let fx = Fixture::new();
    write(&fx.path().join("fail-sync-runtime-inputs.sh"), "");
    let out = fx.run(&mut fx.cmd(&["run", "cluster"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    std::fs::remove_file(fx.path().join("fail-sync-runtime-inputs.sh")).expect("rm");
    fx.names();
    let config = fx.path().join("orchestrator.toml");
    let removed = CONFIG.replacen(
        "[[pipeline.cluster.apply]]\nrun = [\"scripts/32_reconcile_flux_stack.sh\"]\ntimeout = \"5m\"\n",
        "",
        1,
    );
    assert_ne!(removed, CONFIG, "the fixture has the step");
    write(&config, &removed);
    let out = fx.run(&mut fx.cmd(&["run", "cluster", "--resume"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("the apply flow of pipeline.cluster changed since run 1 began (removed 32_reconcile_flux_stack.sh)"),
        "{stderr}"
    );
    assert!(fx.names().is_empty(), "nothing ran");
    // A changed timeout is an edit, not a different flow: the run continues.
    write(
        &config,
        &CONFIG.replace("timeout = \"5m\"", "timeout = \"6m\""),
    );
    let out = fx.run(&mut fx.cmd(&["run", "cluster", "--resume"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        fx.names().first().map(String::as_str),
        Some("sync-runtime-inputs.sh")
    );
}

#[test]
fn an_apply_only_step_in_a_delete_run_fails_before_anything_runs() {
    let fx = Fixture::new();
    let config = CONFIG.replace(
        "run = [\"scripts/99_execute_teardown.sh\"]\nmodes = [\"delete\"]",
        "run = [\"scripts/99_execute_teardown.sh\"]\nmodes = [\"apply\"]",
    );
    write(&fx.path().join("apply-only.toml"), &config);
    let out = fx.run(&mut fx.cmd(&["--config", "apply-only.toml", "run", "cluster", "--delete"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr)
            .contains("step 4 (99_execute_teardown.sh) supports only apply; nothing was run"),
        "{}",
        text(&out.stderr)
    );
    assert!(fx.record().is_empty(), "nothing ran");
}

#[test]
fn bad_input_exits_2_naming_the_problem_and_nothing_runs() {
    let fx = Fixture::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &["run", "nope"],
            "unknown pipeline \"nope\" (configured: cluster, host)",
        ),
        (
            &["run", "cluster", "--only", "1,42"],
            "unknown --only item \"42\": the apply flow of \"cluster\" has steps 1 15_verify_cluster_access.sh",
        ),
        (
            &["run", "cluster", "--only", "ghost.sh"],
            "unknown --only item \"ghost.sh\"",
        ),
        (
            &["run", "cluster", "--profile", "missing.env"],
            "--profile missing.env: cannot read",
        ),
    ];
    for (args, want) in cases {
        let out = fx.run(&mut fx.cmd(args));
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(want),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let out = fx.run(fx.cmd(&["run", "cluster"]).env("ONLY", "zz"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unknown ONLY item \"zz\""),
        "{}",
        text(&out.stderr)
    );

    write(
        &fx.path().join("profiles/local.env"),
        "LAYER=local\nexport\nnot valid here\n",
    );
    let out = fx.run(&mut fx.cmd(&["run", "cluster"]));
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("profiles/local.env:3: expected NAME=value, found \"not valid here\""),
        "{stderr}"
    );
    write(&fx.path().join("profiles/local.env"), "LAYER=local\n");

    std::fs::remove_file(fx.path().join("scripts/32_reconcile_flux_stack.sh")).expect("rm");
    let out = fx.run(&mut fx.cmd(&["run", "cluster"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("step 5 (32_reconcile_flux_stack.sh): script scripts/32_reconcile_flux_stack.sh not found at"),
        "{}",
        text(&out.stderr)
    );
    // Excluded by --only, the missing script does not matter.
    let out = fx.run(&mut fx.cmd(&["run", "cluster", "--only", "1"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(fx.names(), ["15_verify_cluster_access.sh"]);

    std::fs::write(fx.path().join("bad.toml"), "[pipeline.x]\nenv_files = [{ file = \"a.env\", secrt = true }]\n[[pipeline.x.apply]]\nrun = [\"true\"]\n").expect("write");
    let out = fx.run(&mut fx.cmd(&["--config", "bad.toml", "run", "x"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("bad.toml:2"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("unknown field `secrt`"),
        "{}",
        text(&out.stderr)
    );
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_the_running_step_with_sigterm_and_resume_reruns_it() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let fx = Fixture::new();
    write(&fx.path().join("slow-install-flux.sh"), "");
    let mut child = fx
        .cmd(&["run", "cluster"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut seen = String::new();
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    for line in lines.by_ref() {
        let line = line.expect("line");
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("waiting for the cluster") {
            break;
        }
    }
    let started = std::time::Instant::now();
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    for line in lines {
        seen.push_str(&line.expect("line"));
        seen.push('\n');
    }
    let status = child.wait().expect("reaped");
    assert_eq!(status.code(), Some(1), "{seen}");
    assert!(
        seen.contains("error: step 3 (install-flux.sh) was interrupted"),
        "{seen}"
    );
    // The step would sleep 30 s: ending well before proves the stop, with room for a loaded
    // machine (the record below proves the step got SIGTERM).
    assert!(
        started.elapsed() < std::time::Duration::from_secs(25),
        "stopped before the step's 30 s sleep ended"
    );
    let record = fx.record();
    assert_eq!(
        record.last().map(String::as_str),
        Some("install-flux.sh got TERM"),
        "the step got SIGTERM: {record:?}"
    );
    let out = fx.run(&mut fx.cmd(&["--output", "json", "runs", "show", "1"]));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(shown["run"]["status"], "cancelled");
    let events: Vec<String> = shown["journal"]
        .as_array()
        .expect("journal")
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["entry"]["event"].as_str().unwrap_or(""),
                e["entry"]["step"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        events[events.len() - 2..],
        [
            "step_interrupted install-flux.sh".to_owned(),
            "run_finished ".to_owned()
        ]
    );

    std::fs::remove_file(fx.path().join("slow-install-flux.sh")).expect("rm");
    let out = fx.run(&mut fx.cmd(&["run", "cluster", "--resume"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        fx.names(),
        [
            "install-flux.sh",
            "sync-runtime-inputs.sh",
            "32_reconcile_flux_stack.sh",
            "91_verify_platform_state.sh"
        ],
        "the interrupted step runs again"
    );
}

#[test]
fn builtin_steps_set_a_yaml_key_and_copy_a_mode_template_with_a_diff_in_dry_run() {
    let fx = Fixture::new();
    let settings = fx
        .path()
        .join("clusters/home/flux-system/sources/configmap-platform-settings.yaml");
    write(
        &settings,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: platform-settings\ndata:\n  CERT_ISSUER: letsencrypt-staging  # platform issuer\n",
    );
    write(
        &fx.path().join("clusters/home/tenants.yaml"),
        "resources:\n  - ./tenants/overlays/app-test-le-staging\n",
    );
    write(
        &fx.path()
            .join("clusters/home/modes/app-test-prod-le-prod.yaml"),
        "resources:\n  - ./tenants/overlays/app-prod-le-prod\n",
    );
    write(
        &fx.path().join("modes.toml"),
        r#"
[pipeline.platform-certs-prod]
env_files = [{ file = "config.env" }]
[[pipeline.platform-certs-prod.apply]]
set = { file = "clusters/home/flux-system/sources/configmap-platform-settings.yaml", key = "CERT_ISSUER", value = "letsencrypt-${STAGE}" }
[[pipeline.platform-certs-prod.apply]]
copy = { from = "clusters/home/modes/app-test-prod-le-prod.yaml", to = "clusters/home/tenants.yaml" }
"#,
    );
    let before = std::fs::read_to_string(&settings).expect("read");
    let out = fx.run(
        fx.cmd(&[
            "--config",
            "modes.toml",
            "run",
            "platform-certs-prod",
            "--dry-run",
        ])
        .env("STAGE", "prod"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan = text(&out.stdout);
    assert!(
        plan.contains("1  set CERT_ISSUER=letsencrypt-prod in clusters/home/flux-system/sources/configmap-platform-settings.yaml\n         data:\n       -   CERT_ISSUER: letsencrypt-staging  # platform issuer\n       +   CERT_ISSUER: letsencrypt-prod  # platform issuer\n"),
        "{plan}"
    );
    assert!(
        plan.contains("       -   - ./tenants/overlays/app-test-le-staging\n       +   - ./tenants/overlays/app-prod-le-prod\n"),
        "{plan}"
    );
    assert_eq!(
        std::fs::read_to_string(&settings).expect("read"),
        before,
        "dry run changed nothing"
    );

    let out = fx.run(
        fx.cmd(&["--config", "modes.toml", "run", "platform-certs-prod"])
            .env("STAGE", "prod"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        std::fs::read_to_string(&settings)
            .expect("read")
            .contains("  CERT_ISSUER: letsencrypt-prod  # platform issuer\n")
    );
    assert_eq!(
        std::fs::read_to_string(fx.path().join("clusters/home/tenants.yaml")).expect("read"),
        "resources:\n  - ./tenants/overlays/app-prod-le-prod\n"
    );
    // Again: the checks see the effect in place; nothing is rewritten.
    let out = fx.run(
        fx.cmd(&[
            "--output",
            "json",
            "--config",
            "modes.toml",
            "run",
            "platform-certs-prod",
        ])
        .env("STAGE", "prod"),
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["steps"][0]["status"], "already_done");
    assert_eq!(report["steps"][1]["status"], "already_done");
}

/// Every line of both private keys of `issue_14_multi_line_secrets_never_leak...`.
const KEY_LINES: [&str; 4] = [
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
    "QyNTUxOQAAACBmaWxlLWtleS1saW5lLXR3by1tdXN0LW5vdC1sZWFrAAAAmHVzZXJAaG9z",
    "c3NoLXJzYQAAAAMBAAEAAAGBAL2Vudmlyb25tZW50LWtleS1saW5lLW9uZQAAAAAAAAAA",
    "ZW52aXJvbm1lbnQta2V5LWxpbmUtdHdvLW11c3Qtbm90LWxlYWstZWl0aGVyAAAAAAAA",
];

#[test]
fn issue_14_multi_line_secrets_never_leak_to_terminal_json_or_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(
        &root.join("orchestrator.toml"),
        r#"
[pipeline.keys]
env_files = [{ file = "secrets.env", secret = true }]
[[pipeline.keys.apply]]
run = ["scripts/show-keys.sh"]
"#,
    );
    // The file key is quoted over several lines, as `sh` reads it.
    write(
        &root.join("secrets.env"),
        &format!(
            "DEPLOY_KEY=\"-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n{}\n-----END OPENSSH PRIVATE KEY-----\"\n",
            KEY_LINES[0], KEY_LINES[1]
        ),
    );
    write(
        &root.join("scripts/show-keys.sh"),
        "#!/bin/sh\necho \"deploy key: $DEPLOY_KEY\"\necho \"$SSH_PRIVATE_KEY\" >&2\n\
         printf '%s\\n' \"$SSH_PRIVATE_KEY\" | tail -n 2\nexit 3\n",
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let path = root.join("scripts/show-keys.sh");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let env_key = format!(
        "-----BEGIN RSA PRIVATE KEY-----\n{}\n{}\n-----END RSA PRIVATE KEY-----",
        KEY_LINES[2], KEY_LINES[3]
    );
    for output in [None, Some("json")] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
        if let Some(format) = output {
            cmd.args(["--output", format]);
        }
        let out = cmd
            .current_dir(root)
            .args(["run", "keys"])
            .env("GITHUB_TOKEN", TOKEN)
            .env("SSH_PRIVATE_KEY", &env_key)
            .env_remove("ORCHESTRATOR_LOG")
            .output()
            .expect("the binary runs");
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(all.contains("exited with code 3"), "{all}");
        assert!(all.contains("deploy key: [redacted]"), "{all}");
        for line in KEY_LINES {
            assert!(!all.contains(line), "{output:?}: a key line leaked:\n{all}");
        }
    }
    let db = std::fs::read(root.join(".orchestrator/state.db")).expect("state db");
    for line in KEY_LINES {
        assert!(
            !db.windows(line.len()).any(|w| w == line.as_bytes()),
            "a key line is in the journal"
        );
    }
}

#[test]
fn issue_14_a_failing_steps_message_ends_with_its_real_last_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(
        &root.join("orchestrator.toml"),
        // awk, not sh: a step's arguments are expanded, and `$((...))` is refused.
        r#"
[pipeline.loud]
[[pipeline.loud.apply]]
run = ["awk", "BEGIN { for (i = 1; i <= 10000; i++) print \"out \" i; exit 5 }"]
"#,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .current_dir(root)
        .args(["run", "loud"])
        .env("GITHUB_TOKEN", TOKEN)
        .env_remove("ORCHESTRATOR_LOG")
        .output()
        .expect("the binary runs");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let message = stderr
        .rsplit_once("last 20 line(s) of output:")
        .map(|(_, tail)| tail)
        .unwrap_or_else(|| panic!("a tail in the message: {stderr}"));
    let tail: Vec<&str> = message
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("| "))
        .collect();
    let want: Vec<String> = (9981..=10000).map(|i| format!("out {i}")).collect();
    assert_eq!(tail, want, "{message}");
}
