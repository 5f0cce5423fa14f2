//! The leak's root before its parts. Of the objects allocated between two snapshots and alive in
//! the second, the *roots* are those no other new object holds: a leaking `OrderRecord` per call
//! rather than its `lines` Array, the Object in it and its strings. Each root is sized by the new
//! objects it alone reaches first (its parts), and roots are grouped by what memwatch calls them,
//! with their parts as the composition, the program's own names first.
//!
//! V8's internals in between are looked through: an `OrderRecord` put in an old Map is held by
//! the Map's new backing store (an internal array), which no one counts as "a new object holding
//! it"; new internal nodes are transparent, up to a few hops.

use std::collections::HashMap;

use super::graph::{HeapGraph, Location, ROOT};
use super::memory as mem;
use crate::summary::memwatch_name;

/// Roots of one kind: what memwatch calls them, how many, and what they and their parts weigh.
#[derive(Clone, Debug, PartialEq)]
pub struct RootGroup {
    /// memwatch's name (`OrderRecord`, `Closure`, `String`): matches HeapDiff's `what`.
    pub what: String,
    /// As a person names it: a closure by its function (`onTick()`), else the class.
    pub label: String,
    pub count: u64,
    /// Self sizes of the roots and of all their parts.
    pub bytes: u64,
    /// What the parts are (memwatch names), the program's own names first, at most 8.
    pub parts: Vec<(String, u64)>,
    /// Where the sample root's code is (its constructor or function), through source maps.
    pub location: Option<Location>,
    pub sample_id: u64,
}

/// How far up through new internal nodes a holder is looked for.
const THROUGH: usize = 4;

