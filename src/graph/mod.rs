//! The dependency graph of a configuration: one node per variable-independent object
//! (resource, local, output, provider configuration), an edge from each object to every
//! object that refers to it (references, `depends_on`, a resource's provider). Planning walks
//! it in topological order; `brick graph` prints it as DOT. The executor builds its own
//! instance-level graph from the plan (see `apply`).

// Diagnostics are rich data (spans, help); returning them by value is deliberate.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use crate::diag::Diagnostic;
use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::eval::Reference;
use crate::plan::address::{ResourceAddr, ResourceMode};
use crate::plan::input::Configuration;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    /// Index into `Configuration::resources`.
    Resource(usize),
    Local(usize),
    Output(usize),
    Provider(usize),
}

pub struct ConfigGraph {
    pub graph: DiGraph<Node, ()>,
    pub resource_nodes: Vec<NodeIndex>,
    pub by_resource: HashMap<ResourceAddr, usize>,
}

fn resource_key(r: &Reference) -> Option<ResourceAddr> {
    match r {
        Reference::Resource { type_name, name } => Some(ResourceAddr::managed(type_name, name)),
        Reference::Data { type_name, name } => Some(ResourceAddr {
            module: String::new(),
            mode: ResourceMode::Data,
            type_name: type_name.clone(),
            name: name.clone(),
        }),
        _ => None,
    }
}

impl ConfigGraph {
    /// Builds the graph. References to undeclared objects are ignored here (validation reports
    /// them); a cycle is reported by [`ConfigGraph::order`].
    pub fn build(config: &Configuration) -> ConfigGraph {
        let mut graph = DiGraph::new();
        let mut by_resource = HashMap::new();
        let mut resource_nodes = Vec::with_capacity(config.resources.len());
        for (i, r) in config.resources.iter().enumerate() {
            by_resource.insert(r.addr.clone(), i);
            resource_nodes.push(graph.add_node(Node::Resource(i)));
        }
        let local_nodes: Vec<_> = (0..config.locals.len())
            .map(|i| graph.add_node(Node::Local(i)))
            .collect();
        let local_by_name: HashMap<&str, NodeIndex> = config
            .locals
            .iter()
            .zip(&local_nodes)
            .map(|(l, n)| (l.name.as_str(), *n))
            .collect();
        let provider_nodes: Vec<_> = (0..config.providers.len())
            .map(|i| graph.add_node(Node::Provider(i)))
            .collect();
        let provider_by_name: HashMap<&str, NodeIndex> = config
            .providers
            .iter()
            .zip(&provider_nodes)
            .map(|(p, n)| (p.name.as_str(), *n))
            .collect();
        let output_nodes: Vec<_> = (0..config.outputs.len())
            .map(|i| graph.add_node(Node::Output(i)))
            .collect();

        let target_of = |r: &Reference| -> Option<NodeIndex> {
            if let Some(addr) = resource_key(r) {
                return by_resource.get(&addr).map(|i| resource_nodes[*i]);
            }
            match r {
                Reference::Local(n) => local_by_name.get(n.as_str()).copied(),
                _ => None,
            }
        };
        let mut edges = Vec::new();
        for (i, r) in config.resources.iter().enumerate() {
            for rf in r.references.iter().chain(&r.depends_on) {
                if let Some(t) = target_of(rf) {
                    edges.push((t, resource_nodes[i]));
                }
            }
            if let Some(p) = provider_by_name.get(r.provider.as_str()) {
                edges.push((*p, resource_nodes[i]));
            }
        }
        for (i, l) in config.locals.iter().enumerate() {
            for rf in &l.references {
                if let Some(t) = target_of(rf) {
                    edges.push((t, local_nodes[i]));
                }
            }
        }
        for (i, o) in config.outputs.iter().enumerate() {
            for rf in &o.references {
                if let Some(t) = target_of(rf) {
                    edges.push((t, output_nodes[i]));
                }
            }
        }
        for (i, p) in config.providers.iter().enumerate() {
            for rf in &p.references {
                if let Some(t) = target_of(rf) {
                    edges.push((t, provider_nodes[i]));
                }
            }
        }
        edges.sort();
        edges.dedup();
        for (a, b) in edges {
            graph.add_edge(a, b, ());
        }
        ConfigGraph {
            graph,
            resource_nodes,
            by_resource,
        }
    }

    /// The nodes in an order where every node comes after what it depends on.
    pub fn order(&self, config: &Configuration) -> Result<Vec<NodeIndex>, Diagnostic> {
        petgraph::algo::toposort(&self.graph, None).map_err(|cycle| {
            let n = &self.graph[cycle.node_id()];
            Diagnostic::error(
                "brick::graph::cycle",
                "Cycle in the configuration",
                format!(
                    "{} depends, directly or indirectly, on itself.",
                    self.node_name(n, config)
                ),
            )
            .help("Break the cycle by removing one of the references or depends_on entries.")
        })
    }

