//! Planner, graph, cascade and snippet tests over the seed-002 and seed-004 ecosystems.

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::vcs::CommitInfo;

/// Seed 002: 16 npm packages in three lock-step groups.
pub(crate) const SEED_002: &[(&str, &str, &str, &[&str])] = &[
    (
        "typescript-eda-domain",
        "@typescript-eda/domain",
        "typescript-eda",
        &[],
    ),
    (
        "typescript-eda-infrastructure",
        "@typescript-eda/infrastructure",
        "typescript-eda",
        &["typescript-eda-domain"],
    ),
    (
        "typescript-eda-application",
        "@typescript-eda/application",
        "typescript-eda",
        &["typescript-eda-domain", "typescript-eda-infrastructure"],
    ),
    (
        "typescript-eda",
        "typescript-eda",
        "typescript-eda",
        &[
            "typescript-eda-domain",
            "typescript-eda-infrastructure",
            "typescript-eda-application",
        ],
    ),
    (
        "web-buddy-core",
        "@web-buddy/core",
        "web-buddy",
        &["typescript-eda"],
    ),
    (
        "web-buddy-contract-declaration",
        "@web-buddy/contract-declaration",
        "web-buddy",
        &["typescript-eda"],
    ),
    (
        "web-buddy-nodejs-server",
        "@web-buddy/nodejs-server",
        "web-buddy",
        &["web-buddy-core"],
    ),
    (
        "web-buddy-browser-extension",
        "@web-buddy/browser-extension",
        "web-buddy",
        &["web-buddy-core"],
    ),
    (
        "web-buddy-google-buddy",
        "@web-buddy/google-buddy",
        "web-buddy",
        &["web-buddy-core"],
    ),
    (
        "google-buddy-client",
        "@google-buddy/client",
        "web-buddy",
        &["web-buddy-core"],
    ),
    (
        "web-buddy-framework",
        "@web-buddy/framework",
        "web-buddy",
        &[
            "web-buddy-core",
            "web-buddy-contract-declaration",
            "web-buddy-nodejs-server",
            "web-buddy-browser-extension",
            "web-buddy-google-buddy",
            "google-buddy-client",
        ],
    ),
    (
        "chatgpt-buddy-core",
        "@chatgpt-buddy/core",
        "chatgpt-buddy",
        &["web-buddy-framework", "typescript-eda"],
    ),
    (
        "chatgpt-buddy-server",
        "@chatgpt-buddy/server",
        "chatgpt-buddy",
        &["chatgpt-buddy-core"],
    ),
    (
        "chatgpt-buddy-extension",
        "@chatgpt-buddy/extension",
        "chatgpt-buddy",
        &["chatgpt-buddy-core"],
    ),
    (
        "chatgpt-buddy-client-ts",
        "@chatgpt-buddy/client-ts",
        "chatgpt-buddy",
        &["chatgpt-buddy-core"],
    ),
    (
        "chatgpt-buddy",
        "chatgpt-buddy",
        "chatgpt-buddy",
        &[
            "chatgpt-buddy-core",
            "chatgpt-buddy-server",
            "chatgpt-buddy-extension",
            "chatgpt-buddy-client-ts",
        ],
    ),
];

fn seed_002_toml() -> String {
    let mut s = String::from(
        "[forge]\nowner = \"rydnr\"\n\n[publish]\numbrella_repo = \"rydnr/chatgpt-buddy-orchestrator\"\n",
    );
    for (name, package, group, deps) in SEED_002 {
        let deps: Vec<String> = deps.iter().map(|d| format!("{d:?}")).collect();
        s.push_str(&format!(
            "\n[[repo]]\nname = \"{name}\"\ndepends_on = [{}]\nmanifest = \"package.json\"\npackages = [\"{package}\"]\ngroup = \"{group}\"\ntrigger = \"workflow\"\nworkflow_inputs = {{ release_type = \"coordinated\" }}\n",
            deps.join(", ")
        ));
    }
    s
}

const SEED_004: &str = r#"
[forge]
owner = "BTCDecoded"

