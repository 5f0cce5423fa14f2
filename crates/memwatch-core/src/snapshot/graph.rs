//! The heap graph as flat arrays, and the analysis passes over it, in the manner of Chrome
//! DevTools' heap snapshot worker: one function per pass, typed arrays indexed by node ordinal,
//! no object per node, and no recursion anywhere (a million-deep list is just a long loop).
//!
//! Edge rules are DevTools': weak edges never retain; shortcut edges retain only from the root
//! (they mark user roots there); nodes reachable only through such edges, or not at all, are
//! attached to the root so that the root retains the whole heap.

use super::reader::RawSnapshot;

const NONE: u32 = u32::MAX;

/// Nodes and edges in CSR form, with the retainers precomputed.
#[derive(Debug, Default)]
pub struct HeapGraph {
    pub node_type: Vec<u8>,
    pub node_name: Vec<u32>,
    pub node_id: Vec<u64>,
    pub self_size: Vec<u64>,
    /// Edges of node `n` are `first_edge[n]..first_edge[n + 1]`.
    pub first_edge: Vec<u32>,
    pub edge_type: Vec<u8>,
    /// A string index for named edges, the element/hidden index otherwise.
    pub edge_name: Vec<u32>,
    /// Target node ordinal.
    pub edge_to: Vec<u32>,
    /// Retainers of node `n`: edges `retaining_edge[first_retainer[n]..first_retainer[n + 1]]`,
    /// whose owners are the matching `retaining_node` entries.
    pub first_retainer: Vec<u32>,
    pub retaining_edge: Vec<u32>,
    pub retaining_node: Vec<u32>,
    pub node_types: Vec<String>,
    pub edge_types: Vec<String>,
    pub strings: Vec<Box<str>>,
    weak_edge: Option<u8>,
    shortcut_edge: Option<u8>,
}

impl HeapGraph {
    /// Converts a validated snapshot into the graph (the reader has checked every reference).
    /// Each raw array is dropped as soon as its columns are built, so the peak is one array's
    /// worth above the graph, not the whole snapshot twice.
    pub fn from_raw(raw: RawSnapshot) -> Result<HeapGraph, String> {
        let RawSnapshot { meta: m, nodes, edges, wide_node_values, string_bytes, string_ends } = raw;
        let nf = m.node_fields.len();
        let ef = m.edge_fields.len();
        let n = m.node_count as usize;
        let e = m.edge_count as usize;
        if n == 0 {
            return Err("the snapshot has no nodes".into());
        }
        if n >= NONE as usize || e >= NONE as usize {
            return Err(format!("{n} nodes / {e} edges is beyond what this analyzer indexes (2^32)"));
        }
        let field = |fields: &[String], f: &str| fields.iter().position(|x| x == f).ok_or(format!("no {f} field"));
        let (nt, nn, ni, ns, ne) = (
            field(&m.node_fields, "type")?,
            field(&m.node_fields, "name")?,
            field(&m.node_fields, "id")?,
            field(&m.node_fields, "self_size")?,
            field(&m.node_fields, "edge_count")?,
        );
        let (et, en, eto) = (field(&m.edge_fields, "type")?, field(&m.edge_fields, "name_or_index")?, field(&m.edge_fields, "to_node")?);
        let wide: std::collections::HashMap<usize, u64> = wide_node_values.into_iter().collect();
        let value = |i: usize| wide.get(&i).copied().unwrap_or(u64::from(nodes[i]));

        let mut g = HeapGraph {
            node_type: Vec::with_capacity(n),
            node_name: Vec::with_capacity(n),
            node_id: Vec::with_capacity(n),
            self_size: Vec::with_capacity(n),
            first_edge: Vec::with_capacity(n + 1),
            node_types: m.node_types.clone(),
            edge_types: m.edge_types.clone(),
            ..HeapGraph::default()
        };
        let mut edge_at = 0u32;
        for i in 0..n {
            let base = i * nf;
            g.node_type.push(nodes[base + nt] as u8);
            g.node_name.push(nodes[base + nn]);
            g.node_id.push(value(base + ni));
            g.self_size.push(value(base + ns));
            g.first_edge.push(edge_at);
            edge_at += nodes[base + ne];
        }
        g.first_edge.push(edge_at);
        drop(nodes);
        g.edge_type.reserve_exact(e);
        g.edge_name.reserve_exact(e);
        g.edge_to.reserve_exact(e);
        for edge in edges.chunks_exact(ef) {
            g.edge_type.push(edge[et] as u8);
            g.edge_name.push(edge[en]);
            g.edge_to.push(edge[eto] / nf as u32);
        }
        drop(edges);
        let mut start = 0;
        g.strings = string_ends
            .iter()
            .map(|&end| {
                let s = String::from_utf8_lossy(&string_bytes[start..end]).into_owned().into_boxed_str();
                start = end;
                s
            })
            .collect();
        drop(string_bytes);
        g.weak_edge = g.edge_types.iter().position(|t| t == "weak").map(|p| p as u8);
        g.shortcut_edge = g.edge_types.iter().position(|t| t == "shortcut").map(|p| p as u8);
        g.build_retainers();
        Ok(g)
    }

