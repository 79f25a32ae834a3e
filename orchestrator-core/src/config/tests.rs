//! The composed document: a whole file loads into every section, unknown keys are refused with
//! the list of what is allowed, and every message a user can get is pinned.

use std::path::Path;
use std::time::Duration;

use super::testing::{error_of, parse};
use crate::version::ReleaseVersion;

const GOOD: &str = r#"
[forge]
owner = "Truthdb"

[release]
tag = "v{version}"
poll_interval = "10s"
timeout = "45m"
stable_polls = 2
concurrency = 3

[[repo]]
name = "truthdb"
assets = ["truthdb-v{version}-x86_64-linux-gnu.tar.gz"]

[[repo]]
name = "installer-iso"
path = "clones/iso"
github = "Other/iso"
depends_on = ["truthdb"]
assets = ["truthdb-installer-v{version}.iso", "*.sha256"]
"#;

#[test]
fn loads_the_contract_keys() {
    let c = parse(GOOD).expect("valid");
    assert_eq!(c.file, Path::new("/work/orchestrator.toml"));
    assert_eq!(c.root, Path::new("/work"));
    assert_eq!(c.release.poll_interval, Duration::from_secs(10));
    assert_eq!(c.release.timeout, Duration::from_secs(2700));
    assert_eq!(c.release.stable_polls, 2);
    assert_eq!(c.release.concurrency, 3);
    assert_eq!(c.repos[0].github.to_string(), "Truthdb/truthdb");
    assert_eq!(c.repos[0].path, Path::new("/work/truthdb"));
    assert_eq!(c.repos[1].path, Path::new("/work/clones/iso"));
    assert_eq!(c.repos[1].github.to_string(), "Other/iso");
    assert_eq!(
        c.graph.waves(None),
        vec![vec!["truthdb"], vec!["installer-iso"]]
    );
    assert_eq!(c.repo("installer-iso").map(|r| r.assets.len()), Some(2));
    let v = ReleaseVersion::parse("1.2.3").expect("valid");
    let m = c.repos[1].assets[1].for_version(&v);
    assert!(m.matches("truthdb-installer-v1.2.3.iso.sha256"));
    assert!(!m.matches("truthdb-installer-v1.2.3.iso"));
    assert!(
        c.repos[1].assets[0]
            .for_version(&v)
            .matches("truthdb-installer-v1.2.3.iso")
    );
}

#[test]
fn unknown_keys_name_file_line_and_key() {
    assert_eq!(
        error_of("[release]\npoll_interval = \"1s\"\npoll_intervall = \"2s\"\n"),
        "/work/orchestrator.toml:3: `poll_intervall`: unknown field `poll_intervall`, expected one of `tag`, `poll_interval`, `timeout`, `stable_polls`, `concurrency`"
    );
    assert!(
        error_of("[relase]\n").starts_with("/work/orchestrator.toml:1: unknown field `relase`")
    );
}