[[repo]]
name = "consensus-proof"
manifest = "Cargo.toml"
event_type = "build_consensus"

[[repo]]
name = "protocol-engine"
depends_on = ["consensus-proof"]
manifest = "Cargo.toml"
event_type = "build_protocol"

[[repo]]
name = "reference-node"
depends_on = ["protocol-engine", "consensus-proof"]
manifest = "Cargo.toml"
event_type = "build_node"

[[repo]]
name = "developer-sdk"
manifest = "Cargo.toml"
event_type = "build_sdk"

[[repo]]
name = "governance-app"
depends_on = ["developer-sdk"]
manifest = "Cargo.toml"
event_type = "build_governance"
"#;

fn config(text: &str) -> crate::config::Config {
    crate::config::Config::parse(text, Path::new("/eco/orchestrator.toml")).expect("valid")
}

fn observed_002() -> BTreeMap<String, ObservedRepo> {
    SEED_002
        .iter()
        .map(|(name, package, group, _)| {
            (
                (*name).to_owned(),
                ObservedRepo {
                    manifest_name: Some((*package).to_owned()),
                    current: if *group == "chatgpt-buddy" {
                        "0.1.0"
                    } else {
                        "1.0.0"
                    }
                    .into(),
                    last_tag: None,
                    commits: Vec::new(),
                },
            )
        })
        .collect()
}

fn commit(summary: &str) -> CommitInfo {
    CommitInfo {
        id: "abcdef0123456789".into(),
        summary: summary.into(),
        body: String::new(),
    }
}

#[test]
fn seed_002_plan_has_six_waves_and_a_ten_package_chain() {
    let c = config(&seed_002_toml());
    let plan = plan_publish(
        &c,
        &PublishRequest::new(BumpRequest::Minor),
        &observed_002(),
    )
    .expect("plans");
    assert_eq!(plan.packages.len(), 16);
    assert_eq!(plan.longest_chain, 10, "the seed's 10-package chain");
    assert_eq!(plan.umbrella_tag.as_deref(), Some("ecosystem-v0.2.0"));
    insta::assert_json_snapshot!(plan);
}

#[test]
fn auto_bump_says_why_and_holds_back_unchanged_packages() {
    let c = config(SEED_004);
    let mut observed: BTreeMap<String, ObservedRepo> = [
        "consensus-proof",
        "protocol-engine",
        "reference-node",
        "developer-sdk",
        "governance-app",
    ]
    .iter()
    .map(|n| {
        (
            (*n).to_owned(),
            ObservedRepo {
                current: "0.3.0".into(),
                ..ObservedRepo::default()
            },
        )
    })
    .collect();
    observed.get_mut("consensus-proof").expect("known").commits =
        vec![commit("fix: reject malformed proofs")];
    observed.get_mut("developer-sdk").expect("known").commits = vec![commit("docs: readme")];
    let plan = plan_publish(&c, &PublishRequest::new(BumpRequest::Auto), &observed).expect("plans");
    let rows: Vec<(String, String, String)> = plan
        .packages
        .iter()
        .map(|p| (p.name.clone(), p.next.clone(), p.reason.clone()))
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                "consensus-proof".into(),
                "0.3.1".into(),
                "1 fix/perf commit(s), e.g. abcdef0 reject malformed proofs".into()
            ),
            (
                "protocol-engine".into(),
                "0.3.1".into(),
                "depends on consensus-proof, released in this set".into()
            ),
            (
                "reference-node".into(),
                "0.3.1".into(),
                "depends on protocol-engine, released in this set".into()
            ),
        ]
    );
    let skipped: Vec<&str> = plan.skipped.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(skipped, vec!["developer-sdk", "governance-app"]);
    assert_eq!(plan.waves.len(), 3);
}

