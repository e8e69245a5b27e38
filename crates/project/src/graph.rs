//! The dependency graph of a project: sources feed models, models feed models by `ref`.

use crate::error::ProjectError;
use crate::load::{Model, Project};
use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graphmap::DiGraphMap;
use std::collections::BTreeMap;

/// Orders models so that each comes after everything it refs; a cycle is an error naming every
/// model on it.
pub fn order_models(models: &[Model]) -> Result<Vec<String>, ProjectError> {
    let index: BTreeMap<&str, usize> = models
        .iter()
        .enumerate()
        .map(|(i, m)| (m.name.as_str(), i))
        .collect();
    let mut graph = DiGraphMap::<usize, ()>::new();
    for i in 0..models.len() {
        graph.add_node(i);
    }
    for (i, m) in models.iter().enumerate() {
        for r in &m.depends_on.refs {
            if let Some(&j) = index.get(r.as_str()) {
                graph.add_edge(j, i, ());
            }
        }
    }
    match toposort(&graph, None) {
        Ok(order) => Ok(order.into_iter().map(|i| models[i].name.clone()).collect()),
        Err(cycle) => {
            let start = cycle.node_id();
            let members: Vec<usize> = tarjan_scc(&graph)
                .into_iter()
                .find(|scc| scc.contains(&start))
                .unwrap_or_else(|| vec![start]);
            let mut names: Vec<&str> = members.iter().map(|&i| models[i].name.as_str()).collect();
            names.sort_unstable();
            let first = &models[members.iter().copied().min().unwrap_or(start)];
            Err(ProjectError::new(
                &first.sql_file,
                None,
                format!("models form a cycle: {}", names.join(" -> ")),
            ))
        }
    }
}

/// A node of the project graph.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Node {
    SourceTable { source: String, table: String },
    Model(String),
}

impl std::fmt::Display for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Node::SourceTable { source, table } => write!(f, "source:{source}.{table}"),
            Node::Model(m) => write!(f, "{m}"),
        }
    }
}

/// Edges from every source table and model to what reads it.
#[derive(Debug, Clone)]
pub struct ModelGraph {
    pub edges: Vec<(Node, Node)>,
}

impl ModelGraph {
    pub fn new(project: &Project) -> Self {
        let mut edges = Vec::new();
        for m in &project.models {
            for (source, table) in &m.depends_on.sources {
                edges.push((
                    Node::SourceTable {
                        source: source.clone(),
                        table: table.clone(),
                    },
                    Node::Model(m.name.clone()),
                ));
            }
            for r in &m.depends_on.refs {
                edges.push((Node::Model(r.clone()), Node::Model(m.name.clone())));
            }
        }
        Self { edges }
    }

    /// Everything downstream of `node`, itself excluded.
    pub fn downstream(&self, node: &Node) -> Vec<Node> {
        let mut out: Vec<Node> = Vec::new();
        let mut frontier = vec![node.clone()];
        while let Some(n) = frontier.pop() {
            for (from, to) in &self.edges {
                if from == &n && !out.contains(to) {
                    out.push(to.clone());
                    frontier.push(to.clone());
                }
            }
        }
        out
    }
}
