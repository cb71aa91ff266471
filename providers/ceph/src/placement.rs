//! Failure domains: which CRUSH buckets of a rule's failure-domain type carry OSDs, and whether
//! a replicated pool of a given size fits in them.
//!
//! Ceph accepts a pool whose `size` exceeds the failure domains its CRUSH rule can choose from
//! (3 copies, each on a different host, with 2 hosts); its placement groups then stay undersized
//! and writes hang. brick refuses such a plan. The counting is kept apart from where the
//! topology comes from: [`OsdTree`] and [`CrushRule`] read a live cluster's `osd tree` and
//! `osd crush rule dump`; [`FailureDomains::from_members`] builds the same answer from a plan
//! (the Rook provider's cluster nodes and their devices), so both providers give one message.

use std::collections::BTreeMap;

use serde_json::Value as Json;

/// The failure domains of one CRUSH type that carry OSDs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureDomains {
    /// The CRUSH type replicas are spread over: `host`, `osd`, `rack`, …
    pub kind: String,
    /// Each domain that carries at least one OSD, with the OSDs it carries (sorted by name).
    pub domains: BTreeMap<String, Vec<String>>,
}

impl FailureDomains {
    /// Failure domains given directly, e.g. the hosts of a planned cluster with their OSD
    /// devices. Members without OSDs are left out.
    pub fn from_members<I, N, O>(kind: impl Into<String>, members: I) -> FailureDomains
    where
        I: IntoIterator<Item = (N, Vec<O>)>,
        N: Into<String>,
        O: Into<String>,
    {
        let mut domains = BTreeMap::new();
        for (name, osds) in members {
            let mut osds: Vec<String> = osds.into_iter().map(Into::into).collect();
            if osds.is_empty() {
                continue;
            }
            osds.sort();
            domains.insert(name.into(), osds);
        }
        FailureDomains {
            kind: kind.into(),
            domains,
        }
    }

    /// How many failure domains carry OSDs.
    pub fn count(&self) -> usize {
        self.domains.len()
    }

    /// `1 host carries OSDs: vm (osd.0)` — the domains and what they hold, for messages.
    pub fn describe(&self) -> String {
        let n = self.count();
        if self.kind == "osd" {
            let verb = if n == 1 { "receives" } else { "receive" };
            let names: Vec<&str> = self.domains.keys().map(String::as_str).collect();
            return match n {
                0 => "no OSD receives data".to_string(),
                _ => format!("{n} {} {verb} data: {}", plural("osd", n), names.join(", ")),
            };
        }
        if n == 0 {
            return format!("no {} carries OSDs", self.kind);
        }
        let list: Vec<String> = self
            .domains
            .iter()
            .map(|(name, osds)| format!("{name} ({})", osds.join(", ")))
            .collect();
        let verb = if n == 1 { "carries" } else { "carry" };
        format!(
            "{n} {} {verb} OSDs: {}",
            plural(&self.kind, n),
            list.join(", ")
        )
    }
}

/// The name of `n` buckets of type `kind`: `1 host`, `2 hosts`, `1 OSD`.
fn plural(kind: &str, n: usize) -> String {
    let kind = if kind == "osd" { "OSD" } else { kind };
    if n == 1 {
        kind.to_string()
    } else {
        format!("{kind}s")
    }
}

/// Why a replicated pool cannot be placed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SizeProblem {
    /// The copies asked for.
    pub size: u64,
    /// The failure domains available.
    pub domains: FailureDomains,
}

impl SizeProblem {
    /// A full sentence: the numbers, the rule and the domains by name.
    pub fn detail(&self, pool: &str, rule: &str) -> String {
        let kind = plural(&self.domains.kind, 1);
        format!(
            "Pool \"{pool}\" asks for {size} copies, each on a different {kind} (CRUSH rule \"{rule}\"), \
             but {have}. Ceph would accept the pool, but its placement groups would stay undersized \
             and writes to it would hang.",
            size = self.size,
            have = self.domains.describe(),
        )
    }