/// Every message the loader can give, one bad file each, pinned byte for byte: a change
/// to where a section is parsed must not change what a user reads. Files with two problems
/// pin which one is reported first.
#[test]
fn every_config_error_message_is_pinned() {
    let owner = "[forge]\nowner = \"o\"\n";
    let repo = "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\n";
    let cases: Vec<String> = [
        // The TOML itself and its shape (serde).
        "[release\n",
        "foo = 1\n",
        "[relase]\n",
        "release = 3\n",
        "[release]\npoll_interval = \"1s\"\npoll_intervall = \"2s\"\n",
        "[release]\nstable_polls = \"two\"\n",
        "[release]\nconcurrency = 1.5\n",
        "forge = 1\n",
        "serve = 1\n",
        "scale = 1\n",
        "state = 1\n",
        "repo = [1]\n",
        "tasks = { n = [1] }\n",
        "[pipeline.c]\nenv_files = [1]\n",
        "[pipeline.c]\napply = [1]\n",
        "[[pipeline.c.apply]]\nset = 1\n",
        "[[pipeline.c.apply]]\ncopy = 1\n",
        "[forge]\nowner = 1\n",
        "[forge]\ntoken = \"x\"\n",
        "[forge.simulate]\nci_dealy = \"1s\"\n",
        "[forge]\nsimulate = true\n",
        "[serve]\nnightly = 3\n",
        "[serve]\ncron = \"x\"\n",
        "[serve]\nrate_limit_floor = -1\n",
        "repo = 1\n",
        "[[repo]]\npath = \"x\"\n",
        "[[repo]]\nname = \"a\"\nasset = []\n",
        "[[repo]]\nname = \"a\"\nassets = \"x\"\n",
        "[[repo]]\nname = \"a\"\nworkflow_inputs = { a = 1 }\n",
        "[[repo]]\nname = \"a\"\n[[repo]]\nname = \"b\"\nfoo = 1\n",
        "pipeline = 1\n",
        "[pipeline]\nx = 1\n",
        "[pipeline.c]\nenv_files = [{ fil = \"x\" }]\n",
        "[pipeline.c]\nenv_files = [{ file = \"x\", secret = \"yes\" }]\n",
        "[[pipeline.c.apply]]\nset = { file = \"a\", key = \"b\" }\n",
        "[[pipeline.c.apply]]\ncopy = { from = \"a\", to = \"b\", mode = 1 }\n",
        "[[pipeline.c.apply]]\nrun = \"a.sh\"\n",
        "tasks = 1\n",
        "[tasks]\nn = 1\n",
        "[[tasks.n]]\nname = \"a\"\n",
        "[[tasks.n]]\nname = \"a\"\nrun = [\"x\"]\nretries = 2\n",
        "publish = 1\n",
        "[publish]\nfoo = 1\n",
        "[publish]\nconcurrency = \"4\"\n",
        "[scale]\nfoo = 1\n",
        "[scale]\nallow_self_approval = \"no\"\n",
        "[state]\nfoo = 1\n",
        "[state]\nurl = 1\n",
        // [forge]
        "[forge]\nowner = \"o o\"\n",
        "[forge]\nowner = \"o/x\"\n",
        "[forge]\nowner = \"\"\n",
        "[forge]\napi_url = \"ftp://x\"\n",
        "[forge]\napi_url = \"http://\"\n",
        "[forge]\napi_url = \"http://h:99999\"\n",
        "[forge]\napi_url = \"https://u:s3cret@ho st/\"\n",
        "[forge.simulate]\nci_delay = \"0s\"\n",
        "[forge.simulate]\nasset_interval = \"soon\"\n",
        // [release]
        "[release]\ntag = \"release\"\n",
        "[release]\npoll_interval = \"10q\"\n",
        "[release]\npoll_interval = \"\"\n",
        "[release]\ntimeout = \"0s\"\n",
        "[release]\nconcurrency = 0\n",
        "[release]\nconcurrency = 10001\n",
        "[release]\nstable_polls = -1\n",
        // [[repo]]
        "[[repo]]\nname = \"\"\n",
        "[[repo]]\nname = \"a b\"\n",
        "[[repo]]\nname = \"a\"\n",
        "[[repo]]\nname = \"a\"\ngithub = \"nope\"\n",
        &format!("{repo}[[repo]]\nname = \"a\"\n"),
        &format!("{repo}path = \" \"\n"),
        &format!("{repo}[[repo]]\nname = \"b\"\npath = \"./x/../a\"\n"),
        &format!("{repo}[[repo]]\nname = \"b\"\npath = \"a\"\n"),
        &format!("{repo}assets = [\"dir/x\"]\n"),
        &format!("{repo}assets = [\" \"]\n"),
        &format!("{repo}assets = [\"a-{{ver}}.tgz\"]\n"),
        &format!("{repo}assets = [\"a\\\\b.tgz\"]\n"),
        &format!("{repo}assets = [\"a\\u0007.tgz\"]\n"),
        &format!("{repo}assets = [\"a-[.tgz\"]\n"),
        &format!("{repo}depends_on = [\"ghost\"]\n"),
        &format!("{repo}depends_on = [\"a\"]\n"),
        &format!(
            "{repo}depends_on = [\"b\"]\n[[repo]]\nname = \"b\"\ndepends_on = [\"c\"]\n[[repo]]\nname = \"c\"\ndepends_on = [\"a\"]\n"
        ),
        // The publish keys of a [[repo]].
        &format!("{repo}manifest = \"setup.py\"\n"),
        &format!("{repo}trigger = \"push\"\n"),
        &format!("{repo}group = \"\"\n"),
        &format!("{repo}workflow = \" \"\n"),
        &format!("{repo}branch = \"\"\n"),
        &format!("{repo}event_type = \"\"\n"),
        &format!("{repo}event_type = \"{}\"\n", "e".repeat(101)),
        &format!("{repo}registry = \"a b\"\n"),
        &format!("{repo}registry = \"npm\"\nmanifest = \"Cargo.toml\"\n"),
        &format!("{repo}registry = \"crates-io\"\nmanifest = \"package.json\"\n"),
        // [pipeline.NAME]
        "[pipeline.\"a b\"]\n[[pipeline.\"a b\".apply]]\nrun = [\"x\"]\n",
        "[pipeline.c]\nenv_files = [{ file = \" \" }]\n[[pipeline.c.apply]]\nrun = [\"x\"]\n",
        "[pipeline.c]\nenv_files = [{ file = \"a.env\", skip_if = \"1X\" }]\n",
        "[pipeline.c]\ntimeout = \"soon\"\n",
        "[pipeline.c]\ntimeout = \"0s\"\n",
        "[pipeline.c]\ngrace = \"0s\"\n",
        "[pipeline.c]\ntimeout = \"1s\"\n",
        "[pipeline.c]\n[[pipeline.c.delete]]\nname = \"only-a-name\"\n",
        "[[pipeline.c.apply]]\nrun = [\"a.sh\"]\norchestrator = [\"release\"]\n",
        "[[pipeline.c.apply]]\norchestrator = [\"rm\", \"-rf\"]\n",
        "[[pipeline.c.apply]]\norchestrator = []\n",
        "[[pipeline.c.apply]]\nrun = []\n",
        "[[pipeline.c.apply]]\nrun = [\" \"]\n",
        "[[pipeline.c.apply]]\nset = { file = \"a\", key = \"a b\", value = \"v\" }\n",
        "[[pipeline.c.apply]]\nrun = [\"a b\"]\n",
        "[[pipeline.c.apply]]\nrun = [\"a.sh\"]\nname = \"a b\"\n",
        "[[pipeline.c.apply]]\nrun = [\"a.sh\"]\n[[pipeline.c.apply]]\nrun = [\"x/a.sh\"]\n",
        "[[pipeline.c.apply]]\nrun = [\"a.sh\"]\nwhen = \"1X\"\n",
        "[[pipeline.c.apply]]\nrun = [\"a.sh\"]\nmodes = [\"undo\"]\n",
        "[[pipeline.c.apply]]\nrun = [\"a.sh\"]\nmodes = []\n",
        "[[pipeline.c.apply]]\nrun = [\"a.sh\"]\ntimeout = \"soon\"\n",
        "[[pipeline.c.apply]]\nrun = [\"a.sh\"]\nenv = { \"A B\" = \"x\" }\n",
        // [[tasks.LIST]]
        "[[tasks.\"a b\"]]\nname = \"a\"\nrun = [\"x\"]\n",
        "[[tasks.n]]\nname = \"a b\"\nrun = [\"x\"]\n",
        "[[tasks.n]]\nname = \"a\"\nrun = [\"x\"]\n[[tasks.n]]\nname = \"a\"\nrun = [\"y\"]\n",
        "[[tasks.n]]\nname = \"a\"\nrun = []\n",
        "[[tasks.n]]\nname = \"a\"\nrun = [\"x\"]\nenabled = \"A B\"\n",
        "[[tasks.n]]\nname = \"a\"\nrun = [\"x\"]\nenv = { \"1A\" = \"x\" }\n",
        "[[tasks.n]]\nname = \"a\"\nrun = [\"x\"]\ntimeout = \"0s\"\n",
        // [publish]
        "[publish]\numbrella_tag = \"x\"\n",
        "[publish]\numbrella_repo = \"x\"\n",
        "[publish]\nnightly_tag = \"nightly\"\n",
        "[publish]\nconcurrency = 0\n",
        "[publish]\ncoordination_commit = \"maybe\"\n",
        "[publish]\ndependency_range = \"loose\"\n",
        "[publish]\nbreaking_on_0x = \"patch\"\n",
        "[publish]\nnpm_registry = \"ftp://r\"\n",
        "[publish]\numbrella_version_from = \"ghost\"\n",
        // [scale]
        "[scale]\napprovers = [\"a b\"]\n",
        "[scale]\napprovers = []\n",
        "[scale]\nbot_logins = []\n",
        "[scale]\nbot_logins = [\"[bot]\"]\n",
        "[scale]\nmin_permission = \"read\"\n",
        "[scale]\napply_requirements = [\"green\"]\n",
        "[scale]\nemergency_rollback = []\n",
        "[scale]\nwait_for_rollout = false\nrollout_timeout = \"1m\"\n",
        "[scale]\nrollout_timeout = \"later\"\n",
        // [state]
        "[state]\nurl = \"mysql://x\"\n",
        "[state]\nurl = \"postgres://u:s3cret@h/db?sslmode=require\"\n",
        "[state]\nurl = \"postgres://u:s3cret@h/db?bogus=1\"\n",
        // Two problems: the first section in reading order is reported.
        "[release]\ntimeout = \"0s\"\n[forge]\nowner = \"o o\"\n",
        "[state]\nurl = \"mysql://x\"\n[scale]\napprovers = []\n",
        "[scale]\napprovers = []\n[publish]\nconcurrency = 0\n",
        "[publish]\numbrella_version_from = \"ghost\"\n[state]\nurl = \"mysql://x\"\n",
        "[[tasks.n]]\nname = \"a\"\nrun = []\n[[pipeline.c.apply]]\nrun = []\n",
        &format!("[[pipeline.c.apply]]\nrun = []\n{repo}trigger = \"push\"\n"),
        "[[repo]]\nname = \"a\"\n[release]\ntag = \"x\"\n",
        &format!("{owner}[[repo]]\nname = \"a\"\ndepends_on = [\"ghost\"]\n[[repo]]\nname = \"b b\"\n"),
    ]
    .iter()
    .map(|text| format!("{text}=> {}\n", error_of(text)))
    .collect();
    insta::assert_snapshot!(cases.join("\n"));
}
