//! The dependency graph of a configuration: one node per variable-independent object
//! (resource, local, output, provider configuration), an edge from each object to every
//! object that refers to it (references, `depends_on`, a resource's provider). Planning walks
//! it in topological order; `brick graph` prints it as DOT, Mermaid or text (`draw`). The
//! executor builds its own instance-level graph from the plan (see `apply`).

// Diagnostics are rich data (spans, help); returning them by value is deliberate.
#![allow(clippy::result_large_err)]

mod draw;

pub use draw::GraphFormat;

use std::collections::HashMap;

use crate::diag::Diagnostic;
use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::addr::Reference;
use crate::addr::ResourceAddr;
use crate::input::Configuration;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    /// Index into `Configuration::resources`.
    Resource(usize),
    Local(usize),
    Output(usize),
    Provider(usize),
    /// Index into `Configuration::module_calls`: the call's expansion.
    ModuleCall(usize),
    /// Index into `Configuration::module_variables`.
    ModuleVariable(usize),
    /// Index into `Configuration::validations`.
    Validation(usize),
}

pub struct ConfigGraph {
    pub graph: DiGraph<Node, ()>,
    pub resource_nodes: Vec<NodeIndex>,
    /// Configuration resources (module paths without keys) → index.
    pub by_resource: HashMap<ResourceAddr, usize>,
}

use crate::addr::module_text;

/// The resource a reference names, in module instance `module` (`None` for anything but a
/// resource or data source).
pub fn resource_of(reference: &Reference, module: &str) -> Option<ResourceAddr> {
    use crate::addr::ResourceMode;
    let (mode, type_name, name) = match reference {
        Reference::Resource { type_name, name } => (ResourceMode::Managed, type_name, name),
        Reference::Data { type_name, name } => (ResourceMode::Data, type_name, name),
        _ => return None,
    };
    Some(ResourceAddr {
        module: module.to_string(),
        mode,
        type_name: type_name.clone(),
        name: name.clone(),
    })
}

fn child(path: &[String], name: &str) -> Vec<String> {
    let mut p = path.to_vec();
    p.push(name.to_string());
    p
}

