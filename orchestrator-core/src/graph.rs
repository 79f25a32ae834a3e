//! The dependency graph of repositories (or packages).
//!
//! Built once from names and `depends_on` lists; unknown names and cycles are errors that name
//! them. Nodes are indices internally so a 10,000-node graph plans in milliseconds.

use std::collections::{BTreeSet, HashMap};

/// Why a graph could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// Two nodes share a name.
    #[error("{name:?} is declared twice")]
    Duplicate {
        /// The name.
        name: String,
    },
    /// A node depends on a name that is not declared.
    #[error("{node:?} depends on {dependency:?}, which is not declared")]
    UnknownDependency {
        /// The node that refers to it.
        node: String,
        /// The unknown name.
        dependency: String,
    },
    /// A dependency cycle, listed in order with the first node repeated at the end.
    #[error("dependency cycle: {}", cycle.join(" -> "))]
    Cycle {
        /// The cycle, e.g. `[a, b, a]`.
        cycle: Vec<String>,
    },
}

/// A validated, acyclic dependency graph.
#[derive(Debug, Clone)]
pub struct DependencyGraph {
    names: Vec<String>,
    index: HashMap<String, usize>,
    /// `deps[i]`: what node i depends on.
    deps: Vec<Vec<usize>>,
    /// `dependents[i]`: what depends on node i.
    dependents: Vec<Vec<usize>>,
}

impl DependencyGraph {
    /// Builds and validates a graph from `(name, depends_on)` pairs, in declaration order.
    pub fn new<N, D>(nodes: impl IntoIterator<Item = (N, D)>) -> Result<Self, GraphError>
    where
        N: Into<String>,
        D: IntoIterator,
        D::Item: Into<String>,
    {
        let nodes: Vec<(String, Vec<String>)> = nodes
            .into_iter()
            .map(|(n, d)| (n.into(), d.into_iter().map(Into::into).collect()))
            .collect();
        let mut index = HashMap::with_capacity(nodes.len());
        for (i, (name, _)) in nodes.iter().enumerate() {
            if index.insert(name.clone(), i).is_some() {
                return Err(GraphError::Duplicate { name: name.clone() });
            }
        }
        let mut deps = vec![Vec::new(); nodes.len()];
        let mut dependents = vec![Vec::new(); nodes.len()];
        for (i, (name, ds)) in nodes.iter().enumerate() {
            for d in ds {
                let j = *index.get(d).ok_or_else(|| GraphError::UnknownDependency {
                    node: name.clone(),
                    dependency: d.clone(),
                })?;
                if !deps[i].contains(&j) {
                    deps[i].push(j);
                    dependents[j].push(i);
                }
            }
        }
        let graph = Self {
            names: nodes.into_iter().map(|(n, _)| n).collect(),
            index,
            deps,
            dependents,
        };
        graph.check_acyclic()?;
        Ok(graph)
    }

