//! The dependency graph as a picture: Mermaid, Graphviz DOT or plain text. Groups are
//! subgraphs, the longest chain is highlighted, and nodes can be coloured by a run's outcome.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, Result};

/// Output format of [`render_graph`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GraphFormat {
    /// A Mermaid `graph TD` (renders on GitHub).
    Mermaid,
    /// Graphviz DOT.
    Dot,
    /// Waves, groups and the longest chain as lines of text.
    Text,
}

impl GraphFormat {
    /// Parses `mermaid`, `dot` or `text`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "mermaid" => Ok(Self::Mermaid),
            "dot" => Ok(Self::Dot),
            "text" => Ok(Self::Text),
            other => Err(Error::invalid_input(format!(
                "unknown graph format {other:?}: expected mermaid, dot or text"
            ))),
        }
    }
}

/// What to draw.
#[derive(Debug, Clone, Default)]
pub struct GraphOptions {
    /// Only this repo and what depends on it.
    pub from: Option<String>,
    /// Outcome per repo (`released`, `failed`, `held_back`...), to colour nodes.
    pub outcomes: BTreeMap<String, String>,
}

/// One longest dependency chain (by node count) within `nodes`, dependencies first.
pub fn longest_chain(config: &Config, nodes: &BTreeSet<String>) -> Vec<String> {
    let mut best: BTreeMap<&str, (usize, Option<&str>)> = BTreeMap::new();
    for n in config.graph.topological_order() {
        if !nodes.contains(n) {
            continue;
        }
        let (len, prev) = config
            .graph
            .dependencies(n)
            .into_iter()
            .filter_map(|d| best.get(d).map(|(l, _)| (*l, d)))
            .max_by_key(|(l, _)| *l)
            .map_or((1, None), |(l, d)| (l + 1, Some(d)));
        best.insert(n, (len, prev));
    }
    // The first node (in declaration order) that ends a longest chain.
    let mut end = None;
    let mut top = 0;
    for n in config.graph.names() {
        if let Some((l, _)) = best.get(n.as_str())
            && *l > top
        {
            top = *l;
            end = Some(n.as_str());
        }
    }
    let mut chain = Vec::new();
    while let Some(n) = end {
        chain.push(n.to_owned());
        end = best.get(n).and_then(|(_, p)| *p);
    }
    chain.reverse();
    chain
}

/// Renders the dependency graph.
pub fn render_graph(
    config: &Config,
    format: GraphFormat,
    options: &GraphOptions,
) -> Result<String> {
    let nodes: BTreeSet<String> = match &options.from {
        Some(from) => {
            if !config.graph.contains(from) {
                return Err(Error::invalid_input(format!(
                    "unknown repo {from:?} in --from (configured: {})",
                    config.graph.names().join(", ")
                )));
            }
            config.graph.dependents_closure([from.as_str()])
        }
        None => config.graph.names().iter().cloned().collect(),
    };
    let order: Vec<&str> = config
        .graph
        .names()
        .iter()
        .map(String::as_str)
        .filter(|n| nodes.contains(*n))
        .collect();
    let chain = longest_chain(config, &nodes);
    let on_chain = |a: &str, b: &str| chain.windows(2).any(|w| w[0] == a && w[1] == b);
    let edges: Vec<(&str, &str)> = order
        .iter()
        .flat_map(|n| {
            config
                .graph
                .dependencies(n)
                .into_iter()
                .filter(|d| nodes.contains(*d))
                .map(move |d| (d, *n))
        })
        .collect();
    let mut groups: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut ungrouped = Vec::new();
    for n in &order {
        match config.repo(n).and_then(|r| r.publish.group.clone()) {
            Some(g) => groups.entry(g).or_default().push(n),
            None => ungrouped.push(*n),
        }
    }
    let id = |n: &str| format!("n{}", order.iter().position(|m| *m == n).unwrap_or(0));
    let mut out = String::new();
    match format {
        GraphFormat::Mermaid => {
            out.push_str("graph TD\n");
            for (g, members) in &groups {
                let _ = writeln!(
                    out,
                    "  subgraph {}[\"{g}\"]",
                    g.replace(['-', '.', '/', '@'], "_")
                );
                for m in members {
                    let _ = writeln!(out, "    {}[\"{m}\"]", id(m));
                }
                out.push_str("  end\n");
            }
            for n in &ungrouped {
                let _ = writeln!(out, "  {}[\"{n}\"]", id(n));
            }
            let mut critical_links = Vec::new();
            for (i, (a, b)) in edges.iter().enumerate() {
                let _ = writeln!(out, "  {} --> {}", id(a), id(b));
                if on_chain(a, b) {
                    critical_links.push(i.to_string());
                }
            }
            if !chain.is_empty() {
                out.push_str("  classDef critical stroke:#d33,stroke-width:3px\n");
                let ids: Vec<String> = chain.iter().map(|n| id(n)).collect();
                let _ = writeln!(out, "  class {} critical", ids.join(","));
            }
            if !critical_links.is_empty() {
                let _ = writeln!(
                    out,
                    "  linkStyle {} stroke:#d33,stroke-width:3px",
                    critical_links.join(",")
                );
            }
            let mut by_outcome: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for n in &order {
                if let Some(o) = options.outcomes.get(*n) {
                    by_outcome.entry(o.as_str()).or_default().push(id(n));
                }
            }
            for (outcome, ids) in by_outcome {
                let _ = writeln!(out, "  classDef {outcome} fill:{}", fill(outcome));
                let _ = writeln!(out, "  class {} {outcome}", ids.join(","));
            }
        }
        GraphFormat::Dot => {
            out.push_str("digraph dependencies {\n  rankdir=LR;\n  node [shape=box];\n");
            for (g, members) in &groups {
                let _ = writeln!(out, "  subgraph \"cluster_{g}\" {{\n    label=\"{g}\";");
                for m in members {
                    let _ = writeln!(out, "    \"{m}\"{};", dot_node(m, &chain, options));
                }
                out.push_str("  }\n");
            }
            for n in &ungrouped {
                let _ = writeln!(out, "  \"{n}\"{};", dot_node(n, &chain, options));
            }
            for (a, b) in &edges {
                let style = if on_chain(a, b) {
                    " [color=\"#d33\", penwidth=3]"
                } else {
                    ""
                };
                let _ = writeln!(out, "  \"{a}\" -> \"{b}\"{style};");
            }
            out.push_str("}\n");
        }
        GraphFormat::Text => {
            let waves = config.graph.waves(Some(&nodes));
            for (i, wave) in waves.iter().enumerate() {
                let shown: Vec<String> = wave
                    .iter()
                    .map(|n| match options.outcomes.get(n) {
                        Some(o) => format!("{n} ({o})"),
                        None => n.clone(),
                    })
                    .collect();
                let _ = writeln!(out, "wave {}: {}", i + 1, shown.join(", "));
            }
            for (g, members) in &groups {
                let _ = writeln!(out, "group {g}: {}", members.join(", "));
            }
            let _ = writeln!(
                out,
                "longest chain ({}): {}",
                chain.len(),
                chain.join(" -> ")
            );
        }
    }
    Ok(out)
}