/// The roots of what is new (`is_new` of a node id) in `g`, grouped, heaviest first, `top` groups.
pub fn leak_roots(g: &HeapGraph, is_new: impl Fn(u64) -> bool, top: usize) -> mem::Fallible<Vec<RootGroup>> {
    const WHAT: &str = "the leak's roots";
    let n = g.node_count();
    // 0: old, 1: new and counted (a JS object, closure, string...), 2: new internal.
    let mut kind = mem::filled(n, 0u8, WHAT)?;
    for v in 1..n as u32 {
        if !is_new(g.node_id(v)) {
            continue;
        }
        kind[v as usize] = if counted(g, v) { 1 } else if internal(g, v) { 2 } else { 0 };
    }
    let (first, owners) = g.retainers()?;
    // Roots: counted new nodes that no counted new node holds, directly or through internals.
    let mut is_root = mem::filled(n, false, WHAT)?;
    let mut up: Vec<(u32, usize)> = Vec::new();
    for v in 1..n {
        if kind[v] != 1 {
            continue;
        }
        up.clear();
        up.push((v as u32, 0));
        let mut held = false;
        'search: while let Some((x, depth)) = up.pop() {
            for &u in &owners[first[x as usize] as usize..first[x as usize + 1] as usize] {
                if u as usize == v || u == ROOT {
                    continue;
                }
                match kind[u as usize] {
                    1 => {
                        held = true;
                        break 'search;
                    }
                    2 if depth + 1 < THROUGH && up.len() < 64 => up.push((u, depth + 1)),
                    _ => {}
                }
            }
        }
        is_root[v] = !held;
    }
    drop((first, owners));
    // Parts: new nodes reached first from a root (breadth first from all roots at once).
    const NONE: u32 = u32::MAX;
    let mut owner = mem::filled(n, NONE, WHAT)?;
    let mut queue: Vec<u32> = Vec::new();
    for v in 1..n {
        if is_root[v] {
            owner[v] = v as u32;
            mem::push(&mut queue, v as u32, WHAT)?;
        }
    }
    let mut head = 0;
    while head < queue.len() {
        let v = queue[head];
        head += 1;
        for e in g.first_edge[v as usize]..g.first_edge[v as usize + 1] {
            let w = g.edge_to[e as usize];
            if kind[w as usize] != 0 && owner[w as usize] == NONE && !is_root[w as usize] && g.retains(v, e) {
                owner[w as usize] = owner[v as usize];
                mem::push(&mut queue, w, WHAT)?;
            }
        }
    }
    drop(queue);
    // Groups by memwatch name; a group's parts by memwatch name.
    struct Tally {
        count: u64,
        bytes: u64,
        parts: HashMap<String, u64>,
        sample: u32,
    }
    let mut groups: HashMap<String, Tally> = HashMap::new();
    let name_of = |v: u32| -> Option<String> {
        let t = g.type_name(v);
        memwatch_name(t, g.string(g.node_name[v as usize])).map(str::to_string)
    };
    for v in 1..n as u32 {
        if v as usize % mem::EVERY == 0 {
            mem::check_margin(WHAT)?;
        }
        let o = owner[v as usize];
        if o == NONE {
            continue;
        }
        let Some(root_name) = name_of(o) else { continue };
        mem::map_room(&mut groups, WHAT)?;
        let t = groups.entry(root_name).or_insert(Tally { count: 0, bytes: 0, parts: HashMap::new(), sample: o });
        t.bytes = t.bytes.saturating_add(g.self_size(v));
        if o == v {
            t.count += 1;
            // The newest root as the sample (the one most likely still growing).
            if g.node_id(v) > g.node_id(t.sample) {
                t.sample = v;
            }
        } else if kind[v as usize] == 1 || g.type_name(v) == "object" {
            // `system /` objects count too (a closure's Context): ranked after the program's
            // names, they say what the root holds without hiding it. Backing stores and code
            // are their owners' insides.
            if let Some(part) = name_of(v) {
                mem::map_room(&mut t.parts, WHAT)?;
                *t.parts.entry(part).or_default() += 1;
            }
        }
    }
    let mut out: Vec<RootGroup> = Vec::new();
    for (what, t) in groups {
        let mut parts: Vec<(String, u64)> = t.parts.into_iter().collect();
        rank_program_first(&mut parts);
        parts.truncate(8);
        let location = g.location(t.sample);
        // Minified code's names through the map (`OrderRecord`, not `t`).
        let t_name = g.type_name(t.sample);
        let label = match (&location, t_name) {
            (Some(l), "closure" | "object") => g.mapped_name(t.sample, l),
            (None, "closure") => g.display_name(t.sample),
            _ => what.clone(),
        };
        out.push(RootGroup { what, label, count: t.count, bytes: t.bytes, parts, location, sample_id: g.node_id(t.sample) });
    }
    out.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(b.count.cmp(&a.count)).then_with(|| a.what.cmp(&b.what)));
    out.truncate(top);
    Ok(out)
}

/// A node a program makes and a person would name: objects, closures, strings, regexps, numbers
/// (not V8's internal arrays, code, hidden or `system /` objects).
fn counted(g: &HeapGraph, v: u32) -> bool {
    let t = g.type_name(v);
    match t {
        "object" => {
            let name = g.string(g.node_name[v as usize]);
            !name.starts_with("system /") && !name.starts_with('(')
        }
        "closure" | "string" | "concatenated string" | "sliced string" | "regexp" | "number" | "bigint" | "symbol" => true,
        _ => false,
    }
}

/// V8's own structures a program never names (backing stores, hidden objects, code).
fn internal(g: &HeapGraph, v: u32) -> bool {
    let t = g.type_name(v);
    matches!(t, "array" | "hidden" | "code" | "object shape") || (t == "object" && g.string(g.node_name[v as usize]).starts_with("system /"))
}