    fn check_acyclic(&self) -> Result<(), GraphError> {
        // Iterative DFS with colours; on a back edge, the stack holds the cycle.
        const WHITE: u8 = 0;
        const GREY: u8 = 1;
        const BLACK: u8 = 2;
        let mut colour = vec![WHITE; self.names.len()];
        for start in 0..self.names.len() {
            if colour[start] != WHITE {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            colour[start] = GREY;
            while let Some((node, next)) = stack.last_mut() {
                let node = *node;
                if let Some(&dep) = self.deps[node].get(*next) {
                    *next += 1;
                    match colour[dep] {
                        WHITE => {
                            colour[dep] = GREY;
                            stack.push((dep, 0));
                        }
                        GREY => {
                            let from = stack.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                            let mut cycle: Vec<String> = stack[from..]
                                .iter()
                                .map(|(n, _)| self.names[*n].clone())
                                .collect();
                            cycle.push(self.names[dep].clone());
                            return Err(GraphError::Cycle { cycle });
                        }
                        _ => {}
                    }
                } else {
                    colour[node] = BLACK;
                    stack.pop();
                }
            }
        }
        Ok(())
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Whether `name` is a node.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Node names in declaration order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The direct dependencies of `name` (empty for unknown names).
    pub fn dependencies(&self, name: &str) -> Vec<&str> {
        self.index
            .get(name)
            .map(|&i| {
                self.deps[i]
                    .iter()
                    .map(|&j| self.names[j].as_str())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waves of the sub-graph induced by `selected` (all nodes when `None`): wave 0 has no
    /// selected dependencies, wave k depends only on earlier waves. Within a wave, declaration
    /// order.
    pub fn waves(&self, selected: Option<&BTreeSet<String>>) -> Vec<Vec<String>> {
        let included: Vec<bool> = self
            .names
            .iter()
            .map(|n| selected.is_none_or(|s| s.contains(n)))
            .collect();
        let mut level = vec![0usize; self.names.len()];
        let mut max_level = 0;
        for i in self.topological_indices() {
            if !included[i] {
                continue;
            }
            let l = self.deps[i]
                .iter()
                .filter(|&&d| included[d])
                .map(|&d| level[d] + 1)
                .max()
                .unwrap_or(0);
            level[i] = l;
            max_level = max_level.max(l);
        }
        let mut waves = vec![
            Vec::new();
            if included.iter().any(|&b| b) {
                max_level + 1
            } else {
                0
            }
        ];
        for (i, name) in self.names.iter().enumerate() {
            if included[i] {
                waves[level[i]].push(name.clone());
            }
        }
        waves
    }

    /// Every node in an order where dependencies come first (Kahn's algorithm, stable by
    /// declaration order).
    pub fn topological_order(&self) -> Vec<&str> {
        self.topological_indices()
            .into_iter()
            .map(|i| self.names[i].as_str())
            .collect()
    }

    fn topological_indices(&self) -> Vec<usize> {
        let mut remaining: Vec<usize> = self.deps.iter().map(Vec::len).collect();
        let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<usize>> = remaining
            .iter()
            .enumerate()
            .filter(|(_, r)| **r == 0)
            .map(|(i, _)| std::cmp::Reverse(i))
            .collect();
        let mut order = Vec::with_capacity(self.names.len());
        while let Some(std::cmp::Reverse(i)) = ready.pop() {
            order.push(i);
            for &d in &self.dependents[i] {
                remaining[d] -= 1;
                if remaining[d] == 0 {
                    ready.push(std::cmp::Reverse(d));
                }
            }
        }
        order
    }

    /// `roots` and everything that depends on them, transitively (the cascade set).
    pub fn dependents_closure<'a>(
        &self,
        roots: impl IntoIterator<Item = &'a str>,
    ) -> BTreeSet<String> {
        let mut seen = vec![false; self.names.len()];
        let mut stack: Vec<usize> = roots
            .into_iter()
            .filter_map(|r| self.index.get(r).copied())
            .collect();
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            stack.extend(self.dependents[i].iter().copied());
        }
        seen.iter()
            .enumerate()
            .filter(|(_, s)| **s)
            .map(|(i, _)| self.names[i].clone())
            .collect()
    }

    /// The number of nodes on the longest dependency chain (the floor of a release, in CI runs).
    pub fn longest_chain(&self) -> usize {
        self.waves(None).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(spec: &[(&str, &[&str])]) -> Result<DependencyGraph, GraphError> {
        DependencyGraph::new(spec.iter().map(|(n, d)| (*n, d.iter().copied())))
    }

    #[test]
    fn diamond_has_three_waves() {
        let g = graph(&[
            ("top", &["left", "right"]),
            ("left", &["base"]),
            ("right", &["base"]),
            ("base", &[]),
        ])
        .expect("acyclic");
        assert_eq!(
            g.waves(None),
            vec![vec!["base"], vec!["left", "right"], vec!["top"]]
        );
        assert_eq!(g.topological_order(), vec!["base", "left", "right", "top"]);
        assert_eq!(g.longest_chain(), 3);
    }

    #[test]
    fn waves_of_a_selection_ignore_unselected_dependencies() {
        let g = graph(&[("a", &[]), ("b", &["a"]), ("c", &["b"])]).expect("acyclic");
        let only: BTreeSet<String> = ["a", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(g.waves(Some(&only)), vec![vec!["a", "c"]]);
    }

    #[test]
    fn unknown_dependency_is_named() {
        let err = graph(&[("a", &["ghost"])]).expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "\"a\" depends on \"ghost\", which is not declared"
        );
    }

    #[test]
    fn cycles_are_named_in_order() {
        let err =
            graph(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &[])]).expect_err("cycle");
        assert_eq!(err.to_string(), "dependency cycle: a -> b -> c -> a");
        let err = graph(&[("self", &["self"])]).expect_err("self cycle");
        assert_eq!(err.to_string(), "dependency cycle: self -> self");
    }

    #[test]
    fn duplicates_are_named() {
        assert_eq!(
            graph(&[("a", &[]), ("a", &[])]).expect_err("dup"),
            GraphError::Duplicate { name: "a".into() }
        );
    }

    #[test]
    fn cascade_closure_follows_dependents_only() {
        let g = DependencyGraph::new(
            crate::seeds::SEED_004
                .iter()
                .map(|(n, d)| (*n, d.iter().copied())),
        )
        .expect("acyclic");
        let closure: Vec<String> = g
            .dependents_closure(["consensus-proof"])
            .into_iter()
            .collect();
        assert_eq!(
            closure,
            vec!["consensus-proof", "protocol-engine", "reference-node"]
        );
    }
}
