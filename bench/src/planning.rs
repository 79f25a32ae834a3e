//! Planning at scale: a generated 10,000-package DAG with about 30,000 edges: load the config,
//! validate it, plan waves, compute a cascade closure. Target: under 100 ms and 100 MB. The floor
//! is a bare `toml` parse of the same file into a table (no types, no validation): load +
//! validate cannot be faster than that, and the ratio says how much our own work adds.

use std::fmt::Write;
use std::path::Path;
use std::time::Instant;

use orchestrator_core::config::Config;

use crate::{Figure, Options};

/// A config with `n` repos; repo i depends on up to three earlier repos, chosen by a fixed
/// pseudo-random sequence (about 3n edges, acyclic by construction).
pub(crate) fn generated_config(n: usize) -> String {
    let mut text = String::with_capacity(n * 120);
    text.push_str("[forge]\nowner = \"bench\"\n\n");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..n {
        let _ = write!(text, "[[repo]]\nname = \"pkg-{i}\"\ndepends_on = [");
        let mut deps = Vec::new();
        if i > 0 {
            for _ in 0..3 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let d = (x % i as u64) as usize;
                if !deps.contains(&d) {
                    deps.push(d);
                }
            }
        }
        let list: Vec<String> = deps.iter().map(|d| format!("\"pkg-{d}\"")).collect();
        let _ = writeln!(
            text,
            "{}]\nassets = [\"pkg-{i}-v{{version}}.tgz\"]\n",
            list.join(", ")
        );
    }
    text
}

pub(crate) fn run(options: Options) -> anyhow::Result<Vec<Figure>> {
    let n = if options.quick { 1_000 } else { 10_000 };
    let text = generated_config(n);
    let floor_started = Instant::now();
    let table: toml::Table = toml::from_str(&text)?;
    let floor = floor_started.elapsed();
    drop(table);
    let started = Instant::now();
    let config = Config::parse(&text, Path::new("/bench/orchestrator.toml"))?;
    let loaded = started.elapsed();
    let waves = config.graph.waves(None);
    let planned = started.elapsed();
    let closure = config.graph.dependents_closure(["pkg-0"]);
    let total = started.elapsed();
    let edges: usize = config.repos.iter().map(|r| r.depends_on.len()).sum();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let peak = crate::peak_rss_mib().unwrap_or(f64::NAN);
    Ok(vec![
        Figure::new(
            "planning",
            format!("{n} packages, {edges} edges: load + validate"),
            ms(loaded),
            "ms",
        ),
        Figure::new(
            "planning",
            "floor: bare toml parse of the same file",
            ms(floor),
            "ms",
        ),
        Figure::new(
            "planning",
            "load + validate / floor",
            ms(loaded) / ms(floor).max(f64::MIN_POSITIVE),
            "x",
        ),
        Figure::new(
            "planning",
            format!("plan {} waves", waves.len()),
            ms(planned - loaded),
            "ms",
        ),
        Figure::new(
            "planning",
            format!("cascade closure from pkg-0 ({} packages)", closure.len()),
            ms(total - planned),
            "ms",
        ),
        Figure::new("planning", "total", ms(total), "ms").target("< 100 ms", ms(total) < 100.0),
        Figure::new(
            "planning",
            "peak resident memory of the process",
            peak,
            "MiB",
        )
        .target("< 100 MiB", peak < 100.0),
    ])
}
