//! Retainer paths: how a GC root reaches an object, found by one breadth-first search from the
//! root over retaining edges (so each path is a shortest one), then read backwards per object.

use super::graph::{HeapGraph, ROOT};
use super::memory as mem;

/// For each node, the edge it was first reached by from the root (`u32::MAX`: unreached).
pub struct ShortestPaths {
    via: Vec<u32>,
    /// Reached nodes in BFS order (every node after the owner of its edge).
    order: Vec<u32>,
}

const UNREACHED: u32 = u32::MAX;
const START: u32 = u32::MAX - 1;

/// One step of a path: the edge into `node` (as DevTools labels it) and the node.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub edge: String,
    pub node: u32,
}

impl ShortestPaths {
    /// BFS from the root over retaining edges, in DevTools' order: first from the user roots
    /// (the global objects, which the root reaches by shortcut edges), then from the other GC
    /// roots. So an object your code holds gets the path through your code, not the shorter
    /// one through a handle or stack slot that happens to point at it too.
    pub fn new(g: &HeapGraph) -> mem::Fallible<ShortestPaths> {
        let n = g.node_count();
        let mut via = mem::filled(n, UNREACHED, "the retainer paths")?;
        // The queue is the BFS order itself: a vector read from the front. Each node enters it
        // once at most, so it never grows past its room.
        let mut order = mem::with_capacity(n, "the retainer paths")?;
        order.push(ROOT);
        via[ROOT as usize] = START;
        let root_edges = g.first_edge[ROOT as usize]..g.first_edge[ROOT as usize + 1];
        let mut head = 1;
        // memwatch-rs's own emitter holds the program's listeners: a path through it would
        // explain a leak by the tool watching it. Edges into it wait until nothing else is left.
        let ours = g.node_types.iter().position(|t| t == "object").map(|t| (t as u8, g.string_index("Memwatch")));
        let is_ours = |w: u32| ours.is_some_and(|(t, name)| g.node_type[w as usize] == t && Some(g.node_name[w as usize]) == name);
        let mut deferred: Vec<u32> = Vec::new();
        for pass in 0..3 {
            if pass < 2 {
                let user_roots_first = pass == 0;
                for e in root_edges.clone() {
                    let w = g.edge_to[e as usize];
                    if via[w as usize] == UNREACHED && g.retains(ROOT, e) && g.is_shortcut(e) == user_roots_first {
                        via[w as usize] = e;
                        order.push(w);
                    }
                }
            } else {
                for &e in &deferred {
                    let w = g.edge_to[e as usize];
                    if via[w as usize] == UNREACHED {
                        via[w as usize] = e;
                        order.push(w);
                    }
                }
            }
            while head < order.len() {
                let v = order[head];
                head += 1;
                for e in g.first_edge[v as usize]..g.first_edge[v as usize + 1] {
                    let w = g.edge_to[e as usize];
                    if via[w as usize] == UNREACHED && g.retains(v, e) {
                        if pass < 2 && is_ours(w) {
                            mem::push(&mut deferred, e, "the retainer paths")?;
                            continue;
                        }
                        via[w as usize] = e;
                        order.push(w);
                    }
                }
            }
        }
        Ok(ShortestPaths { via, order })
    }

    /// Whether a retaining path from the root reaches `node`.
    pub fn reached(&self, node: u32) -> bool {
        self.via[node as usize] != UNREACHED
    }

    /// The path from the root to `target`, root side first, at most `limit` steps (the steps
    /// nearest the target are kept). Empty when the target is unreached or the root itself.
    pub fn path(&self, g: &HeapGraph, target: u32, limit: usize) -> Vec<Step> {
        let mut steps = Vec::new();
        let mut v = target;
        while v != ROOT && steps.len() < limit {
            let e = self.via[v as usize];
            if e >= START {
                break;
            }
            steps.push(Step { edge: g.edge_label(e), node: v });
            v = g.edge_owner(e);
        }
        steps.reverse();
        steps
    }

    /// Reached nodes, the root first, each after the owner of the edge it was reached by.
    pub fn order(&self) -> &[u32] {
        &self.order
    }

    /// The edge `node` was reached by, if any.
    pub fn edge_into(&self, node: u32) -> Option<u32> {
        let e = self.via[node as usize];
        (e < START).then_some(e)
    }
}

/// A path leaf first, the way a person asks "who holds this?":
/// `RequestLog @123 <- [1234] in Array @45 <- logs in Object @67 <- ...`.
/// `target` is the object the steps lead to (it names it when no retaining path does).
pub fn describe_leaf_first(g: &HeapGraph, target: u32, steps: &[Step]) -> String {
    if steps.is_empty() {
        return format!("{} @{} (no retaining path from a GC root: held weakly or by nothing)", g.display_name(target), g.node_id(target));
    }
    // The program's own module is where a reader stops: what holds a module (require.cache,
    // node's bootstrap, process.mainModule) is node's business, not the leak's.
    if let Some(k) = steps[..steps.len() - 1].iter().rposition(|s| g.is_module_scope(s.node)) {
        let kept = &steps[k + 1..];
        let mut out = format!("{} @{}", g.display_name(target), g.node_id(target));
        for (i, s) in kept.iter().enumerate().rev() {
            let owner = if i > 0 { kept[i - 1].node } else { steps[k].node };
            out.push_str(&format!(" <- {} in {} @{}", s.edge, g.display_name(owner), g.node_id(owner)));
        }
        return out;
    }
    let mut out = String::new();
    for (i, s) in steps.iter().rev().enumerate() {
        let owner = if i + 1 < steps.len() { Some(steps[steps.len() - 2 - i].node) } else { None };
        if i == 0 {
            out.push_str(&format!("{} @{}", g.display_name(s.node), g.node_id(s.node)));
        }
        match owner {
            Some(o) => out.push_str(&format!(" <- {} in {} @{}", s.edge, g.display_name(o), g.node_id(o))),
            None => out.push_str(&format!(" <- {} in (root)", s.edge)),
        }
    }
    out
}