impl ConfigGraph {
    /// Builds the graph. References to undeclared objects are ignored here (validation reports
    /// them); a cycle is reported by [`ConfigGraph::order`].
    pub fn build(config: &Configuration) -> ConfigGraph {
        let mut graph = DiGraph::new();
        let mut by_resource = HashMap::new();
        let mut resource_nodes = Vec::with_capacity(config.resources.len());
        let mut resource_paths: Vec<Vec<String>> = Vec::with_capacity(config.resources.len());
        for (i, r) in config.resources.iter().enumerate() {
            by_resource.insert(r.addr.clone(), i);
            resource_nodes.push(graph.add_node(Node::Resource(i)));
            resource_paths.push(if r.addr.module.is_empty() {
                Vec::new()
            } else {
                crate::addr::module_names(&r.addr.module)
            });
        }
        let local_nodes: Vec<_> = (0..config.locals.len())
            .map(|i| graph.add_node(Node::Local(i)))
            .collect();
        let local_by_name: HashMap<(&[String], &str), NodeIndex> = config
            .locals
            .iter()
            .zip(&local_nodes)
            .map(|(l, n)| ((l.module.as_slice(), l.name.as_str()), *n))
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
        let call_nodes: Vec<_> = (0..config.module_calls.len())
            .map(|i| graph.add_node(Node::ModuleCall(i)))
            .collect();
        let call_by_path: HashMap<Vec<String>, NodeIndex> = config
            .module_calls
            .iter()
            .zip(&call_nodes)
            .map(|(c, n)| (c.child_path(), *n))
            .collect();
        let var_nodes: Vec<_> = (0..config.module_variables.len())
            .map(|i| graph.add_node(Node::ModuleVariable(i)))
            .collect();
        let var_by_name: HashMap<(&[String], &str), NodeIndex> = config
            .module_variables
            .iter()
            .zip(&var_nodes)
            .map(|(v, n)| ((v.module.as_slice(), v.name.as_str()), *n))
            .collect();
        // A variable's `validation` checked in its module's scope: what reads the variable
        // waits for it (as Terraform ≥ 1.9), so that a check undecided at plan time runs
        // during apply before the variable's value is used.
        let validation_nodes: Vec<_> = (0..config.validations.len())
            .map(|i| graph.add_node(Node::Validation(i)))
            .collect();
        let mut validations_of: HashMap<(&[String], &str), Vec<NodeIndex>> = HashMap::new();
        for (v, n) in config.validations.iter().zip(&validation_nodes) {
            validations_of
                .entry((v.module.as_slice(), v.name.as_str()))
                .or_default()
                .push(*n);
        }
        let mut outputs_of: HashMap<&[String], Vec<NodeIndex>> = HashMap::new();
        let mut output_by_name: HashMap<(&[String], &str), NodeIndex> = HashMap::new();
        for (o, n) in config.outputs.iter().zip(&output_nodes) {
            outputs_of.entry(o.module.as_slice()).or_default().push(*n);
            output_by_name.insert((o.module.as_slice(), o.name.as_str()), *n);
        }
        type Uses = [(String, Option<String>)];
        let no_uses: &Uses = &[];

        // What a reference made in module `path` depends on; `uses` says which module
        // outputs the object reads (all of them when it uses a module as a whole).
        let targets_of = |r: &Reference, path: &[String], uses: &Uses, out: &mut Vec<NodeIndex>| {
            if let Some(addr) = resource_of(r, &module_text(path)) {
                if let Some(i) = by_resource.get(&addr) {
                    out.push(resource_nodes[*i]);
                }
                return;
            }
            match r {
                Reference::Local(n) => out.extend(local_by_name.get(&(path, n.as_str()))),
                Reference::Variable(n) => {
                    out.extend(var_by_name.get(&(path, n.as_str())));
                    out.extend(
                        validations_of
                            .get(&(path, n.as_str()))
                            .into_iter()
                            .flatten(),
                    );
                }
                Reference::Module(n) => {
                    let cp = child(path, n);
                    out.extend(call_by_path.get(&cp));
                    let mine: Vec<&Option<String>> = uses
                        .iter()
                        .filter(|(c, _)| c == n)
                        .map(|(_, o)| o)
                        .collect();
                    if !mine.is_empty() && mine.iter().all(|o| o.is_some()) {
                        for o in mine.into_iter().flatten() {
                            out.extend(output_by_name.get(&(cp.as_slice(), o.as_str())));
                        }
                    } else {
                        out.extend(outputs_of.get(cp.as_slice()).into_iter().flatten());
                    }
                }
                _ => {}
            }
        };
        // `depends_on = [module.x]`: everything inside module.x.
        let depends_of = |r: &Reference, path: &[String], out: &mut Vec<NodeIndex>| {
            if let Reference::Module(n) = r {
                let cp = child(path, n);
                for (i, rp) in resource_paths.iter().enumerate() {
                    if rp.starts_with(&cp) {
                        out.push(resource_nodes[i]);
                    }
                }
            }
            targets_of(r, path, no_uses, out);
        };
        let mut edges = Vec::new();
        let mut tmp = Vec::new();
        let add =
            |edges: &mut Vec<(NodeIndex, NodeIndex)>, tmp: &mut Vec<NodeIndex>, to: NodeIndex| {
                edges.extend(tmp.drain(..).map(|t| (t, to)));
            };
        // Everything in a child module waits for its call's expansion.
        let call_edge =
            |path: &[String], to: NodeIndex, edges: &mut Vec<(NodeIndex, NodeIndex)>| {
                if let Some(c) = call_by_path.get(path) {
                    edges.push((*c, to));
                }
            };
        let uses_of = |name: &dyn Fn() -> String| -> &Uses {
            if config.module_output_uses.is_empty() {
                return no_uses;
            }
            config
                .module_output_uses
                .get(&name())
                .map_or(no_uses, |v| v.as_slice())
        };
        for (i, r) in config.resources.iter().enumerate() {
            let path = &resource_paths[i];
            let uses = uses_of(&|| r.addr.to_string());
            for rf in &r.references {
                targets_of(rf, path, uses, &mut tmp);
            }
            for rf in &r.depends_on {
                depends_of(rf, path, &mut tmp);
            }
            add(&mut edges, &mut tmp, resource_nodes[i]);
            if let Some(p) = provider_by_name.get(r.provider.as_str()) {
                edges.push((*p, resource_nodes[i]));
            }
            call_edge(path, resource_nodes[i], &mut edges);
        }
        for (i, l) in config.locals.iter().enumerate() {
            let uses = uses_of(&|| prefixed(&l.module, &format!("local.{}", l.name)));
            for rf in &l.references {
                targets_of(rf, &l.module, uses, &mut tmp);
            }
            add(&mut edges, &mut tmp, local_nodes[i]);
            call_edge(&l.module, local_nodes[i], &mut edges);
        }
        for (i, o) in config.outputs.iter().enumerate() {
            let uses = uses_of(&|| prefixed(&o.module, &format!("output.{}", o.name)));
            for rf in &o.references {
                targets_of(rf, &o.module, uses, &mut tmp);
            }
            add(&mut edges, &mut tmp, output_nodes[i]);
            call_edge(&o.module, output_nodes[i], &mut edges);
        }
        for (i, p) in config.providers.iter().enumerate() {
            let uses = uses_of(&|| format!("provider[\"{}\"]", p.name));
            let (path, _) = crate::addr::provider_module(&p.name);
            for rf in &p.references {
                targets_of(rf, &path, uses, &mut tmp);
            }
            add(&mut edges, &mut tmp, provider_nodes[i]);
            call_edge(&path, provider_nodes[i], &mut edges);
        }
        for (i, c) in config.module_calls.iter().enumerate() {
            let uses = uses_of(&|| module_text(&c.child_path()));
            for rf in &c.references {
                targets_of(rf, &c.module, uses, &mut tmp);
            }
            for rf in &c.depends_on {
                depends_of(rf, &c.module, &mut tmp);
            }
            add(&mut edges, &mut tmp, call_nodes[i]);
            call_edge(&c.module, call_nodes[i], &mut edges);
        }
        for (i, v) in config.module_variables.iter().enumerate() {
            let caller = &v.module[..v.module.len().saturating_sub(1)];
            let uses = uses_of(&|| prefixed(&v.module, &format!("var.{}", v.name)));
            for rf in &v.references {
                targets_of(rf, caller, uses, &mut tmp);
            }
            add(&mut edges, &mut tmp, var_nodes[i]);
            call_edge(&v.module, var_nodes[i], &mut edges);
        }
        let is_validation: std::collections::HashSet<NodeIndex> =
            validation_nodes.iter().copied().collect();
        for (i, v) in config.validations.iter().enumerate() {
            let n = validation_nodes[i];
            let uses = uses_of(&|| prefixed(&v.module, &format!("validation.{}.{i}", v.name)));
            for rf in &v.references {
                targets_of(rf, &v.module, uses, &mut tmp);
            }
            // Validations do not wait for one another (they only read values).
            tmp.retain(|t| !is_validation.contains(t));
            add(&mut edges, &mut tmp, n);
            call_edge(&v.module, n, &mut edges);
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

    /// The nodes in an order where every node comes after what it depends on. A cycle is
    /// a diagnostic that lists it (`a → b → a`).
    pub fn order(&self, config: &Configuration) -> Result<Vec<NodeIndex>, Diagnostic> {
        petgraph::algo::toposort(&self.graph, None).map_err(|cycle| {
            let path = self.cycle_through(cycle.node_id());
            let mut names: Vec<String> = path
                .iter()
                .map(|n| self.node_name(&self.graph[*n], config))
                .collect();
            let first = names.first().cloned().unwrap_or_default();
            if names.len() > 1 || self.graph.contains_edge(path[0], path[0]) {
                names.push(first.clone());
            }
            Diagnostic::error(
                "brick::graph::cycle",
                "Cycle in the configuration",
                format!(
                    "{first} depends, directly or indirectly, on itself: {}.",
                    names.join(" → ")
                ),
            )
            .help("Break the cycle by removing one of the references or depends_on entries.")
        })
    }

    /// The nodes of one cycle through `start`'s strongly connected component, in order
    /// (each depends on the one after it... read as "is needed by" along graph edges).
    fn cycle_through(&self, start: NodeIndex) -> Vec<NodeIndex> {
        let scc = petgraph::algo::tarjan_scc(&self.graph)
            .into_iter()
            .find(|c| c.contains(&start))
            .unwrap_or_else(|| vec![start]);
        let members: std::collections::HashSet<NodeIndex> = scc.iter().copied().collect();
        // Breadth-first search from start back to start within the component.
        let mut prev: HashMap<NodeIndex, NodeIndex> = HashMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(n) = queue.pop_front() {
            for m in self.graph.neighbors_directed(n, Direction::Outgoing) {
                if !members.contains(&m) {
                    continue;
                }
                if m == start {
                    let mut path = vec![n];
                    let mut cur = n;
                    while cur != start {
                        cur = prev[&cur];
                        path.push(cur);
                    }
                    path.reverse();
                    return path;
                }
                if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(m) {
                    e.insert(n);
                    queue.push_back(m);
                }
            }
        }
        vec![start]
    }

    /// Walks upstream from `start` (towards what it depends on), reaching each node once:
    /// `visit` says what a node reached gives (an index to collect) and whether the walk goes
    /// on past it. The indices collected, sorted.
    fn walk_upstream(
        &self,
        start: NodeIndex,
        visit: impl Fn(&Node) -> (Option<usize>, bool),
    ) -> Vec<usize> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut stack = vec![start];
        while let Some(n) = stack.pop() {
            for d in self.graph.neighbors_directed(n, Direction::Incoming) {
                if !seen.insert(d) {
                    continue;
                }
                let (collect, go_on) = visit(&self.graph[d]);
                out.extend(collect);
                if go_on {
                    stack.push(d);
                }
            }
        }
        out.sort_unstable();
        out
    }

    /// The `validation` checks (indices into `Configuration::validations`) a resource waits
    /// for: those of the variables it reads, directly or through other values.
    pub fn upstream_validations(&self, resource: usize) -> Vec<usize> {
        self.walk_upstream(self.resource_nodes[resource], |n| match *n {
            Node::Validation(i) => (Some(i), false),
            // Another resource's checks ran before it was applied.
            Node::Resource(_) | Node::Provider(_) => (None, false),
            Node::Local(_) | Node::ModuleVariable(_) | Node::ModuleCall(_) | Node::Output(_) => {
                (None, true)
            }
        })
    }

    /// The resources a resource depends on, directly or through locals, module inputs,
    /// module calls, module outputs and other resources (transitively: Terraform's
    /// `dependencies` in state lists every resource upstream, as configuration addresses
    /// without instance keys).
    pub fn resource_dependencies(&self, resource: usize) -> Vec<usize> {
        self.resources_upstream(self.resource_nodes[resource], true)
    }

    /// The resources a provider configuration (index into `Configuration::providers`)
    /// reads, as [`ConfigGraph::resource_dependencies`] finds them for a resource.
    pub fn provider_dependencies(&self, provider: usize) -> Vec<usize> {
        let Some(n) = self
            .graph
            .node_indices()
            .find(|&n| self.graph[n] == Node::Provider(provider))
        else {
            return Vec::new();
        };
        self.resources_upstream(n, true)
    }

    /// The resources a resource depends on directly: reached through locals, module inputs,
    /// module calls, module outputs and checks, not through other resources. Their own
    /// direct dependencies, transitively, give [`ConfigGraph::resource_dependencies`]; each
    /// resource so costs the edges around it, not its whole upstream.
    pub fn direct_resource_dependencies(&self, resource: usize) -> Vec<usize> {
        self.resources_upstream(self.resource_nodes[resource], false)
    }

    /// The resources upstream of `start`, reached through locals, module inputs, module calls,
    /// module outputs and checks, and, when `through_resources`, through other resources too
    /// (transitively, as Terraform records `dependencies` in state); providers stop the walk.
    fn resources_upstream(&self, start: NodeIndex, through_resources: bool) -> Vec<usize> {
        self.walk_upstream(start, |n| match *n {
            Node::Resource(i) => (Some(i), through_resources),
            Node::Provider(_) => (None, false),
            Node::Local(_)
            | Node::ModuleVariable(_)
            | Node::ModuleCall(_)
            | Node::Output(_)
            | Node::Validation(_) => (None, true),
        })
    }

    /// Every node the resources `start` depend on, directly or indirectly, `start` included.
    pub fn ancestors(&self, start: &[usize]) -> std::collections::HashSet<NodeIndex> {
        let mut seen = std::collections::HashSet::new();
        let mut stack: Vec<NodeIndex> = start.iter().map(|i| self.resource_nodes[*i]).collect();
        while let Some(n) = stack.pop() {
            if seen.insert(n) {
                stack.extend(self.graph.neighbors_directed(n, Direction::Incoming));
            }
        }
        seen
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
            Node::Local(i) => {
                let l = &config.locals[*i];
                prefixed(&l.module, &format!("local.{}", l.name))
            }
            Node::Output(i) => {
                let o = &config.outputs[*i];
                prefixed(&o.module, &format!("output.{}", o.name))
            }
            Node::Provider(i) => format!("provider[\"{}\"]", config.providers[*i].name),
            Node::ModuleCall(i) => module_text(&config.module_calls[*i].child_path()),
            Node::ModuleVariable(i) => {
                let v = &config.module_variables[*i];
                prefixed(&v.module, &format!("var.{}", v.name))
            }
            Node::Validation(i) => {
                let v = &config.validations[*i];
                prefixed(&v.module, &format!("var.{} (validation)", v.name))
            }
        }
    }
}

fn prefixed(path: &[String], name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{}.{name}", module_text(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Expansion, Lifecycle, ResourceConfig, Timeouts, constant};
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
            source: Default::default(),
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
    fn resource_dependencies_are_transitive_as_terraform_records_them() {
        let config = Configuration {
            resources: vec![res("c", &["b"]), res("b", &["a"]), res("a", &[])],
            ..Default::default()
        };
        let g = ConfigGraph::build(&config);
        assert_eq!(g.resource_dependencies(0), vec![1, 2]);
        assert_eq!(g.resource_dependencies(1), vec![2]);
        assert!(g.resource_dependencies(2).is_empty());
        assert_eq!(g.direct_resource_dependencies(0), vec![1]);
        assert_eq!(g.direct_resource_dependencies(1), vec![2]);
        assert!(g.direct_resource_dependencies(2).is_empty());
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
        assert!(
            d.detail
                .contains("brick_data.a → brick_data.b → brick_data.a")
                || d.detail
                    .contains("brick_data.b → brick_data.a → brick_data.b"),
            "{}",
            d.detail
        );
    }
}
