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

/// What memwatch calls a node of a snapshot's `type` name (as `meta.node_types` spells it) and
/// node name: the constructor for objects, a fixed name for arrays, strings and the like, and
/// `None` for types memwatch counts in the totals only. Matches [`SummaryBuilder`]'s naming.
pub fn memwatch_name<'a>(type_name: &str, name: &'a str) -> Option<&'a str> {
    Some(match type_name {
        "object" => name,
        "array" => "Array",
        "string" => "String",
        "code" => "Code",
        "closure" => "Closure",
        "regexp" => "RegExp",
        "number" => "Number",
        "native" => "Native",
        _ => return None,
    })
}

/// Whether the builder needs the node's name for this type (only objects are named by it), so
/// the glue can skip reading names it would throw away.
pub fn needs_name(node_type: u32) -> bool {
    node_type == node_type::OBJECT
}

const UNNAMED: u32 = u32::MAX;

/// One snapshot node: id, what memwatch calls it (an index into the names, or UNNAMED),
/// shallow size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Row {
    id: u32,
    what: u32,
    size: u64,
}

/// Rows sorted and encoded per run: a million-node heap is ~64 runs.
const RUN_ROWS: usize = 1 << 16;

/// Builds a [`HeapSummary`] one node at a time, in bounded memory: rows are buffered in runs of
/// [`RUN_ROWS`], each sorted by id and encoded compactly as soon as it fills (about 4 bytes a
/// node instead of 16), and the runs are merged at the end. Summarising a live V8 snapshot thus
/// adds little to the snapshot's own peak memory.
#[derive(Default)]
pub struct SummaryBuilder {
    buffer: Vec<Row>,
    runs: Vec<Vec<u8>>,
    names: Vec<Box<str>>,
    index: HashMap<Box<str>, u32>,
    nodes: u64,
    total_size: u64,
}

impl SummaryBuilder {
    /// Adds one node. `name` is consulted only when [`needs_name`] says so.
    pub fn push(&mut self, id: u32, node_type: u32, name: &str, shallow_size: u64) {
        let what = match fixed_name(node_type) {
            Some(fixed) => self.intern(fixed),
            None if needs_name(node_type) => self.intern(name),
            None => UNNAMED,
        };
        // Saturating: a real heap never gets near u64::MAX, and odd input must not wrap or panic.
        self.total_size = self.total_size.saturating_add(shallow_size);
        self.nodes += 1;
        if self.buffer.capacity() == 0 {
            self.buffer.reserve_exact(RUN_ROWS);
        }
        self.buffer.push(Row { id, what, size: shallow_size });
        if self.buffer.len() == RUN_ROWS {
            self.flush_run();
        }
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

    fn flush_run(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        self.buffer.sort_unstable_by_key(|row| row.id);
        let mut run = Encoder::with_capacity(self.buffer.len() * 4);
        for row in &self.buffer {
            run.push(*row);
        }
        self.runs.push(run.finish());
        self.buffer.clear();
    }

    pub fn finish(mut self) -> HeapSummary {
        self.flush_run();
        self.buffer = Vec::new();
        let encoded = match self.runs.len() {
            0 => Vec::new(),
            1 => self.runs.pop().unwrap_or_default(),
            _ => merge_runs(&self.runs),
        };
        HeapSummary { encoded, names: self.names, nodes: self.nodes, size_bytes: self.total_size }
    }
}

/// Appends rows, ascending by id, as LEB128 varints: id delta, what + 1 (0: unnamed), size.
struct Encoder {
    out: Vec<u8>,
    last_id: u32,
}

impl Encoder {
    fn with_capacity(bytes: usize) -> Self {
        Encoder { out: Vec::with_capacity(bytes), last_id: 0 }
    }

    fn push(&mut self, row: Row) {
        put_varint(&mut self.out, u64::from(row.id - self.last_id));
        self.last_id = row.id;
        let what = if row.what == UNNAMED { 0 } else { u64::from(row.what) + 1 };
        put_varint(&mut self.out, what);
        put_varint(&mut self.out, row.size);
    }

    fn finish(mut self) -> Vec<u8> {
        self.out.shrink_to_fit();
        self.out
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads rows back from an encoded run or summary. Encoded data only ever comes from
/// [`Encoder`] in this process, so a malformed byte stream is a bug; it ends the iteration
/// rather than panicking.
struct Decoder<'a> {
    bytes: &'a [u8],
    at: usize,
    last_id: u32,
}

impl<'a> Decoder<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Decoder { bytes, at: 0, last_id: 0 }
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let b = *self.bytes.get(self.at)?;
            self.at += 1;
            v |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b < 0x80 {
                return Some(v);
            }
            shift += 7;
        }
    }
}

impl Iterator for Decoder<'_> {
    type Item = Row;

    fn next(&mut self) -> Option<Row> {
        if self.at >= self.bytes.len() {
            return None;
        }
        let delta = u32::try_from(self.varint()?).ok()?;
        let id = self.last_id.checked_add(delta)?;
        self.last_id = id;
        let what = match self.varint()? {
            0 => UNNAMED,
            w => u32::try_from(w - 1).ok()?,
        };
        let size = self.varint()?;
        Some(Row { id, what, size })
    }
}