/// For HeapDiff's `retainers` option: for each memwatch class name in `classes`, the newest
/// instance that `is_new` (not in the before snapshot; V8 gives new JS objects ever higher
/// ids) and its shortest retainer path.
pub fn samples_with_paths(g: &HeapGraph, is_new: impl Fn(u64) -> bool, classes: &[String]) -> mem::Fallible<Vec<SamplePath>> {
    let mut newest: Vec<Option<u32>> = vec![None; classes.len()];
    let wanted: std::collections::HashMap<&str, usize> = classes.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
    for v in 0..g.node_count() as u32 {
        let id = g.node_id(v);
        let type_name = g.type_name(v);
        let Some(what) = crate::summary::memwatch_name(type_name, g.string(g.node_name[v as usize])) else { continue };
        if let Some(&i) = wanted.get(what) {
            if newest[i].is_none_or(|n| g.node_id(n) < id) && is_new(id) {
                newest[i] = Some(v);
            }
        }
    }
    let paths = ShortestPaths::new(g)?;
    Ok(classes
        .iter()
        .zip(newest)
        .filter_map(|(class, sample)| {
            let v = sample?;
            let steps = paths.path(g, v, 64);
            Some(SamplePath {
                what: class.clone(),
                id: g.node_id(v),
                path: describe_leaf_first(g, v, &steps),
                steps: steps.iter().map(|s| (s.edge.clone(), g.display_name(s.node), g.node_id(s.node))).collect(),
                location: g.location(v),
            })
        })
        .collect())
}

/// One sampled instance and how the heap holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplePath {
    pub what: String,
    pub id: u64,
    /// Leaf first: `RequestLog @123 <- [1234] in Array @45 <- logs in Object @67 <- ...`.
    pub path: String,
    /// Root side first: (edge label, name, id).
    pub steps: Vec<(String, String, u64)>,
    /// The sample's constructor (or function) location, when V8 recorded one.
    pub location: Option<super::graph::Location>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::testutil::synthetic;

    #[test]
    fn user_roots_come_first_even_when_a_gc_root_is_closer() {
        // root -[0]-> (Handles) -[0]-> X ; root -shortcut-> global -a-> B -b-> X
        let g = synthetic(
            &[("synthetic", "", 0, 1), ("synthetic", "(Handles)", 0, 3), ("object", "global", 8, 5), ("object", "B", 8, 7), ("object", "X", 8, 9)],
            &[(0, "element", "0", 1), (1, "element", "0", 4), (0, "shortcut", "global", 2), (2, "property", "a", 3), (3, "property", "b", 4)],
        );
        let p = ShortestPaths::new(&g).unwrap();
        let steps = p.path(&g, 4, 64);
        let labels: Vec<_> = steps.iter().map(|s| s.edge.as_str()).collect();
        assert_eq!(labels, ["global", "a", "b"], "through the program's objects, not the handle");
        assert_eq!(describe_leaf_first(&g, 4, &steps), "X @9 <- b in B @7 <- a in global @5 <- global in (root)");
        // The handle scope itself is still reached (from the other roots).
        assert!(p.reached(1));
    }

    #[test]
    fn weakly_held_objects_have_no_path_and_say_so() {
        let g = synthetic(
            &[("synthetic", "", 0, 1), ("object", "global", 8, 3), ("object", "W", 8, 5)],
            &[(0, "shortcut", "global", 1), (1, "weak", "w", 2)],
        );
        let p = ShortestPaths::new(&g).unwrap();
        assert!(!p.reached(2));
        assert!(p.path(&g, 2, 64).is_empty());
        assert!(describe_leaf_first(&g, 2, &[]).contains("no retaining path"));
    }

    #[test]
    fn heapdiff_samples_pick_the_newest_new_instance_per_class() {
        let g = synthetic(
            &[("synthetic", "", 0, 1), ("object", "global", 8, 3), ("object", "Log", 8, 5), ("object", "Log", 8, 7), ("object", "Log", 8, 9), ("array", "", 8, 11)],
            &[(0, "shortcut", "global", 1), (1, "property", "logs", 5), (5, "element", "0", 2), (5, "element", "1", 3), (5, "element", "2", 4)],
        );
        // Ids 5 and 7 existed before; 9 is new.
        let s = samples_with_paths(&g, |id| id > 7, &["Log".to_string(), "Array".to_string(), "Missing".to_string()]).unwrap();
        assert_eq!(s.len(), 2, "a class with no new instance is skipped: {s:?}");
        assert_eq!((s[0].what.as_str(), s[0].id), ("Log", 9));
        assert_eq!(s[0].path, "Log @9 <- [2] in (array) @11 <- logs in global @3 <- global in (root)");
        assert_eq!(s[1].what, "Array");
    }
}