    /// The resources a resource depends on, directly or through locals.
    pub fn resource_dependencies(&self, resource: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut stack = vec![self.resource_nodes[resource]];
        while let Some(n) = stack.pop() {
            for d in self.graph.neighbors_directed(n, Direction::Incoming) {
                if !seen.insert(d) {
                    continue;
                }
                match self.graph[d] {
                    Node::Resource(i) => out.push(i),
                    Node::Local(_) => stack.push(d),
                    _ => {}
                }
            }
        }
        out.sort_unstable();
        out
    }

    /// Resources reachable from `start` following edges forwards (dependents) or backwards
    /// (dependencies), through locals and other resources, `start` included.
    pub fn closure(&self, start: &[usize], dependents: bool) -> std::collections::HashSet<usize> {
        let dir = if dependents {
            Direction::Outgoing
        } else {
            Direction::Incoming
        };
        let mut seen = std::collections::HashSet::new();
        let mut out = std::collections::HashSet::new();
        let mut stack: Vec<NodeIndex> = start.iter().map(|i| self.resource_nodes[*i]).collect();
        while let Some(n) = stack.pop() {
            if !seen.insert(n) {
                continue;
            }
            if let Node::Resource(i) = self.graph[n] {
                out.insert(i);
            }
            stack.extend(self.graph.neighbors_directed(n, dir));
        }
        out
    }

    pub fn node_name(&self, n: &Node, config: &Configuration) -> String {
        match n {
            Node::Resource(i) => config.resources[*i].addr.to_string(),
            Node::Local(i) => format!("local.{}", config.locals[*i].name),
            Node::Output(i) => format!("output.{}", config.outputs[*i].name),
            Node::Provider(i) => format!("provider[\"{}\"]", config.providers[*i].name),
        }
    }

    /// The graph in Graphviz DOT, nodes and edges in a stable order.
    pub fn to_dot(&self, config: &Configuration) -> String {
        let mut names: Vec<(String, NodeIndex)> = self
            .graph
            .node_indices()
            .map(|n| (self.node_name(&self.graph[n], config), n))
            .collect();
        names.sort();
        let mut out = String::from(
            "digraph {\n  compound = \"true\"\n  newrank = \"true\"\n  subgraph \"root\" {\n",
        );
        for (name, _) in &names {
            out.push_str(&format!(
                "    \"{}\" [label = \"{}\"]\n",
                esc(name),
                esc(name)
            ));
        }
        let mut edges: Vec<(String, String)> = self
            .graph
            .edge_indices()
            .filter_map(|e| self.graph.edge_endpoints(e))
            .map(|(a, b)| {
                (
                    self.node_name(&self.graph[b], config),
                    self.node_name(&self.graph[a], config),
                )
            })
            .collect();
        edges.sort();
        for (from, to) in edges {
            out.push_str(&format!("    \"{}\" -> \"{}\"\n", esc(&from), esc(&to)));
        }
        out.push_str("  }\n}\n");
        out
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::input::{Expansion, Lifecycle, ResourceConfig, Timeouts, constant};
    use brick_provider_api::Value;

    fn res(name: &str, refs: &[&str]) -> ResourceConfig {
        ResourceConfig {
            addr: ResourceAddr::managed("brick_data", name),
            provider: "brick".into(),
            expansion: Expansion::Single,
            body: constant(Value::empty_object()),
            references: refs
                .iter()
                .map(|r| Reference::Resource {
                    type_name: "brick_data".into(),
                    name: r.to_string(),
                })
                .collect(),
            depends_on: Vec::new(),
            lifecycle: Lifecycle::default(),
            timeouts: Timeouts::default(),
        }
    }

    #[test]
    fn a_resource_comes_after_what_it_references_and_dot_lists_the_edge() {
        let config = Configuration {
            resources: vec![res("b", &["a"]), res("a", &[])],
            ..Default::default()
        };
        let g = ConfigGraph::build(&config);
        let order = g.order(&config).unwrap();
        let names: Vec<_> = order
            .iter()
            .map(|n| g.node_name(&g.graph[*n], &config))
            .collect();
        assert_eq!(names, ["brick_data.a", "brick_data.b"]);
        assert!(
            g.to_dot(&config)
                .contains("\"brick_data.b\" -> \"brick_data.a\"")
        );
        assert_eq!(g.resource_dependencies(0), vec![1]);
    }

    #[test]
    fn a_cycle_is_reported_as_a_diagnostic() {
        let config = Configuration {
            resources: vec![res("a", &["b"]), res("b", &["a"])],
            ..Default::default()
        };
        let g = ConfigGraph::build(&config);
        let d = g.order(&config).unwrap_err();
        assert_eq!(d.code, "brick::graph::cycle");
    }
}