    pub fn node_count(&self) -> usize {
        self.node_type.len()
    }

    /// Counting sort of edges by target: retainers in CSR form.
    fn build_retainers(&mut self) {
        let n = self.node_count();
        let mut first = vec![0u32; n + 1];
        for &to in &self.edge_to {
            first[to as usize + 1] += 1;
        }
        for i in 0..n {
            first[i + 1] += first[i];
        }
        let mut fill = first.clone();
        let e = self.edge_to.len();
        self.retaining_edge = vec![0; e];
        self.retaining_node = vec![0; e];
        for from in 0..n {
            for edge in self.first_edge[from]..self.first_edge[from + 1] {
                let to = self.edge_to[edge as usize] as usize;
                let slot = fill[to] as usize;
                self.retaining_edge[slot] = edge;
                self.retaining_node[slot] = from as u32;
                fill[to] += 1;
            }
        }
        self.first_retainer = first;
    }

    /// The node an edge leaves from (binary search over `first_edge`).
    pub fn edge_owner(&self, edge: u32) -> u32 {
        (self.first_edge.partition_point(|&f| f <= edge) - 1) as u32
    }

    /// How DevTools labels an edge: `[i]` for elements, the property name otherwise.
    pub fn edge_label(&self, edge: u32) -> String {
        let t = self.edge_types.get(self.edge_type[edge as usize] as usize).map(String::as_str).unwrap_or("");
        let name = self.edge_name[edge as usize];
        match t {
            "element" | "hidden" => format!("[{name}]"),
            _ => self.string(name).to_string(),
        }
    }

    /// DevTools' rule: does this edge, leaving `from`, retain its target?
    pub fn retains(&self, from: u32, edge: u32) -> bool {
        let t = Some(self.edge_type[edge as usize]);
        t != self.weak_edge && (t != self.shortcut_edge || from == ROOT)
    }

    /// The name of a string index ("" when out of range).
    pub fn string(&self, i: u32) -> &str {
        self.strings.get(i as usize).map(|s| &**s).unwrap_or("")
    }

    /// DevTools' class name of a node: constructor name for objects and natives, `(system)`
    /// for hidden nodes, `(compiled code)` for code, `(<type>)` for the rest.
    pub fn class_name(&self, node: u32) -> String {
        let t = self.node_types.get(self.node_type[node as usize] as usize).map(String::as_str).unwrap_or("");
        match t {
            "object" | "native" => self.string(self.node_name[node as usize]).to_string(),
            "hidden" => "(system)".to_string(),
            "code" => "(compiled code)".to_string(),
            other => format!("({other})"),
        }
    }
}

/// The snapshot's root: node 0, by V8's construction.
pub const ROOT: u32 = 0;