/// Each repo's outcome in a publish or cascade run, as the run finally left it: a step's *last*
/// journal entry counts, so a step that failed and then succeeded when the run was resumed is
/// done. A repo with a step whose last entry is a failure is `failed`; one stopped mid-way is
/// `interrupted`; one whose `notes` step (its last) completed is `released`; one that never
/// started is `held_back`. Repos the journal does not mention are `held_back` too.
pub fn journal_outcomes(
    config: &Config,
    journal: &[crate::state::JournalRecord],
) -> BTreeMap<String, String> {
    use crate::state::JournalEntry;
    let mut last: BTreeMap<&str, (u64, &JournalEntry)> = BTreeMap::new();
    for record in journal {
        if let Some(step) = record.entry.step() {
            let slot = last.entry(step).or_insert((record.seq, &record.entry));
            if record.seq >= slot.0 {
                *slot = (record.seq, &record.entry);
            }
        }
    }
    let mut outcomes = BTreeMap::new();
    for name in config.graph.names() {
        let steps: Vec<(&str, &JournalEntry)> = super::run::PACKAGE_STEPS
            .iter()
            .filter_map(|kind| {
                let id = format!("{kind}:{name}");
                last.get(id.as_str()).map(|(_, e)| (*kind, *e))
            })
            .collect();
        let outcome = if steps
            .iter()
            .any(|(_, e)| matches!(e, JournalEntry::StepFailed { .. }))
        {
            "failed"
        } else if steps
            .iter()
            .any(|(kind, e)| *kind == "notes" && e.completes_step())
        {
            "released"
        } else if steps.is_empty() {
            "held_back"
        } else {
            "interrupted"
        };
        outcomes.insert(name.clone(), outcome.to_owned());
    }
    outcomes
}

fn fill(outcome: &str) -> &'static str {
    match outcome {
        "released" | "succeeded" | "built" => "#cfc",
        "failed" => "#fcc",
        "held_back" | "blocked" => "#eee",
        _ => "#ffd",
    }
}

fn dot_node(n: &str, chain: &[String], options: &GraphOptions) -> String {
    let mut attrs = Vec::new();
    if chain.iter().any(|c| c == n) {
        attrs.push("color=\"#d33\", penwidth=3".to_owned());
    }
    if let Some(o) = options.outcomes.get(n) {
        attrs.push(format!("style=filled, fillcolor=\"{}\"", fill(o)));
    }
    if attrs.is_empty() {
        String::new()
    } else {
        format!(" [{}]", attrs.join(", "))
    }
}
