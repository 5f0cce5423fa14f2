//! Heap summaries and memwatch's `HeapDiff`: a compact per-node table taken from a heap snapshot,
//! and the id-merge diff of two of them.
//!
//! A summary keeps, per snapshot node, only its id, what memwatch calls it, and its shallow size,
//! sorted by id, so the V8 snapshot can be deleted as soon as the summary is built. Two summaries
//! are diffed by merging their id columns: ids present only before were freed, ids present only
//! after were allocated (V8 keeps a live object's id across snapshots of one isolate).

use std::collections::{BTreeMap, HashMap};

use crate::format::nice_size_bytes;

/// V8 heap snapshot node types (`v8::HeapGraphNode::Type`), stable since node 12.
pub mod node_type {
    pub const HIDDEN: u32 = 0;
    pub const ARRAY: u32 = 1;
    pub const STRING: u32 = 2;
    pub const OBJECT: u32 = 3;
    pub const CODE: u32 = 4;
    pub const CLOSURE: u32 = 5;
    pub const REGEXP: u32 = 6;
    pub const HEAP_NUMBER: u32 = 7;
    pub const NATIVE: u32 = 8;
}

/// memwatch's fixed name for a node type, or `None` for objects (named by their constructor)
/// and for types that count in the totals only.
fn fixed_name(node_type: u32) -> Option<&'static str> {
    use node_type::*;
    match node_type {
        ARRAY => Some("Array"),
        STRING => Some("String"),
        CODE => Some("Code"),
        CLOSURE => Some("Closure"),
        REGEXP => Some("RegExp"),
        HEAP_NUMBER => Some("Number"),
        NATIVE => Some("Native"),
        _ => None,
    }
}

/// Whether the builder needs the node's name for this type (only objects are named by it), so
/// the glue can skip reading names it would throw away.
pub fn needs_name(node_type: u32) -> bool {
    node_type == node_type::OBJECT
}

const UNNAMED: u32 = u32::MAX;

/// Builds a [`HeapSummary`] one node at a time.
#[derive(Default)]
pub struct SummaryBuilder {
    rows: Vec<(u32, u32, u64)>,
    names: Vec<Box<str>>,
    index: HashMap<Box<str>, u32>,
    total_size: u64,
}

impl SummaryBuilder {
    pub fn with_capacity(nodes: usize) -> Self {
        SummaryBuilder { rows: Vec::with_capacity(nodes), ..Default::default() }
    }

    /// Adds one node. `name` is consulted only when [`needs_name`] says so.
    pub fn push(&mut self, id: u32, node_type: u32, name: &str, shallow_size: u64) {
        let what = match fixed_name(node_type) {
            Some(fixed) => self.intern(fixed),
            None if needs_name(node_type) => self.intern(name),
            None => UNNAMED,
        };
        self.total_size += shallow_size;
        self.rows.push((id, what, shallow_size));
    }

    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.into());
        self.index.insert(name.into(), i);
        i
    }

    pub fn finish(mut self) -> HeapSummary {
        if !self.rows.windows(2).all(|w| w[0].0 <= w[1].0) {
            self.rows.sort_unstable_by_key(|row| row.0);
        }
        let nodes = self.rows.len() as u64;
        let mut ids = Vec::with_capacity(self.rows.len());
        let mut what = Vec::with_capacity(self.rows.len());
        let mut sizes = Vec::with_capacity(self.rows.len());
        for (id, w, size) in self.rows {
            ids.push(id);
            what.push(w);
            sizes.push(size);
        }
        HeapSummary { ids, what, sizes, names: self.names, nodes, size_bytes: self.total_size }
    }
}

/// A heap snapshot reduced to what a memwatch diff needs, sorted by node id.
#[derive(Clone, Debug, Default)]
pub struct HeapSummary {
    ids: Vec<u32>,
    what: Vec<u32>,
    sizes: Vec<u64>,
    names: Vec<Box<str>>,
    nodes: u64,
    size_bytes: u64,
}

/// `before` / `after` of a diff.
#[derive(Clone, Debug, PartialEq)]
pub struct Totals {
    pub nodes: u64,
    pub size_bytes: u64,
    pub size: String,
}

