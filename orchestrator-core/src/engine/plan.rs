//! A plan: steps and the order constraints between them.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::graph::DependencyGraph;
use crate::step::Step;

/// A step with the ids of the steps that must finish before it starts.
#[derive(Debug, Clone)]
pub struct PlannedStep {
    /// The step.
    pub step: Arc<dyn Step>,
    /// Ids of steps that must succeed first.
    pub after: Vec<String>,
}

/// A validated DAG of steps (unique ids, known dependencies, no cycles).
#[derive(Debug, Clone)]
pub struct Plan {
    steps: Vec<PlannedStep>,
    graph: DependencyGraph,
}

impl Plan {
    /// Validates steps into a plan.
    pub fn new(steps: Vec<PlannedStep>) -> Result<Self> {
        let graph = DependencyGraph::new(
            steps
                .iter()
                .map(|s| (s.step.id().to_owned(), s.after.clone())),
        )
        .map_err(|e| Error::invalid_input(format!("invalid plan: {e}")))?;
        Ok(Self { steps, graph })
    }

    /// The steps, in the order given.
    pub fn steps(&self) -> &[PlannedStep] {
        &self.steps
    }

    /// The step dependency graph.
    pub fn graph(&self) -> &DependencyGraph {
        &self.graph
    }

    /// Waves of step ids: each wave depends only on earlier ones.
    pub fn waves(&self) -> Vec<Vec<String>> {
        self.graph.waves(None)
    }
}