/// Where a name ranks when listing what something is made of: the program's own classes and
/// functions (0), then JavaScript's built-in kinds (1), then the engine's (2): so 20,000
/// `onTick()` closures are never hidden behind 20,001 Arrays.
pub fn name_rank(name: &str) -> u8 {
    const BUILT_IN: &[&str] = &[
        "Object", "Array", "String", "Number", "Boolean", "Symbol", "BigInt", "Map", "Set", "WeakMap", "WeakSet", "WeakRef", "Promise", "Function",
        "Closure", "Error", "RegExp", "Date", "ArrayBuffer", "SharedArrayBuffer", "DataView", "Uint8Array", "Int8Array", "Uint16Array", "Int16Array",
        "Uint32Array", "Int32Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array", "Uint8ClampedArray", "Buffer", "FastBuffer",
        "Arguments", "Generator", "AsyncGenerator", "Iterator", "Native", "Code", "Proxy", "FinalizationRegistry", "Timeout", "Immediate",
    ];
    let base = name.split(" at ").next().unwrap_or(name);
    if base == "(closure)" {
        // Functions, the program's, as a class: with the built-in kinds.
        1
    } else if base.starts_with('(') || base.starts_with("system /") || base.starts_with("system/") {
        2
    } else if BUILT_IN.contains(&base) {
        1
    } else {
        0
    }
}

/// Sorts `(name, count)` rows program names first, then by count, then by name.
pub fn rank_program_first(rows: &mut [(String, u64)]) {
    rows.sort_by(|a, b| name_rank(&a.0).cmp(&name_rank(&b.0)).then(b.1.cmp(&a.1)).then_with(|| a.0.cmp(&b.0)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::testutil::synthetic_with_locations;

    #[test]
    fn the_root_leads_and_its_parts_are_its_composition() {
        // global -> orders (old Map) -> table (new internal array) -> 3 OrderRecords, each with
        // a lines Array -> an Object -> a string; one old OrderRecord stays out.
        let mut nodes: Vec<(&str, &str, u64, u64)> = vec![("synthetic", "", 0, 1), ("object", "global", 10, 3), ("object", "Map", 20, 5), ("object", "OrderRecord", 30, 7)];
        let mut edges: Vec<(usize, &str, &str, usize)> = vec![(0, "shortcut", "global", 1), (1, "property", "orders", 2)];
        nodes.push(("array", "", 100, 101)); // the Map's new table
        edges.push((2, "internal", "table", 4));
        edges.push((4, "element", "0", 3));
        for i in 0..3 {
            let base = nodes.len();
            nodes.push(("object", "OrderRecord", 40, 201 + 10 * i));
            nodes.push(("object", "Array", 16, 203 + 10 * i));
            nodes.push(("object", "Object", 24, 205 + 10 * i));
            nodes.push(("string", "sku-1", 20, 207 + 10 * i));
            edges.push((4, "element", &["1", "2", "3"][i as usize], base));
            edges.push((base, "property", "lines", base + 1));
            edges.push((base + 1, "element", "0", base + 2));
            edges.push((base + 2, "property", "sku", base + 3));
        }
        let g = synthetic_with_locations(&nodes, &edges, &[]);
        let roots = leak_roots(&g, |id| id > 100, 5).unwrap();
        assert_eq!(roots.len(), 1, "{roots:?}");
        let r = &roots[0];
        // The Map's new table is above the roots, not a part of any.
        assert_eq!((r.what.as_str(), r.count, r.bytes), ("OrderRecord", 3, 3 * (40 + 16 + 24 + 20)));
        assert_eq!(r.parts, vec![("Array".to_string(), 3), ("Object".to_string(), 3), ("String".to_string(), 3)]);
    }

    #[test]
    fn program_names_rank_before_built_in_and_engine_kinds() {
        let mut rows: Vec<(String, u64)> =
            vec![("(string)".into(), 59_994), ("(array)".into(), 20_001), ("Array".into(), 20_001), ("Object".into(), 20_001), ("onTick() at app.js:3:1".into(), 20_000), ("system / Context".into(), 5)];
        rank_program_first(&mut rows);
        let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(names, ["onTick() at app.js:3:1", "Array", "Object", "(string)", "(array)", "system / Context"]);
    }
}
