//! The configuration graph drawn for people: Graphviz DOT (as `terraform graph` prints it),
//! Mermaid (`flowchart`, which GitHub renders in Markdown) with one box per provider, and
//! plain text listing what is applied in which order
//! and what each object reads. Strings only: the CLI prints them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use petgraph::Direction;
use petgraph::graph::NodeIndex;

use super::{ConfigGraph, Node};
use crate::diag::Diagnostic;
use crate::input::Configuration;

/// How `brick graph` prints the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphFormat {
    /// Graphviz DOT, as `terraform graph` prints it (the default).
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
    /// The order of application, one rank per line, with what each object reads.
    Text,
}

impl GraphFormat {
    pub const NAMES: [&'static str; 3] = ["dot", "mermaid", "text"];

    /// Parses `--format`; an unknown name is a diagnostic listing the known ones.
    pub fn parse(name: &str) -> Result<GraphFormat, Diagnostic> {
        match name {
            "dot" => Ok(GraphFormat::Dot),
            "mermaid" => Ok(GraphFormat::Mermaid),
            "text" => Ok(GraphFormat::Text),
            _ => Err(Diagnostic::error(
                "brick::cli::invalid_graph_format",
                "Invalid graph format",
                format!(
                    "--format {name:?} is not a format brick graph can print: it prints {}.",
                    GraphFormat::NAMES.join(", ")
                ),
            )
            .help("Use --format dot (the default, for Graphviz), --format mermaid (for GitHub Markdown) or --format text.")),
        }
    }
}

/// A node drawn in a box of its own: resources and provider configurations. Locals,
/// outputs and module plumbing are drawn too, but belong to no provider.
fn provider_of(n: &Node, config: &Configuration) -> Option<String> {
    match n {
        Node::Resource(i) => Some(config.resources[*i].provider.clone()),
        Node::Provider(i) => Some(config.providers[*i].name.clone()),
        _ => None,
    }
}

/// Text Mermaid shows as written inside a double-quoted label: the characters that would end
/// the label or be read as markup become Mermaid's entity codes (`#quot;`, `#35;`, …).
fn mermaid_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '`' => out.push_str("#96;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A name inside a DOT double-quoted string.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

impl ConfigGraph {
    /// Every node with its name, sorted by name (ids follow this order, so the output is
    /// stable for a configuration).
    fn sorted_names(&self, config: &Configuration) -> Vec<(String, NodeIndex)> {
        let mut names: Vec<(String, NodeIndex)> = self
            .graph
            .node_indices()
            .map(|n| (self.node_name(&self.graph[n], config), n))
            .collect();
        names.sort();
        names
    }

    /// The graph in Graphviz DOT, nodes and edges in a stable order.
    pub fn to_dot(&self, config: &Configuration) -> String {
        let names = self.sorted_names(config);
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

    /// The graph as a Mermaid flowchart, top to bottom: an arrow goes from each object to
    /// what reads it (the order things are made in; DOT's arrows point the other way, from an
    /// object to what it needs, as Terraform draws them). Resources are rectangles inside one
    /// box per provider configuration, together with the provider (a hexagon); locals and
    /// variables are stadiums, outputs parallelograms, module calls subroutines. Node ids
    /// are generated (`n0`, `n1`, …): names go in quoted labels with Mermaid's entity codes.
    pub fn to_mermaid(&self, config: &Configuration) -> String {
        let names = self.sorted_names(config);
        let id: HashMap<NodeIndex, String> = names
            .iter()
            .enumerate()
            .map(|(i, (_, n))| (*n, format!("n{i}")))
            .collect();
        let shape = |n: NodeIndex, name: &str| -> String {
            let label = mermaid_text(name);
            let i = &id[&n];
            match self.graph[n] {
                Node::Resource(_) => format!("{i}[\"{label}\"]"),
                Node::Provider(_) => format!("{i}{{{{\"{label}\"}}}}"),
                Node::Output(_) => format!("{i}[/\"{label}\"/]"),
                Node::ModuleCall(_) => format!("{i}[[\"{label}\"]]"),
                Node::Local(_) | Node::ModuleVariable(_) | Node::Validation(_) => {
                    format!("{i}([\"{label}\"])")
                }
            }
        };
        let mut groups: BTreeMap<String, Vec<(&String, NodeIndex)>> = BTreeMap::new();
        let mut loose = Vec::new();
        for (name, n) in &names {
            match provider_of(&self.graph[*n], config) {
                Some(p) => groups.entry(p).or_default().push((name, *n)),
                None => loose.push((name, *n)),
            }
        }
        let mut out = String::from("flowchart TB\n");
        for (gi, (provider, members)) in groups.iter().enumerate() {
            out.push_str(&format!(
                "  subgraph p{gi}[\"provider {}\"]\n",
                mermaid_text(provider)
            ));
            for (name, n) in members {
                out.push_str(&format!("    {}\n", shape(*n, name)));
            }
            out.push_str("  end\n");
        }
        for (name, n) in loose {
            out.push_str(&format!("  {}\n", shape(n, name)));
        }
        let mut edges: BTreeSet<(usize, usize)> = BTreeSet::new();
        let rank: HashMap<NodeIndex, usize> = names
            .iter()
            .enumerate()
            .map(|(i, (_, n))| (*n, i))
            .collect();
        for e in self.graph.edge_indices() {
            if let Some((a, b)) = self.graph.edge_endpoints(e) {
                edges.insert((rank[&a], rank[&b]));
            }
        }
        for (a, b) in edges {
            out.push_str(&format!("  n{a} --> n{b}\n"));
        }
        out
    }

    /// The resources and provider configurations in the order brick applies them: rank 1
    /// needs nothing, every other rank needs something of the rank above. Each line says
    /// what the object reads (resources and providers, directly or through locals, variables
    /// and module calls); a provider listed here is configured once what it reads exists.
    /// A cycle has no order: the diagnostic is returned.
    pub fn to_text(&self, config: &Configuration) -> Result<String, Diagnostic> {
        let order = self.order(config)?;
        let drawn = |n: NodeIndex| matches!(self.graph[n], Node::Resource(_) | Node::Provider(_));
        // Rank: 1 + the highest rank among what a node needs; nodes that are not drawn pass
        // their dependencies' rank on.
        let mut rank: HashMap<NodeIndex, usize> = HashMap::new();
        for &n in &order {
            let above = self
                .graph
                .neighbors_directed(n, Direction::Incoming)
                .map(|d| rank.get(&d).copied().unwrap_or(0))
                .max()
                .unwrap_or(0);
            rank.insert(n, if drawn(n) { above + 1 } else { above });
        }
        // What each drawn node reads, seen through the nodes that are not drawn.
        let reads = |n: NodeIndex| -> Vec<String> {
            let mut found = BTreeSet::new();
            let mut seen = std::collections::HashSet::new();
            let mut stack: Vec<NodeIndex> = self
                .graph
                .neighbors_directed(n, Direction::Incoming)
                .collect();
            while let Some(d) = stack.pop() {
                if !seen.insert(d) {
                    continue;
                }
                if drawn(d) {
                    found.insert(self.node_name(&self.graph[d], config));
                } else {
                    stack.extend(self.graph.neighbors_directed(d, Direction::Incoming));
                }
            }
            found.into_iter().collect()
        };
        let mut by_rank: BTreeMap<usize, Vec<(String, Vec<String>)>> = BTreeMap::new();
        for (name, n) in self.sorted_names(config) {
            if drawn(n) {
                by_rank.entry(rank[&n]).or_default().push((name, reads(n)));
            }
        }
        let width = by_rank
            .values()
            .flatten()
            .map(|(name, _)| name.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for (r, members) in by_rank {
            for (i, (name, reads)) in members.iter().enumerate() {
                let step = if i == 0 {
                    format!("{r:>3}. ")
                } else {
                    "     ".to_string()
                };
                if reads.is_empty() {
                    out.push_str(&format!("{step}{name}\n"));
                } else {
                    out.push_str(&format!("{step}{name:<width$}  <- {}\n", reads.join(", ")));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_escape_what_would_end_them_or_be_read_as_markup() {
        assert_eq!(
            mermaid_text("provider[\"maas\"] #1 <b> & `x`"),
            "provider[#quot;maas#quot;] #35;1 #lt;b#gt; #amp; #96;x#96;"
        );
    }

    #[test]
    fn an_unknown_format_is_a_diagnostic_naming_the_known_ones() {
        let d = GraphFormat::parse("svg").unwrap_err();
        assert_eq!(d.code, "brick::cli::invalid_graph_format");
        assert!(d.detail.contains("dot, mermaid, text"), "{}", d.detail);
        assert_eq!(GraphFormat::parse("mermaid").unwrap(), GraphFormat::Mermaid);
    }
}