/// One line of `change.details`.
#[derive(Clone, Debug, PartialEq)]
pub struct Detail {
    pub what: String,
    /// Shallow bytes allocated minus freed.
    pub size_bytes: i64,
    pub size: String,
    /// Instances allocated (`'+'`).
    pub added: u64,
    /// Instances freed (`'-'`).
    pub removed: u64,
}

/// memwatch's `HeapDiff.end()` result.
#[derive(Clone, Debug, PartialEq)]
pub struct DiffResult {
    pub before: Totals,
    pub after: Totals,
    pub size_bytes: i64,
    pub size: String,
    pub freed_nodes: u64,
    pub allocated_nodes: u64,
    /// Sorted by `what`, byte order.
    pub details: Vec<Detail>,
}

#[derive(Clone, Copy, Default)]
struct Tally {
    count: u64,
    bytes: u64,
}

impl HeapSummary {
    pub fn nodes(&self) -> u64 {
        self.nodes
    }

    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    /// Heap bytes this summary itself holds, for the glue to report to V8 as external memory.
    pub fn memory_footprint(&self) -> usize {
        self.ids.capacity() * 4
            + self.what.capacity() * 4
            + self.sizes.capacity() * 8
            + self.names.iter().map(|n| n.len() + 16).sum::<usize>()
    }

    fn totals(&self) -> Totals {
        Totals { nodes: self.nodes, size_bytes: self.size_bytes, size: nice_size_bytes(self.size_bytes as i64) }
    }

    /// memwatch's diff of `self` (before) against `after`.
    pub fn diff(&self, after: &HeapSummary) -> DiffResult {
        let mut freed = vec![Tally::default(); self.names.len()];
        let mut allocated = vec![Tally::default(); after.names.len()];
        let (mut freed_nodes, mut allocated_nodes) = (0u64, 0u64);
        let (mut i, mut j) = (0usize, 0usize);
        let (a, b) = (&self.ids, &after.ids);
        loop {
            let take_before = match (a.get(i), b.get(j)) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(x), Some(y)) if x == y => {
                    i += 1;
                    j += 1;
                    continue;
                }
                (Some(x), Some(y)) => x < y,
            };
            if take_before {
                freed_nodes += 1;
                tally(&mut freed, self.what[i], self.sizes[i]);
                i += 1;
            } else {
                allocated_nodes += 1;
                tally(&mut allocated, after.what[j], after.sizes[j]);
                j += 1;
            }
        }

        let mut by_name: BTreeMap<&str, (Tally, Tally)> = BTreeMap::new();
        for (name, t) in self.names.iter().zip(&freed).filter(|(_, t)| t.count > 0) {
            by_name.entry(name).or_default().1 = *t;
        }
        for (name, t) in after.names.iter().zip(&allocated).filter(|(_, t)| t.count > 0) {
            by_name.entry(name).or_default().0 = *t;
        }
        let details = by_name
            .into_iter()
            .map(|(what, (plus, minus))| {
                let size_bytes = plus.bytes as i64 - minus.bytes as i64;
                Detail {
                    what: what.to_string(),
                    size_bytes,
                    size: nice_size_bytes(size_bytes),
                    added: plus.count,
                    removed: minus.count,
                }
            })
            .collect();
        let size_bytes = after.size_bytes as i64 - self.size_bytes as i64;
        DiffResult {
            before: self.totals(),
            after: after.totals(),
            size_bytes,
            size: nice_size_bytes(size_bytes),
            freed_nodes,
            allocated_nodes,
            details,
        }
    }
}

fn tally(tallies: &mut [Tally], what: u32, size: u64) {
    if let Some(t) = tallies.get_mut(what as usize) {
        t.count += 1;
        t.bytes += size;
    }
}

#[cfg(test)]
mod tests {
    use super::node_type::*;
    use super::*;

    fn summary(rows: &[(u32, u32, &str, u64)]) -> HeapSummary {
        let mut b = SummaryBuilder::with_capacity(rows.len());
        for &(id, t, name, size) in rows {
            b.push(id, t, name, size);
        }
        b.finish()
    }