/// K-way merge of sorted runs into one sorted stream.
fn merge_runs(runs: &[Vec<u8>]) -> Vec<u8> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut decoders: Vec<Decoder> = runs.iter().map(|r| Decoder::new(r)).collect();
    let mut heads = BinaryHeap::with_capacity(decoders.len());
    let mut pending: Vec<Option<Row>> = Vec::with_capacity(decoders.len());
    for (i, d) in decoders.iter_mut().enumerate() {
        let row = d.next();
        if let Some(r) = row {
            heads.push(Reverse((r.id, i)));
        }
        pending.push(row);
    }
    let mut out = Encoder::with_capacity(runs.iter().map(Vec::len).sum());
    while let Some(Reverse((_, i))) = heads.pop() {
        if let Some(row) = pending[i].take() {
            out.push(row);
        }
        pending[i] = decoders[i].next();
        if let Some(r) = pending[i] {
            heads.push(Reverse((r.id, i)));
        }
    }
    out.finish()
}

/// A heap snapshot reduced to what a memwatch diff needs: its nodes sorted by id, encoded in
/// about 4 bytes each.
#[derive(Clone, Debug, Default)]
pub struct HeapSummary {
    encoded: Vec<u8>,
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
    /// Every node id, ascending (decoded: 4 bytes per node, for membership tests).
    pub fn ids(&self) -> Vec<u32> {
        Decoder::new(&self.encoded).map(|r| r.id).collect()
    }

    pub fn nodes(&self) -> u64 {
        self.nodes
    }

    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    /// Heap bytes this summary itself holds, for the glue to report to V8 as external memory.
    pub fn memory_footprint(&self) -> usize {
        self.encoded.capacity() + self.names.iter().map(|n| n.len() + 16).sum::<usize>()
    }

    fn totals(&self) -> Totals {
        Totals { nodes: self.nodes, size_bytes: self.size_bytes, size: nice_size_bytes(self.size_bytes as i64) }
    }

    /// memwatch's diff of `self` (before) against `after`.
    pub fn diff(&self, after: &HeapSummary) -> DiffResult {
        let mut freed = vec![Tally::default(); self.names.len()];
        let mut allocated = vec![Tally::default(); after.names.len()];
        let (mut freed_nodes, mut allocated_nodes) = (0u64, 0u64);
        let mut a = Decoder::new(&self.encoded).peekable();
        let mut b = Decoder::new(&after.encoded).peekable();
        loop {
            let take_before = match (a.peek(), b.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(x), Some(y)) if x.id == y.id => {
                    a.next();
                    b.next();
                    continue;
                }
                (Some(x), Some(y)) => x.id < y.id,
            };
            if take_before {
                freed_nodes += 1;
                if let Some(row) = a.next() {
                    tally(&mut freed, row);
                }
            } else {
                allocated_nodes += 1;
                if let Some(row) = b.next() {
                    tally(&mut allocated, row);
                }
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
                let size_bytes = signed_difference(plus.bytes, minus.bytes);
                Detail {
                    what: what.to_string(),
                    size_bytes,
                    size: nice_size_bytes(size_bytes),
                    added: plus.count,
                    removed: minus.count,
                }
            })
            .collect();
        let size_bytes = signed_difference(after.size_bytes, self.size_bytes);
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

fn tally(tallies: &mut [Tally], row: Row) {
    if let Some(t) = tallies.get_mut(row.what as usize) {
        t.count += 1;
        t.bytes = t.bytes.saturating_add(row.size);
    }
}

/// `a - b` as a signed byte count, clamped to i64 instead of wrapping.
fn signed_difference(a: u64, b: u64) -> i64 {
    (i128::from(a) - i128::from(b)).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

#[cfg(test)]
mod tests {
    use super::node_type::*;
    use super::*;

    fn summary(rows: &[(u32, u32, &str, u64)]) -> HeapSummary {
        let mut b = SummaryBuilder::default();
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
    fn encoding_round_trips_big_ids_and_sizes() {
        let rows = [(u32::MAX - 1, OBJECT, "Edge", u64::MAX), (0, ARRAY, "", 0), (7, HIDDEN, "", 1 << 40)];
        let s = summary(&rows);
        let decoded: Vec<Row> = Decoder::new(&s.encoded).collect();
        assert_eq!(decoded.iter().map(|r| r.id).collect::<Vec<_>>(), [0, 7, u32::MAX - 1]);
        assert_eq!(decoded[2].size, u64::MAX);
        assert_eq!(decoded[1].size, 1 << 40);
        assert_eq!(decoded[1].what, UNNAMED);
    }

    #[test]
    fn a_million_nodes_take_about_four_bytes_each() {
        let mut b = SummaryBuilder::default();
        // Snapshot-like: even ids in a shuffled order, small sizes, a few names.
        for i in 0..1_000_000u32 {
            let id = ((u64::from(i) * 2_654_435_761) % 1_000_000) as u32 * 2;
            b.push(id, OBJECT, ["A", "B", "C"][(i % 3) as usize], 16 + u64::from(i % 5) * 8);
        }
        let s = b.finish();
        assert_eq!(s.nodes(), 1_000_000);
        assert!(s.memory_footprint() < 4_500_000, "footprint {}", s.memory_footprint());
        let ids: Vec<u32> = Decoder::new(&s.encoded).map(|r| r.id).collect();
        assert_eq!(ids.len(), 1_000_000);
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "merged runs are sorted");
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