/// Result of the dominator pass.
#[derive(Debug)]
pub struct Dominators {
    /// Immediate dominator of each node (the root is its own).
    pub idom: Vec<u32>,
    /// Retained size of each node: its self size plus everything it alone keeps alive.
    pub retained: Vec<u64>,
    /// Nodes in DFS preorder from the root over essential edges, then the nodes that were not
    /// reached (attached to the root).
    pub order: Vec<u32>,
}

impl Dominators {
    /// The dominator tree's children of every node in CSR form: children of `v` are
    /// `list[first[v]..first[v + 1]]`.
    pub fn children(&self) -> (Vec<u32>, Vec<u32>) {
        let n = self.idom.len();
        let mut first = vec![0u32; n + 1];
        for v in 0..n {
            if v as u32 != ROOT {
                first[self.idom[v] as usize + 1] += 1;
            }
        }
        for i in 0..n {
            first[i + 1] += first[i];
        }
        let mut fill = first.clone();
        let mut list = vec![0u32; n.saturating_sub(1)];
        for v in 0..n {
            if v as u32 != ROOT {
                let p = self.idom[v] as usize;
                list[fill[p] as usize] = v as u32;
                fill[p] += 1;
            }
        }
        (first, list)
    }
}

/// Lengauer-Tarjan (simple version, path compression), iterative throughout.
pub fn dominators(g: &HeapGraph) -> Dominators {
    let n = g.node_count();
    // 1. DFS preorder numbering from the root over essential edges.
    let mut dfnum = vec![NONE; n];
    let mut vertex: Vec<u32> = Vec::with_capacity(n);
    let mut parent = vec![NONE; n];
    let mut stack: Vec<(u32, u32)> = vec![(ROOT, g.first_edge[ROOT as usize])];
    dfnum[ROOT as usize] = 0;
    vertex.push(ROOT);
    while let Some(top) = stack.last_mut() {
        let (v, next) = *top;
        if next >= g.first_edge[v as usize + 1] {
            stack.pop();
            continue;
        }
        top.1 += 1;
        if !g.retains(v, next) {
            continue;
        }
        let w = g.edge_to[next as usize];
        if dfnum[w as usize] == NONE {
            dfnum[w as usize] = vertex.len() as u32;
            vertex.push(w);
            parent[w as usize] = v;
            stack.push((w, g.first_edge[w as usize]));
        }
    }
    let reached = vertex.len();

    // 2. Semi-dominators and implicit idoms, vertices in reverse preorder.
    let mut semi: Vec<u32> = (0..n as u32).map(|v| dfnum[v as usize]).collect();
    let mut idom = vec![NONE; n];
    let mut ancestor = vec![NONE; n];
    let mut best: Vec<u32> = (0..n as u32).collect();
    let mut bucket_head = vec![NONE; n];
    let mut bucket_next = vec![NONE; n];
    let mut path: Vec<u32> = Vec::new();
    for i in (1..reached).rev() {
        let w = vertex[i];
        let p = parent[w as usize];
        for r in g.first_retainer[w as usize]..g.first_retainer[w as usize + 1] {
            let v = g.retaining_node[r as usize];
            if dfnum[v as usize] == NONE || !g.retains(v, g.retaining_edge[r as usize]) {
                continue;
            }
            let u = eval(v, &mut ancestor, &mut best, &semi, &mut path);
            if semi[u as usize] < semi[w as usize] {
                semi[w as usize] = semi[u as usize];
            }
        }
        let s = vertex[semi[w as usize] as usize];
        bucket_next[w as usize] = bucket_head[s as usize];
        bucket_head[s as usize] = w;
        ancestor[w as usize] = p; // link(p, w)
        let mut v = bucket_head[p as usize];
        bucket_head[p as usize] = NONE;
        while v != NONE {
            let next = bucket_next[v as usize];
            let u = eval(v, &mut ancestor, &mut best, &semi, &mut path);
            idom[v as usize] = if semi[u as usize] < semi[v as usize] { u } else { p };
            v = next;
        }
    }
    // 3. Explicit idoms in preorder.
    idom[ROOT as usize] = ROOT;
    for &w in &vertex[1..] {
        let s = vertex[semi[w as usize] as usize];
        if idom[w as usize] != s {
            idom[w as usize] = idom[idom[w as usize] as usize];
        }
    }
    // Unreached (weakly held or garbage) nodes hang off the root.
    let mut order = vertex;
    for v in 0..n as u32 {
        if dfnum[v as usize] == NONE {
            idom[v as usize] = ROOT;
            order.push(v);
        }
    }
    // 4. Retained sizes: children before their dominators (reverse preorder works because a
    //    dominator precedes everything it dominates in preorder).
    let mut retained = g.self_size.clone();
    for &v in order.iter().rev() {
        if v != ROOT {
            let d = idom[v as usize] as usize;
            retained[d] = retained[d].saturating_add(retained[v as usize]);
        }
    }
    Dominators { idom, retained, order }
}