    /// What the user can do.
    pub fn help(&self) -> String {
        let kind = &self.domains.kind;
        let have = self.domains.count();
        let size = self.size as usize;
        let add = |n: usize| {
            if kind == "osd" {
                format!("add {n} more {}", plural(kind, n))
            } else {
                format!("add OSDs on {n} more {}", plural(kind, n))
            }
        };
        let first = if have == 0 {
            add(size)
        } else {
            format!("lower size to {have}, or {}", add(size - have))
        };
        format!("{first}; or use a CRUSH rule whose failure domain has enough members.")
    }
}

/// Whether `size` copies fit in `domains`: `Err` with the numbers when they do not.
pub fn check_size(size: u64, domains: &FailureDomains) -> Result<(), SizeProblem> {
    if size as usize > domains.count() {
        Err(SizeProblem {
            size,
            domains: domains.clone(),
        })
    } else {
        Ok(())
    }
}

/// One CRUSH rule, as `osd crush rule dump` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrushRule {
    pub id: i64,
    pub name: String,
    /// 1 replicated, 3 erasure.
    pub rule_type: i64,
    /// The bucket the rule starts from (`default`), without a device class.
    pub root: Option<String>,
    /// The device class of a `take default~ssd` step.
    pub device_class: Option<String>,
    /// The bucket type replicas are spread over: the type of the rule's one choose step.
    /// `None` for rules with several choose steps (brick does not judge those).
    pub failure_domain: Option<String>,
}

impl CrushRule {
    /// Every rule in the output of `osd crush rule dump`.
    pub fn parse_all(dump: &Json) -> Vec<CrushRule> {
        dump.as_array()
            .map(|rules| rules.iter().map(CrushRule::parse).collect())
            .unwrap_or_default()
    }

    fn parse(rule: &Json) -> CrushRule {
        let steps = rule["steps"].as_array().cloned().unwrap_or_default();
        let mut root = None;
        let mut device_class = None;
        let mut chooses = Vec::new();
        for step in &steps {
            let op = step["op"].as_str().unwrap_or("");
            if op == "take" {
                let item = step["item_name"].as_str().unwrap_or("");
                match item.split_once('~') {
                    Some((r, class)) => {
                        root = Some(r.to_string());
                        device_class = Some(class.to_string());
                    }
                    None => root = Some(item.to_string()),
                }
            } else if op.starts_with("choose") {
                chooses.push(step["type"].as_str().unwrap_or("").to_string());
            }
        }
        let failure_domain = if chooses.len() == 1 {
            chooses.pop()
        } else {
            None
        };
        CrushRule {
            id: rule["rule_id"].as_i64().unwrap_or(-1),
            name: rule["rule_name"].as_str().unwrap_or("").to_string(),
            rule_type: rule["type"].as_i64().unwrap_or(1),
            root,
            device_class,
            failure_domain,
        }
    }
}

/// The rule Ceph gives a new replicated pool when none is named: the replicated rule with the
/// lowest id (what `osd_pool_default_crush_rule = -1`, the default, means).
pub fn default_replicated_rule(rules: &[CrushRule]) -> Option<&CrushRule> {
    rules
        .iter()
        .filter(|r| r.rule_type == 1)
        .min_by_key(|r| r.id)
}

/// A bucket or OSD of the CRUSH map, as `osd tree` lists it.
#[derive(Clone, Debug)]
struct Node {
    name: String,
    kind: String,
    children: Vec<i64>,
    device_class: Option<String>,
    /// In the cluster (reweight above 0) and with CRUSH weight: it receives data.
    carries_data: bool,
}

/// The CRUSH hierarchy of a live cluster, from `osd tree --format json`.
#[derive(Clone, Debug, Default)]
pub struct OsdTree {
    nodes: BTreeMap<i64, Node>,
}

impl OsdTree {
    pub fn parse(tree: &Json) -> OsdTree {
        let mut nodes = BTreeMap::new();
        for n in tree["nodes"].as_array().into_iter().flatten() {
            let Some(id) = n["id"].as_i64() else { continue };
            let reweight = n["reweight"].as_f64().unwrap_or(0.0);
            let weight = n["crush_weight"].as_f64().unwrap_or(0.0);
            nodes.insert(
                id,
                Node {
                    name: n["name"].as_str().unwrap_or("").to_string(),
                    kind: n["type"].as_str().unwrap_or("").to_string(),
                    children: n["children"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Json::as_i64)
                        .collect(),
                    device_class: n["device_class"].as_str().map(str::to_string),
                    carries_data: id >= 0 && reweight > 0.0 && weight > 0.0,
                },
            );
        }
        OsdTree { nodes }
    }

