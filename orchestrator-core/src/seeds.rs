//! The repository and package graphs of the real tools the seeds describe
//! (`shared/reference/seed-formats.md`), as `(name, depends_on)` pairs: one definition for the
//! benchmarks, the scenario tests and anyone rehearsing these ecosystems.

/// A graph as `(name, depends_on)` pairs, dependencies declared before their dependents.
pub type SeedGraph = &'static [(&'static str, &'static [&'static str])];

/// Seed 000: TruthDB's release set. Only the ISO needs the others (longest chain: 2).
pub const SEED_000: SeedGraph = &[
    ("installer-kernel", &[]),
    ("installer", &[]),
    ("truthdb", &[]),
    (
        "installer-iso",
        &["installer-kernel", "installer", "truthdb"],
    ),
];

/// Seed 002: the 16-package publishing DAG, by repo (longest chain: 10). Package names such as
/// `@web-buddy/core` are not repo names, so the repos carry short names (`wb-core`).
pub const SEED_002: SeedGraph = &[
    ("domain", &[]),
    ("infrastructure", &["domain"]),
    ("application", &["domain", "infrastructure"]),
    (
        "typescript-eda",
        &["domain", "infrastructure", "application"],
    ),
    ("wb-core", &["typescript-eda"]),
    ("wb-contract-declaration", &["typescript-eda"]),
    ("wb-nodejs-server", &["wb-core"]),
    ("wb-browser-extension", &["wb-core"]),
    ("wb-google-buddy", &["wb-core"]),
    ("gb-client", &["wb-core"]),
    (
        "wb-framework",
        &[
            "wb-core",
            "wb-contract-declaration",
            "wb-nodejs-server",
            "wb-browser-extension",
            "wb-google-buddy",
            "gb-client",
        ],
    ),
    ("cb-core", &["wb-framework", "typescript-eda"]),
    ("cb-server", &["cb-core"]),
    ("cb-extension", &["cb-core"]),
    ("cb-client-ts", &["cb-core"]),
    (
        "chatgpt-buddy",
        &["cb-core", "cb-server", "cb-extension", "cb-client-ts"],
    ),
];

/// Seed 004: bllvm's two independent chains.
pub const SEED_004: SeedGraph = &[
    ("consensus-proof", &[]),
    ("protocol-engine", &["consensus-proof"]),
    ("reference-node", &["protocol-engine", "consensus-proof"]),
    ("developer-sdk", &[]),
    ("governance-app", &["developer-sdk"]),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::DependencyGraph;

    #[test]
    fn the_seed_graphs_have_their_documented_longest_chains() {
        let chain = |g: SeedGraph| {
            DependencyGraph::new(g.iter().map(|(n, d)| (*n, d.iter().copied())))
                .expect("acyclic")
                .longest_chain()
        };
        assert_eq!(chain(SEED_000), 2);
        assert_eq!(chain(SEED_002), 10);
        assert_eq!(chain(SEED_004), 3);
    }
}
