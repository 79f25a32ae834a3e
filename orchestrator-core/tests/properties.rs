//! Property tests for every parser: no input panics, and what is written reads back the same.

use std::path::Path;

use orchestrator_core::config::{Config, parse_duration};
use orchestrator_core::graph::DependencyGraph;
use orchestrator_core::pipeline::envfile::parse_env_file;
use orchestrator_core::version::{ReleaseVersion, TagFormat};
use proptest::prelude::*;

fn no_lookup(_: &str) -> Option<String> {
    None
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn version_parsing_never_panics(input in ".{0,40}") {
        let _ = ReleaseVersion::parse(&input);
    }

    #[test]
    fn versions_round_trip_with_and_without_v(
        major in 0u64..10_000, minor in 0u64..10_000, patch in 0u64..10_000,
        pre in proptest::option::of("[a-z]{1,6}(\\.(0|[1-9][0-9]{0,2}))?"),
    ) {
        let text = match &pre {
            Some(p) => format!("{major}.{minor}.{patch}-{p}"),
            None => format!("{major}.{minor}.{patch}"),
        };
        let plain = ReleaseVersion::parse(&text).expect("valid semver");
        prop_assert_eq!(plain.to_string(), text.clone());
        prop_assert_eq!(ReleaseVersion::parse(&format!("v{text}")).expect("with v"), plain.clone());
        let tag = TagFormat::default().render(&plain);
        prop_assert_eq!(TagFormat::default().parse_tag(&tag), Some(plain));
    }

    #[test]
    fn tag_formats_round_trip(prefix in "[a-z]{0,8}-?v?", suffix in "(-[a-z]{1,5})?", major in 0u64..100) {
        let format = format!("{prefix}{{version}}{suffix}");
        if let Ok(tags) = TagFormat::parse(&format) {
            let v = ReleaseVersion::parse(&format!("{major}.1.2")).expect("valid");
            prop_assert_eq!(tags.parse_tag(&tags.render(&v)), Some(v));
        }
    }

    #[test]
    fn duration_parsing_never_panics(input in ".{0,20}") {
        let _ = parse_duration(&input);
    }

    #[test]
    fn durations_read_back(h in 0u64..48, m in 0u64..60, s in 0u64..60, ms in 0u64..1000) {
        let text = format!("{h}h{m}m{s}s{ms}ms");
        let d = parse_duration(&text).expect("valid");
        prop_assert_eq!(d.as_millis() as u64, ((h * 60 + m) * 60 + s) * 1000 + ms);
    }

    #[test]
    fn config_parsing_never_panics(input in "(\\[|\\]|=|\"|[a-z_.{}]|\n| |[0-9]){0,200}") {
        let _ = Config::parse(&input, Path::new("/p/orchestrator.toml"));
    }

    #[test]
    fn config_parsing_never_panics_on_near_valid_files(
        key in "(name|path|github|depends_on|assets|tag|poll_interval|owner)",
        value in "(\"[a-z/{}.*-]{0,12}\"|[0-9-]{1,4}|\\[\"[a-z]{0,3}\"\\])",
    ) {
        let text = format!("[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\n{key} = {value}\n");
        let _ = Config::parse(&text, Path::new("/p/orchestrator.toml"));
    }

    #[test]
    fn env_file_parsing_never_panics(input in "(export |[A-Z_]{1,4}|=|'|\"|\\$|\\{|\\}|\\\\|#| |\n|[a-z0-9]){0,80}") {
        let _ = parse_env_file(&input, Path::new("config.env"), &no_lookup);
    }

    #[test]
    fn quoted_env_values_read_back(name in "[A-Z][A-Z0-9_]{0,8}", value in "[a-zA-Z0-9 ._/:-]{0,20}") {
        for line in [format!("{name}='{value}'"), format!("export {name}=\"{value}\"")] {
            let parsed = parse_env_file(&line, Path::new("config.env"), &no_lookup).expect("valid line");
            prop_assert_eq!(parsed.len(), 1);
            prop_assert_eq!(&parsed[0].name, &name);
            prop_assert_eq!(&parsed[0].value, &value);
        }
    }

    #[test]
    fn waves_respect_every_dependency(edges in proptest::collection::vec((1usize..40, 0usize..40), 0..120)) {
        // Only edges to lower indices: acyclic by construction.
        let nodes: Vec<(String, Vec<String>)> = (0..40)
            .map(|i| (format!("n{i}"), edges.iter().filter(|(a, b)| *a == i && b < a).map(|(_, b)| format!("n{b}")).collect()))
            .collect();
        let graph = DependencyGraph::new(nodes.clone()).expect("acyclic");
        let waves = graph.waves(None);
        let wave_of = |n: &str| waves.iter().position(|w| w.iter().any(|x| x == n)).expect("placed");
        for (node, deps) in &nodes {
            for dep in deps {
                prop_assert!(wave_of(dep) < wave_of(node), "{dep} must come before {node}");
            }
        }
        prop_assert_eq!(waves.iter().map(Vec::len).sum::<usize>(), 40);
    }
}