    #[test]
    fn ids_only_before_are_freed_only_after_are_allocated() {
        let before = summary(&[
            (1, OBJECT, "Keep", 32),
            (3, OBJECT, "Gone", 40),
            (5, STRING, "ignored", 24),
            (7, HIDDEN, "system", 100),
        ]);
        let after = summary(&[
            (9, OBJECT, "Leak", 56),
            (1, OBJECT, "Keep", 32),
            (11, OBJECT, "Leak", 56),
            (7, HIDDEN, "system", 100),
            (13, HIDDEN, "system", 8),
        ]);
        let d = before.diff(&after);
        assert_eq!(d.before.nodes, 4);
        assert_eq!(d.before.size_bytes, 196);
        assert_eq!(d.after.nodes, 5);
        assert_eq!(d.after.size_bytes, 252);
        assert_eq!(d.size_bytes, 56);
        assert_eq!(d.freed_nodes, 2);
        assert_eq!(d.allocated_nodes, 3, "hidden nodes count in the totals");
        let whats: Vec<_> = d.details.iter().map(|x| x.what.as_str()).collect();
        assert_eq!(whats, ["Gone", "Leak", "String"], "sorted by name, hidden types left out");
        let leak = &d.details[1];
        assert_eq!((leak.added, leak.removed, leak.size_bytes), (2, 0, 112));
        assert_eq!(leak.size, "112 bytes");
        let gone = &d.details[0];
        assert_eq!((gone.added, gone.removed, gone.size_bytes), (0, 1, -40));
        assert_eq!(d.details[2].what, "String", "strings are named by type, not content");
    }

    #[test]
    fn names_follow_node_types() {
        let types = [ARRAY, STRING, CODE, CLOSURE, REGEXP, HEAP_NUMBER, NATIVE, OBJECT];
        let after = summary(&types.iter().enumerate().map(|(i, &t)| (i as u32 * 2, t, "Thing", 1)).collect::<Vec<_>>());
        let d = HeapSummary::default().diff(&after);
        let whats: Vec<_> = d.details.iter().map(|x| x.what.as_str()).collect();
        assert_eq!(whats, ["Array", "Closure", "Code", "Native", "Number", "RegExp", "String", "Thing"]);
    }

    #[test]
    fn byte_order_sort_puts_uppercase_first() {
        let after = summary(&[(2, OBJECT, "b", 1), (4, OBJECT, "B", 1), (6, OBJECT, "a", 1), (8, OBJECT, "_x", 1)]);
        let d = HeapSummary::default().diff(&after);
        let whats: Vec<_> = d.details.iter().map(|x| x.what.as_str()).collect();
        assert_eq!(whats, ["B", "_x", "a", "b"]);
    }

    #[test]
    fn identical_summaries_have_no_details() {
        let rows = [(1, OBJECT, "A", 10), (2, ARRAY, "", 20)];
        let d = summary(&rows).diff(&summary(&rows));
        assert!(d.details.is_empty());
        assert_eq!((d.freed_nodes, d.allocated_nodes, d.size_bytes), (0, 0, 0));
        assert_eq!(d.size, "0 bytes");
    }

    #[test]
    fn large_tables_merge_in_linear_order() {
        let before: Vec<_> = (0..100_000u32).map(|i| (i * 2, OBJECT, "Old", 16u64)).collect();
        let after: Vec<_> = (50_000..150_000u32).rev().map(|i| (i * 2, OBJECT, "New", 16u64)).collect();
        let d = summary(&before).diff(&summary(&after));
        assert_eq!(d.freed_nodes, 50_000);
        assert_eq!(d.allocated_nodes, 50_000);
        assert_eq!(d.size_bytes, 0);
        // Surviving ids keep the name they had before; only new ids count as "New".
        assert_eq!(d.details[0].what, "New");
        assert_eq!(d.details[0].added, 50_000);
        assert_eq!(d.details[1].what, "Old");
        assert_eq!(d.details[1].removed, 50_000);
    }
}