    /// The hosts and the OSDs under each, whatever a pool's rule: for status reports.
    pub fn hosts(&self) -> BTreeMap<String, Vec<String>> {
        let mut out = BTreeMap::new();
        for n in self.nodes.values().filter(|n| n.kind == "host") {
            let osds = n
                .children
                .iter()
                .filter_map(|c| self.nodes.get(c))
                .filter(|c| c.kind == "osd")
                .map(|c| c.name.clone())
                .collect();
            out.insert(n.name.clone(), osds);
        }
        out
    }

    /// The failure domains `rule` can place replicas in: the buckets of its failure-domain
    /// type under its root that hold OSDs receiving data (of its device class, if any).
    /// `None` when the rule is not one brick can judge (several choose steps, a missing root).
    pub fn domains(&self, rule: &CrushRule) -> Option<FailureDomains> {
        let kind = rule.failure_domain.clone()?;
        let root_name = rule.root.as_deref()?;
        let (&root, _) = self.nodes.iter().find(|(_, n)| n.name == root_name)?;
        let mut domains: BTreeMap<String, Vec<String>> = BTreeMap::new();
        // Depth-first from the root, carrying the domain bucket met on the way down.
        let mut stack: Vec<(i64, Option<String>)> = vec![(root, None)];
        while let Some((id, domain)) = stack.pop() {
            let Some(node) = self.nodes.get(&id) else {
                continue;
            };
            let domain = if node.kind == kind {
                Some(node.name.clone())
            } else {
                domain
            };
            if id >= 0 {
                let class_ok = rule
                    .device_class
                    .as_ref()
                    .is_none_or(|c| node.device_class.as_ref() == Some(c));
                if let (true, true, Some(d)) = (node.carries_data, class_ok, domain) {
                    domains.entry(d).or_default().push(node.name.clone());
                }
                continue;
            }
            for c in &node.children {
                stack.push((*c, domain.clone()));
            }
        }
        for osds in domains.values_mut() {
            osds.sort();
        }
        Some(FailureDomains { kind, domains })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Two hosts: a with osd.0 (hdd) and osd.1 (ssd), b with osd.2 (hdd, out); host c empty.
    fn tree() -> OsdTree {
        OsdTree::parse(&json!({"nodes": [
            {"id": -1, "name": "default", "type": "root", "children": [-2, -3, -4]},
            {"id": -2, "name": "a", "type": "host", "children": [0, 1]},
            {"id": -3, "name": "b", "type": "host", "children": [2]},
            {"id": -4, "name": "c", "type": "host", "children": []},
            {"id": 0, "name": "osd.0", "type": "osd", "device_class": "hdd", "crush_weight": 1.0, "reweight": 1},
            {"id": 1, "name": "osd.1", "type": "osd", "device_class": "ssd", "crush_weight": 1.0, "reweight": 1},
            {"id": 2, "name": "osd.2", "type": "osd", "device_class": "hdd", "crush_weight": 1.0, "reweight": 0}
        ], "stray": []}))
    }

    fn rule(take: &str, chooses: &[&str]) -> CrushRule {
        let mut steps = vec![json!({"op": "take", "item": -1, "item_name": take})];
        for c in chooses {
            steps.push(json!({"op": "chooseleaf_firstn", "num": 0, "type": c}));
        }
        steps.push(json!({"op": "emit"}));
        CrushRule::parse(&json!({"rule_id": 0, "rule_name": "r", "type": 1, "steps": steps}))
    }

    #[test]
    fn a_host_rule_counts_hosts_whose_osds_receive_data() {
        let d = tree().domains(&rule("default", &["host"])).unwrap();
        assert_eq!(d.kind, "host");
        assert_eq!(d.count(), 1, "b's only OSD is out, c has none: {d:?}");
        assert_eq!(d.describe(), "1 host carries OSDs: a (osd.0, osd.1)");
    }

    #[test]
    fn an_osd_rule_counts_osds() {
        let d = tree().domains(&rule("default", &["osd"])).unwrap();
        assert_eq!(d.count(), 2);
        assert_eq!(d.describe(), "2 OSDs receive data: osd.0, osd.1");
    }

    #[test]
    fn a_device_class_rule_counts_only_that_class() {
        let r = rule("default~ssd", &["osd"]);
        assert_eq!(r.device_class.as_deref(), Some("ssd"));
        let d = tree().domains(&r).unwrap();
        assert_eq!(d.domains.keys().collect::<Vec<_>>(), ["osd.1"]);
    }

    #[test]
    fn rules_with_several_choose_steps_or_a_missing_root_are_not_judged() {
        assert_eq!(tree().domains(&rule("default", &["rack", "host"])), None);
        assert_eq!(tree().domains(&rule("nowhere", &["host"])), None);
    }

    #[test]
    fn a_size_above_the_domains_is_a_problem_that_names_them() {
        let d = tree().domains(&rule("default", &["host"])).unwrap();
        assert!(check_size(1, &d).is_ok());
        let p = check_size(2, &d).unwrap_err();
        let text = p.detail("data", "replicated_host");
        assert!(
            text.contains("asks for 2 copies, each on a different host"),
            "{text}"
        );
        assert!(
            text.contains("1 host carries OSDs: a (osd.0, osd.1)"),
            "{text}"
        );
        assert_eq!(
            p.help(),
            "lower size to 1, or add OSDs on 1 more host; or use a CRUSH rule whose failure domain has enough members."
        );
    }

    #[test]
    fn planned_hosts_count_as_the_live_tree_does() {
        let d = FailureDomains::from_members(
            "host",
            [
                ("node1", vec!["/dev/vg/ceph"]),
                ("node2", vec![]),
                ("node3", vec!["/dev/sdb"]),
            ],
        );
        assert_eq!(d.count(), 2);
        assert!(check_size(3, &d).is_err());
        assert_eq!(
            d.describe(),
            "2 hosts carry OSDs: node1 (/dev/vg/ceph), node3 (/dev/sdb)"
        );
    }

    #[test]
    fn the_default_rule_is_the_lowest_replicated_one() {
        let rules = CrushRule::parse_all(&json!([
            {"rule_id": 2, "rule_name": "b", "type": 1, "steps": []},
            {"rule_id": 1, "rule_name": "ec", "type": 3, "steps": []},
            {"rule_id": 0, "rule_name": "a", "type": 1, "steps": []}
        ]));
        assert_eq!(default_replicated_rule(&rules).unwrap().name, "a");
    }

    #[test]
    fn the_peer_cluster_tree_gives_one_osd_domain_and_one_host() {
        // As `osd tree` and `osd crush rule dump` print them on the test peer (1 host, 1 OSD,
        // `osd crush chooseleaf type = 0`).
        let t = OsdTree::parse(&json!({"nodes":[
            {"id":-1,"name":"default","type":"root","type_id":11,"children":[-3]},
            {"id":-3,"name":"vm","type":"host","type_id":1,"pool_weights":{},"children":[0]},
            {"id":0,"device_class":"hdd","name":"osd.0","type":"osd","type_id":0,"crush_weight":0.0077972412109375,"depth":2,"pool_weights":{},"exists":1,"status":"up","reweight":1,"primary_affinity":1}
        ],"stray":[]}));
        let rules = CrushRule::parse_all(
            &json!([{"rule_id":0,"rule_name":"replicated_rule","ruleset":0,"type":1,"min_size":1,"max_size":10,"steps":[{"op":"take","item":-1,"item_name":"default"},{"op":"choose_firstn","num":0,"type":"osd"},{"op":"emit"}]}]),
        );
        let d = t.domains(&rules[0]).unwrap();
        assert_eq!(d.describe(), "1 OSD receives data: osd.0");
        let text = check_size(2, &d)
            .unwrap_err()
            .detail("p", "replicated_rule");
        assert!(text.contains("2 copies, each on a different OSD"), "{text}");
        assert_eq!(t.hosts()["vm"], ["osd.0"]);
    }
}