/// The forest walk's `eval` with path compression, without recursion.
fn eval(v: u32, ancestor: &mut [u32], best: &mut [u32], semi: &[u32], path: &mut Vec<u32>) -> u32 {
    if ancestor[v as usize] == NONE {
        return v;
    }
    // Collect the chain up to (but excluding) the forest root, then compress top-down.
    path.clear();
    let mut x = v;
    while ancestor[ancestor[x as usize] as usize] != NONE {
        path.push(x);
        x = ancestor[x as usize];
    }
    for &y in path.iter().rev() {
        let a = ancestor[y as usize];
        if semi[best[a as usize] as usize] < semi[best[y as usize] as usize] {
            best[y as usize] = best[a as usize];
        }
        ancestor[y as usize] = ancestor[a as usize];
    }
    best[v as usize]
}

/// One row of the per-class summary.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassRow {
    pub class_name: String,
    pub count: u64,
    pub shallow_size: u64,
    /// Retained size of the class's instances, not counting instances retained by another
    /// instance of the same class (DevTools' rule).
    pub retained_size: u64,
}

/// Per-class counts, shallow and retained sizes, largest retained first.
pub fn class_summary(g: &HeapGraph, d: &Dominators) -> Vec<ClassRow> {
    use std::collections::HashMap;
    let n = g.node_count();
    // A class is decided by (node type, name index) for objects and natives, by the type
    // alone otherwise: intern those keys, and build each class's name once.
    let named: Vec<bool> = g.node_types.iter().map(|t| t == "object" || t == "native").collect();
    let mut class_of = vec![0u32; n];
    let mut names: Vec<String> = Vec::new();
    let mut by_name: HashMap<String, u32> = HashMap::new();
    let mut by_key: HashMap<(u8, u32), u32> = HashMap::new();
    for v in 0..n {
        let t = g.node_type[v];
        let key = (t, if named.get(t as usize).copied().unwrap_or(false) { g.node_name[v] } else { u32::MAX });
        let id = match by_key.get(&key) {
            Some(&id) => id,
            None => {
                // Different keys can share a name (the same string stored twice): merge them.
                let name = g.class_name(v as u32);
                let next = names.len() as u32;
                let id = *by_name.entry(name.clone()).or_insert_with(|| {
                    names.push(name);
                    next
                });
                by_key.insert(key, id);
                id
            }
        };
        class_of[v] = id;
    }
    let mut rows: Vec<ClassRow> = names
        .iter()
        .map(|c| ClassRow { class_name: c.clone(), count: 0, shallow_size: 0, retained_size: 0 })
        .collect();
    let (first_child, children) = d.children();
    // Walk the dominator tree; an instance counts towards its class's retained size only when
    // no dominator above it is of the same class.
    let mut on_path = vec![0u32; names.len()];
    let mut stack: Vec<(u32, u32)> = vec![(ROOT, first_child[ROOT as usize])];
    on_path[class_of[ROOT as usize] as usize] += 1;
    {
        let row = &mut rows[class_of[ROOT as usize] as usize];
        row.count += 1;
        row.shallow_size += g.self_size[ROOT as usize];
        row.retained_size += d.retained[ROOT as usize];
    }
    while let Some(top) = stack.last_mut() {
        let (v, next) = *top;
        if next >= first_child[v as usize + 1] {
            on_path[class_of[v as usize] as usize] -= 1;
            stack.pop();
            continue;
        }
        top.1 += 1;
        let c = children[next as usize];
        let class = class_of[c as usize] as usize;
        let row = &mut rows[class];
        row.count += 1;
        row.shallow_size = row.shallow_size.saturating_add(g.self_size[c as usize]);
        if on_path[class] == 0 {
            row.retained_size = row.retained_size.saturating_add(d.retained[c as usize]);
        }
        on_path[class] += 1;
        stack.push((c, first_child[c as usize]));
    }
    rows.sort_by(|a, b| b.retained_size.cmp(&a.retained_size).then_with(|| a.class_name.cmp(&b.class_name)));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::reader::{RawSnapshot, SnapshotMeta};

    const NODE_TYPES: [&str; 4] = ["hidden", "object", "native", "synthetic"];
    const EDGE_TYPES: [&str; 7] = ["context", "element", "property", "internal", "hidden", "shortcut", "weak"];

    /// A graph from (type, name, self size) nodes and (from, edge type, to) edges; node 0 is
    /// the root.
    fn graph(nodes: &[(&str, &str, u64)], edges: &[(usize, &str, usize)]) -> HeapGraph {
        let mut strings: Vec<String> = vec![String::new()];
        let mut intern = |s: &str| match strings.iter().position(|x| x == s) {
            Some(i) => i as u32,
            None => {
                strings.push(s.to_string());
                strings.len() as u32 - 1
            }
        };
        let mut out_degree = vec![0u32; nodes.len()];
        for e in edges {
            out_degree[e.0] += 1;
        }
        let mut raw_nodes = Vec::new();
        for (i, &(t, name, size)) in nodes.iter().enumerate() {
            let out = out_degree[i];
            let t = NODE_TYPES.iter().position(|x| *x == t).unwrap() as u32;
            raw_nodes.extend([t, intern(name), (i as u32) * 2 + 1, size as u32, out]);
        }
        let mut sorted: Vec<_> = edges.to_vec();
        sorted.sort_by_key(|e| e.0);
        let mut raw_edges = Vec::new();
        for &(_, t, to) in &sorted {
            let ti = EDGE_TYPES.iter().position(|x| *x == t).unwrap() as u32;
            raw_edges.extend([ti, intern("e"), (to * 5) as u32]);
        }
        let mut raw = RawSnapshot {
            meta: SnapshotMeta {
                node_fields: ["type", "name", "id", "self_size", "edge_count"].map(String::from).to_vec(),
                node_types: NODE_TYPES.map(String::from).to_vec(),
                edge_fields: ["type", "name_or_index", "to_node"].map(String::from).to_vec(),
                edge_types: EDGE_TYPES.map(String::from).to_vec(),
                node_count: nodes.len() as u64,
                edge_count: edges.len() as u64,
            },
            nodes: raw_nodes,
            edges: raw_edges,
            ..RawSnapshot::default()
        };
        for s in &strings {
            raw.string_bytes.extend_from_slice(s.as_bytes());
            raw.string_ends.push(raw.string_bytes.len());
        }
        HeapGraph::from_raw(raw).unwrap()
    }

    fn obj(name: &str, size: u64) -> (&str, &str, u64) {
        ("object", name, size)
    }

    #[test]
    fn chain_and_diamond() {
        // root -> a -> b -> c ; root -> d ; a -> e ; d -> e  (e is shared: dominated by root)
        let g = graph(
            &[("synthetic", "", 0), obj("A", 10), obj("B", 20), obj("C", 30), obj("D", 40), obj("E", 50)],
            &[(0, "property", 1), (1, "property", 2), (2, "property", 3), (0, "property", 4), (1, "property", 5), (4, "property", 5)],
        );
        let d = dominators(&g);
        assert_eq!(d.idom, [0, 0, 1, 2, 0, 0]);
        assert_eq!(d.retained, [150, 60, 50, 30, 40, 50]);
    }

    #[test]
    fn weak_and_shortcut_edges_do_not_retain_except_shortcuts_from_the_root() {
        // a -weak-> w ; a -shortcut-> s ; root -shortcut-> r ; r -> x
        let g = graph(
            &[("synthetic", "", 0), obj("A", 1), obj("W", 2), obj("S", 4), obj("R", 8), obj("X", 16)],
            &[(0, "property", 1), (1, "weak", 2), (1, "shortcut", 3), (0, "shortcut", 4), (4, "property", 5)],
        );
        let d = dominators(&g);
        assert_eq!(d.idom[2], ROOT, "weakly held: attached to the root");
        assert_eq!(d.idom[3], ROOT, "a shortcut not from the root does not retain");
        assert_eq!(d.idom[5], 4, "a shortcut from the root does retain");
        assert_eq!(d.retained[1], 1);
        assert_eq!(d.retained[ROOT as usize], 31, "the root retains the whole heap");
    }

    #[test]
    fn unreachable_nodes_hang_off_the_root() {
        let g = graph(&[("synthetic", "", 0), obj("A", 5), obj("Lost", 7), obj("Lost2", 9)], &[(0, "property", 1), (2, "property", 3)]);
        let d = dominators(&g);
        assert_eq!(d.idom, [0, 0, 0, 0], "unreached nodes are attached to the root as DevTools does");
        assert_eq!(d.retained[0], 21);
    }

    #[test]
    fn a_million_deep_chain_is_fine() {
        let n = 1_000_000;
        let mut nodes = vec![("synthetic", "", 0)];
        nodes.extend((1..n).map(|_| obj("Link", 16)));
        let edges: Vec<_> = (0..n - 1).map(|i| (i, "property", i + 1)).collect();
        let g = graph(&nodes, &edges);
        let d = dominators(&g);
        assert_eq!(d.idom[n - 1], (n - 2) as u32);
        assert_eq!(d.retained[1], 16 * (n as u64 - 1));
        let rows = class_summary(&g, &d);
        let link = rows.iter().find(|r| r.class_name == "Link").unwrap();
        assert_eq!(link.count, n as u64 - 1);
        assert_eq!(link.retained_size, 16 * (n as u64 - 1), "nested Links are not counted twice");
    }

    #[test]
    fn class_retained_size_does_not_double_count_nested_instances() {
        // root -> A1 -> A2 -> B ; root -> A3
        let g = graph(
            &[("synthetic", "", 0), obj("A", 10), obj("A", 20), obj("B", 30), obj("A", 5), ("hidden", "x", 1), ("native", "Buf", 2)],
            &[(0, "property", 1), (1, "property", 2), (2, "property", 3), (0, "property", 4), (0, "internal", 5), (0, "internal", 6)],
        );
        let d = dominators(&g);
        let rows = class_summary(&g, &d);
        let get = |c: &str| rows.iter().find(|r| r.class_name == c).unwrap().clone();
        let a = get("A");
        assert_eq!((a.count, a.shallow_size, a.retained_size), (3, 35, 60 + 5));
        assert_eq!(get("B").retained_size, 30);
        assert_eq!(get("(system)").count, 1, "hidden nodes are (system)");
        assert_eq!(get("Buf").count, 1, "natives are named by their name");
        assert_eq!(rows[0].class_name, "(synthetic)", "largest retained first: the root");
    }

    /// Dominators by definition (iterative data flow over sets), for cross-checking.
    fn brute_force_idom(g: &HeapGraph) -> Vec<u32> {
        let n = g.node_count();
        let full: Vec<bool> = vec![true; n];
        let mut dom: Vec<Vec<bool>> = (0..n).map(|v| if v == 0 { (0..n).map(|i| i == 0).collect() } else { full.clone() }).collect();
        // Reachability over essential edges.
        let mut reach = vec![false; n];
        let mut stack = vec![0u32];
        reach[0] = true;
        while let Some(v) = stack.pop() {
            for e in g.first_edge[v as usize]..g.first_edge[v as usize + 1] {
                let w = g.edge_to[e as usize];
                if g.retains(v, e) && !reach[w as usize] {
                    reach[w as usize] = true;
                    stack.push(w);
                }
            }
        }
        let mut changed = true;
        while changed {
            changed = false;
            for v in 1..n {
                if !reach[v] {
                    continue;
                }
                let mut meet = full.clone();
                for r in g.first_retainer[v]..g.first_retainer[v + 1] {
                    let p = g.retaining_node[r as usize];
                    if reach[p as usize] && g.retains(p, g.retaining_edge[r as usize]) {
                        for i in 0..n {
                            meet[i] &= dom[p as usize][i];
                        }
                    }
                }
                meet[v] = true;
                if meet != dom[v] {
                    dom[v] = meet;
                    changed = true;
                }
            }
        }
        (0..n)
            .map(|v| {
                if v == 0 || !reach[v] {
                    return 0;
                }
                // The immediate dominator is the strict dominator with the most dominators.
                (0..n)
                    .filter(|&u| u != v && dom[v][u])
                    .max_by_key(|&u| dom[u].iter().filter(|&&b| b).count())
                    .unwrap_or(0) as u32
            })
            .collect()
    }

    #[test]
    fn a_real_snapshot_analyses_consistently() {
        let raw = crate::snapshot::testutil::node_snapshot(
            "graph",
            "class Holder { constructor() { this.items = []; } }\n\
             class Item { constructor(i) { this.i = i; this.pad = new Array(8).fill(i); } }\n\
             globalThis.holder = new Holder();\n\
             for (let i = 0; i < 2000; i++) holder.items.push(new Item(i));",
        );
        let g = HeapGraph::from_raw(raw).unwrap();
        let d = dominators(&g);
        let total: u64 = g.self_size.iter().sum();
        assert_eq!(d.retained[ROOT as usize], total, "the root retains the whole heap");
        let rows = class_summary(&g, &d);
        let item = rows.iter().find(|r| r.class_name == "Item").expect("Item class");
        assert_eq!(item.count, 2000);
        let holder = rows.iter().find(|r| r.class_name == "Holder").expect("Holder class");
        assert_eq!(holder.count, 1);
        // The holder alone keeps its items (and their arrays) alive.
        assert!(holder.retained_size > item.retained_size, "{} vs {}", holder.retained_size, item.retained_size);
        assert!(item.retained_size > item.shallow_size, "each Item retains its padding array");
    }

    #[test]
    fn lengauer_tarjan_matches_the_definition_on_random_graphs() {
        let mut x: u64 = 0xDEAD_BEEF_1234_5678;
        let mut rand = move |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        for round in 0..400 {
            let n = 2 + rand(30) as usize;
            let nodes: Vec<_> = (0..n).map(|i| if i == 0 { ("synthetic", "", 0) } else { obj("N", 1 + rand(100)) }).collect();
            let edge_count = rand(3 * n as u64) as usize;
            let edges: Vec<_> = (0..edge_count)
                .map(|_| {
                    let t = ["property", "property", "element", "internal", "weak", "shortcut"][rand(6) as usize];
                    (rand(n as u64) as usize, t, rand(n as u64) as usize)
                })
                .collect();
            let g = graph(&nodes, &edges);
            let d = dominators(&g);
            assert_eq!(d.idom, brute_force_idom(&g), "round {round}: edges {edges:?}");
            // The root retains everything; every node retains at least itself.
            assert_eq!(d.retained[0], g.self_size.iter().sum::<u64>());
            assert!((0..n).all(|v| d.retained[v] >= g.self_size[v]));
        }
    }
}