#[test]
fn selection_expands_groups_and_dependents() {
    let c = config(&seed_002_toml());
    let obs = observed_002();
    let mut request = PublishRequest::new(BumpRequest::Patch);
    request.packages = vec!["@web-buddy/nodejs-server".into()];
    let plan = plan_publish(&c, &request, &obs).expect("plans");
    // Lock-step: the whole web-buddy group moves.
    assert_eq!(plan.packages.len(), 7);
    assert!(plan.packages.iter().all(|p| p.next == "1.0.1"));
    request.with_dependents = true;
    let plan = plan_publish(&c, &request, &obs).expect("plans");
    assert_eq!(plan.packages.len(), 12);
    assert_eq!(
        plan.package("chatgpt-buddy").map(|p| p.next.as_str()),
        Some("0.1.1")
    );
    request.packages = vec!["nope".into()];
    let err = plan_publish(&c, &request, &obs)
        .expect_err("unknown")
        .to_string();
    assert!(err.contains("unknown package \"nope\""), "{err}");
}

#[test]
fn prerelease_with_preid() {
    let c = config(SEED_004);
    let mut request = PublishRequest::new(BumpRequest::Prerelease);
    request.preid = Some("rc".into());
    request.packages = vec!["developer-sdk".into()];
    let plan = plan_publish(&c, &request, &BTreeMap::new()).expect("plans");
    assert_eq!(plan.packages[0].next, "0.0.1-rc.0");
    assert_eq!(plan.packages[0].tag, "v0.0.1-rc.0");
}

#[test]
fn graphs_render_groups_and_the_longest_chain() {
    let c = config(&seed_002_toml());
    let options = GraphOptions::default();
    insta::assert_snapshot!(
        "seed_002_mermaid",
        render_graph(&c, GraphFormat::Mermaid, &options).expect("renders")
    );
    insta::assert_snapshot!(
        "seed_002_text",
        render_graph(&c, GraphFormat::Text, &options).expect("renders")
    );
    let c4 = config(SEED_004);
    let mut options = GraphOptions::default();
    options
        .outcomes
        .insert("consensus-proof".into(), "released".into());
    options
        .outcomes
        .insert("protocol-engine".into(), "failed".into());
    options
        .outcomes
        .insert("reference-node".into(), "held_back".into());
    insta::assert_snapshot!(
        "seed_004_dot",
        render_graph(&c4, GraphFormat::Dot, &options).expect("renders")
    );
    let from = GraphOptions {
        from: Some("developer-sdk".into()),
        ..GraphOptions::default()
    };
    assert_eq!(
        render_graph(&c4, GraphFormat::Text, &from).expect("renders"),
        "wave 1: developer-sdk\nwave 2: governance-app\nlongest chain (2): developer-sdk -> governance-app\n"
    );
    assert!(
        render_graph(
            &c4,
            GraphFormat::Text,
            &GraphOptions {
                from: Some("x".into()),
                ..GraphOptions::default()
            }
        )
        .is_err()
    );
}

#[test]
fn cascade_from_consensus_proof_is_exactly_its_downstream() {
    let c = config(SEED_004);
    let event = r#"{"action":"build_consensus","client_payload":{"repo":"consensus-proof","ref":"refs/heads/main","sha":"0123456789abcdef0123456789abcdef01234567"}}"#;
    let trigger = parse_dispatch_event(&c, event).expect("valid");
    assert_eq!(trigger.repo.as_deref(), Some("consensus-proof"));
    assert_eq!(trigger.event_type.as_deref(), Some("build_consensus"));
    assert_eq!(
        cascade_waves(&c, trigger.repo.as_deref()).expect("known"),
        vec![
            vec!["consensus-proof"],
            vec!["protocol-engine"],
            vec!["reference-node"]
        ]
    );
    // By owner/name too.
    let by_github = r#"{"client_payload":{"repo":"BTCDecoded/governance-app"}}"#;
    assert_eq!(
        parse_dispatch_event(&c, by_github)
            .expect("valid")
            .repo
            .as_deref(),
        Some("governance-app")
    );
    // Seed 004's nightly sends build_all: every repo, both chains side by side.
    let all =
        parse_dispatch_event(&c, r#"{"action":"build_all","client_payload":{}}"#).expect("valid");
    assert_eq!(all.repo, None);
    assert_eq!(
        cascade_waves(&c, all.repo.as_deref()).expect("all"),
        vec![
            vec!["consensus-proof", "developer-sdk"],
            vec!["protocol-engine", "governance-app"],
            vec!["reference-node"]
        ]
    );
    for (bad, want) in [
        ("not json", "not JSON"),
        (r#"{"action":"x"}"#, "no client_payload"),
        (r#"{"client_payload":{}}"#, "client_payload.repo is missing"),
        (
            r#"{"client_payload":{"repo":"bllvm-ghost"}}"#,
            "\"bllvm-ghost\" is not a configured repo",
        ),
        (
            r#"{"client_payload":{"repo":"developer-sdk","sha":"zz"}}"#,
            "is not a commit id",
        ),
    ] {
        let e = parse_dispatch_event(&c, bad).expect_err(bad);
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains(want), "{e}");
    }
}

#[test]
fn ci_snippet_never_uses_always() {
    let c = config(SEED_004);
    let text = ci_snippet(
        &c,
        "consensus-proof",
        &"BTCDecoded/bllvm".parse().expect("valid"),
        &["test".into(), "clippy".into()],
    )
    .expect("known");
    assert!(!text.contains("always()"));
    insta::assert_snapshot!(text);
    assert!(ci_snippet(&c, "ghost", &"a/b".parse().expect("valid"), &[]).is_err());
}

#[test]
fn the_work_tree_of_a_file_is_found_through_dot_dot_and_links() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outer = dir.path().join("outer");
    let repo = outer.join("repo");
    std::fs::create_dir_all(repo.join(".git")).expect("a work tree");
    std::fs::create_dir_all(repo.join("ops")).expect("dir");
    let (root, relative) =
        crate::publish::config::work_tree_of(&repo.join("ops/../ops/versions.toml"))
            .expect("inside");
    assert_eq!(root, repo.canonicalize().expect("canonical"));
    assert_eq!(relative, "ops/versions.toml");
    // `repo/../versions.toml` is beside the work tree, not in it (the temp dir may itself lie
    // in some other work tree; it is never `repo`).
    let canonical = repo.canonicalize().expect("canonical");
    assert!(
        crate::publish::config::work_tree_of(&repo.join("../versions.toml"))
            .is_none_or(|(root, _)| root != canonical)
    );
    assert_eq!(
        crate::publish::config::work_tree_of(&outer.join("missing/versions.toml")),
        None
    );
}

#[test]
fn publish_config_errors_name_file_line_and_key() {
    let cases = [
        (
            "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\nmanifest = \"setup.py\"\n",
            ":5: `repo[0].manifest`: unsupported manifest",
        ),
        (
            "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\ntrigger = \"cron\"\n",
            ":5: `repo[0].trigger`: unknown trigger \"cron\"",
        ),
        (
            "[publish]\numbrella_tag = \"eco\"\n",
            ":2: `publish.umbrella_tag`: tag format \"eco\" must contain {version}",
        ),
        (
            "[publish]\nnightly_tag = \"nightly\"\n",
            ":2: `publish.nightly_tag`: nightly tag format",
        ),
        (
            "[publish]\numbrella_repo = \"x\"\n",
            ":2: `publish.umbrella_repo`: invalid repository",
        ),
        (
            "[publish]\nconcurency = 2\n",
            ":2: `concurency`: unknown field",
        ),
        (
            "[publish]\ncoordination_commit = \"yes\"\n",
            ":2: `publish.coordination_commit`: \"yes\" is not one of \"off\", \"commit\", \"push\"",
        ),
    ];
    for (text, want) in cases {
        let e = crate::config::Config::parse(text, Path::new("/eco/orchestrator.toml"))
            .expect_err(text)
            .to_string();
        assert!(
            e.starts_with(&format!("/eco/orchestrator.toml{want}")),
            "{text:?}\n got: {e}\nwant: {want}"
        );
    }
    let c = config(SEED_004);
    assert_eq!(c.publish.coordination, Path::new("/eco/versions.toml"));
    assert_eq!(
        c.repos[0].publish.manifest.as_deref(),
        Some(Path::new("/eco/consensus-proof/Cargo.toml"))
    );
}

/// A recorded plan edited in the state database (`sqlite3`) must be refused with an error that
/// names the package and field, never panic `publish --resume`.
#[tokio::test]
async fn a_tampered_recorded_plan_is_refused_naming_the_field_not_a_panic() {
    use crate::state::{MemoryStateStore, StateStore};
    let c = config(&seed_002_toml());
    let plan = plan_publish(
        &c,
        &PublishRequest::new(BumpRequest::Minor),
        &observed_002(),
    )
    .expect("plans");
    plan.validate().expect("a fresh plan is valid");
    assert!(plan.released_versions().is_ok());
    let tampered = |edit: &dyn Fn(&mut PublishPlan)| {
        let mut p = plan.clone();
        edit(&mut p);
        p
    };
    let cases: Vec<(PublishPlan, &str)> = vec![
        (
            tampered(&|p| p.packages[0].next = "1.x".into()),
            "package \"typescript-eda-domain\": `next` \"1.x\"",
        ),
        (
            tampered(&|p| p.packages[1].current = String::new()),
            "`current` \"\"",
        ),
        (
            tampered(&|p| p.packages[2].depends_on.push("ghost".into())),
            "`depends_on` names \"ghost\", which is not planned",
        ),
        (
            tampered(&|p| p.waves.push(vec!["ghost".into()])),
            "package \"ghost\": in `waves` but not planned",
        ),
        (
            tampered(&|p| {
                let first = p.packages[0].clone();
                p.packages.push(first);
            }),
            "a package is listed twice",
        ),
        (tampered(&|p| p.concurrency = 0), "`concurrency` is 0"),
    ];
    for (bad, expected) in cases {
        let e = bad.validate().expect_err(expected).to_string();
        assert!(e.contains(expected), "{e}\nwant: {expected}");
        let store = MemoryStateStore::default();
        let run = store
            .begin_run(
                RUN_KIND,
                "k",
                &serde_json::json!({ "plan": serde_json::to_value(&bad).expect("json") }),
            )
            .await
            .expect("run");
        let e = resumable_plan(&store, RUN_KIND)
            .await
            .expect_err(expected)
            .to_string();
        assert!(
            e.contains(&format!("run {run}: recorded publish plan")),
            "{e}"
        );
    }
    let bad = tampered(&|p| p.packages[3].next = "v2".into());
    let e = bad.released_versions().expect_err("not semver").to_string();
    assert!(e.contains("next version \"v2\""), "{e}");
}

/// A run records its released dependencies at their new versions and keeps what the manifest
/// already says about the others (after a cascade, `quill-render`'s requirement on an
/// unreleased `quill-core` stayed, rather than going to `[]`).
#[test]
fn coordination_requirements_keep_unreleased_dependencies() {
    use super::coordination::read_coordination;
    use super::steps::merged_requires;
    let existing = read_coordination(
        "quill-core = { version = \"0.4.3\", git_tag = \"v0.4.3\", git_commit = \"a\", requires = [] }\n\
         quill-text = { version = \"0.2.0\", git_tag = \"v0.2.0\", git_commit = \"b\", requires = [] }\n\
         quill-render = { version = \"0.5.0\", git_tag = \"v0.5.0\", git_commit = \"c\", requires = [\"quill-core=0.4.2\"] }\n",
    )
    .expect("valid");
    let requires = vec![
        ("quill-core".to_owned(), None),
        ("quill-text".to_owned(), None),
        ("quill-style".to_owned(), Some("1.1.0".to_owned())),
        ("never-recorded".to_owned(), None),
    ];
    assert_eq!(
        merged_requires(&existing, "quill-render", &requires),
        vec!["quill-core=0.4.2", "quill-text=0.2.0", "quill-style=1.1.0"]
    );
}

/// A breaking change on 0.x bumps the minor by default (Cargo's and release-plz's rule) and the
/// major with `breaking_on_0x = "major"`; on 1.x it is always the major.
#[test]
fn breaking_on_0x_bumps_the_minor_unless_configured() {
    let observed = |current: &str| -> BTreeMap<String, ObservedRepo> {
        ["consensus-proof", "developer-sdk"]
            .iter()
            .map(|n| {
                (
                    (*n).to_owned(),
                    ObservedRepo {
                        current: current.into(),
                        commits: vec![commit("feat!: drop v1 proofs")],
                        ..ObservedRepo::default()
                    },
                )
            })
            .collect()
    };
    let next = |c: &crate::config::Config, current: &str| {
        let mut request = PublishRequest::new(BumpRequest::Auto);
        request.packages = vec!["consensus-proof".into()];
        let plan = plan_publish(c, &request, &observed(current)).expect("plans");
        let p = plan.package("consensus-proof").expect("planned");
        (p.next.clone(), p.reason.clone())
    };
    let default = config(SEED_004);
    assert_eq!(
        next(&default, "0.4.2"),
        (
            "0.5.0".to_owned(),
            "1 breaking change(s), e.g. abcdef0 drop v1 proofs (0.x: breaking bumps the minor)"
                .to_owned()
        )
    );
    assert_eq!(next(&default, "1.4.2").0, "2.0.0");
    let major = config(&format!(
        "[publish]\nbreaking_on_0x = \"major\"\n{SEED_004}"
    ));
    assert_eq!(next(&major, "0.4.2").0, "1.0.0");
    let err = crate::config::Config::parse(
        &format!("[publish]\nbreaking_on_0x = \"patch\"\n{SEED_004}"),
        Path::new("/eco/orchestrator.toml"),
    )
    .expect_err("invalid")
    .to_string();
    assert!(err.contains("publish.breaking_on_0x"), "{err}");
    let exact = config(&format!(
        "[publish]\ndependency_range = \"exact\"\n{SEED_004}"
    ));
    assert_eq!(exact.publish.dependency_range, DependencyRange::Exact);
    assert_eq!(default.publish.dependency_range, DependencyRange::KeepStyle);
    let err = crate::config::Config::parse(
        &format!("[publish]\ndependency_range = \"loose\"\n{SEED_004}"),
        Path::new("/eco/orchestrator.toml"),
    )
    .expect_err("invalid")
    .to_string();
    assert!(
        err.contains("publish.dependency_range") && err.contains("\"loose\""),
        "{err}"
    );
}

/// `[[repo]] registry` and `[publish] npm_registry`: valid values parse, a bad name, a registry
/// of the other ecosystem and a non-URL are refused naming the key and the value.
#[test]
fn registry_keys_parse_and_refuse_bad_values() {
    let repo = |registry: &str, manifest: &str| {
        format!(
            "[forge]\nowner = \"acme\"\n\n[[repo]]\nname = \"a\"\nmanifest = \"{manifest}\"\nregistry = \"{registry}\"\n"
        )
    };
    let c = config(&repo("crates-io", "Cargo.toml"));
    assert_eq!(
        c.repos[0].publish.registry,
        Some(super::registry::Registry::CratesIo)
    );
    let c = config(&format!(
        "[publish]\nnpm_registry = \"http://127.0.0.1:4873/\"\n{}",
        repo("npm", "package.json")
    ));
    assert_eq!(
        c.publish.npm_registry.as_deref(),
        Some("http://127.0.0.1:4873/")
    );
    assert_eq!(
        config(&repo("my-corp", "Cargo.toml")).repos[0]
            .publish
            .registry,
        Some(super::registry::Registry::Cargo("my-corp".into()))
    );
    let refused = |text: &str, want: &[&str]| {
        let e = crate::config::Config::parse(text, Path::new("/eco/orchestrator.toml"))
            .expect_err(text)
            .to_string();
        for w in want {
            assert!(e.contains(w), "{text:?}\n got: {e}\nwant: {w}");
        }
    };
    refused(
        &repo("my corp", "Cargo.toml"),
        &["repo[0].registry", "\"my corp\""],
    );
    refused(
        &repo("npm", "Cargo.toml"),
        &["repo[0].registry", "\"npm\"", "Cargo.toml"],
    );
    refused(
        &repo("crates-io", "package.json"),
        &["repo[0].registry", "package.json"],
    );
    refused(
        "[publish]\nnpm_registry = \"127.0.0.1:4873\"\n",
        &["publish.npm_registry", "127.0.0.1:4873"],
    );
}

/// `graph --run ID` after a resume: a step that failed and then succeeded in the resumed run is
/// done, so its repo is `released`, not `failed`; a step failing last still fails its repo.
#[test]
fn journal_outcomes_follow_each_steps_last_entry() {
    use crate::state::{JournalEntry, JournalRecord};
    let c = config(SEED_004);
    let mut seq = 0;
    let mut record = |entry: JournalEntry| {
        seq += 1;
        JournalRecord {
            seq,
            at_ms: 0,
            entry,
        }
    };
    let started = |s: &str| JournalEntry::StepStarted { step: s.into() };
    let ok = |s: &str| JournalEntry::StepSucceeded {
        step: s.into(),
        summary: String::new(),
        data: serde_json::Value::Null,
    };
    let failed = |s: &str| JournalEntry::StepFailed {
        step: s.into(),
        error: "boom".into(),
    };
    let mut journal = vec![
        record(started("wait:consensus-proof")),
        record(failed("wait:consensus-proof")),
        record(started("bump:governance-app")),
        record(ok("bump:governance-app")),
        record(started("tag:governance-app")),
        record(failed("bump:protocol-engine")),
    ];
    // The resume: consensus-proof's wait and notes now succeed; protocol-engine fails again.
    for step in ["wait:consensus-proof", "notes:consensus-proof"] {
        journal.push(record(started(step)));
        journal.push(record(ok(step)));
    }
    journal.push(record(ok("bump:protocol-engine")));
    journal.push(record(failed("tag:protocol-engine")));
    let outcomes = super::journal_outcomes(&c, &journal);
    assert_eq!(outcomes["consensus-proof"], "released", "{outcomes:?}");
    assert_eq!(outcomes["protocol-engine"], "failed", "{outcomes:?}");
    assert_eq!(outcomes["governance-app"], "interrupted", "{outcomes:?}");
    assert_eq!(outcomes["developer-sdk"], "held_back", "{outcomes:?}");
    assert_eq!(outcomes["reference-node"], "held_back", "{outcomes:?}");
}

/// A partial publish (here: `umbrella_version_from` unchanged, so not released) names the
/// umbrella after the greatest version it releases, not after whichever package comes last in
/// dependency order; with the named repo in the run, after that repo's version.
#[test]
fn umbrella_is_named_after_the_runs_own_version() {
    let observed: BTreeMap<String, ObservedRepo> = [
        ("consensus-proof", "2.4.0"),
        ("protocol-engine", "0.9.0"),
        ("reference-node", "1.0.0"),
        ("developer-sdk", "0.3.0"),
        ("governance-app", "0.1.0"),
    ]
    .iter()
    .map(|(n, v)| {
        (
            (*n).to_owned(),
            ObservedRepo {
                current: (*v).into(),
                ..ObservedRepo::default()
            },
        )
    })
    .collect();
    let c = config(&format!(
        "[publish]\numbrella_version_from = \"reference-node\"\n{SEED_004}"
    ));
    let mut partial = PublishRequest::new(BumpRequest::Patch);
    partial.packages = vec!["developer-sdk".into(), "consensus-proof".into()];
    partial.with_dependents = false;
    let plan = plan_publish(&c, &partial, &observed).expect("plans");
    let names: Vec<&str> = plan.packages.iter().map(|p| p.name.as_str()).collect();
    assert!(
        names.contains(&"developer-sdk") && !names.contains(&"reference-node"),
        "{names:?}"
    );
    assert_eq!(
        plan.umbrella_tag.as_deref(),
        Some("ecosystem-v2.4.1"),
        "{names:?}"
    );
    let whole =
        plan_publish(&c, &PublishRequest::new(BumpRequest::Patch), &observed).expect("plans");
    assert_eq!(whole.umbrella_tag.as_deref(), Some("ecosystem-v1.0.1"));
}
