//! Streaming reader for V8 `.heapsnapshot` files (node 18 to 26).
//!
//! It reads the top-level object key by key: `snapshot` (the small header with `meta`) is
//! parsed into a value; `nodes` and `edges` go straight into per-field columns, driven by the
//! header's own field lists (fields the analysis does not use, such as `trace_node_id` or
//! `detachedness`, are checked and dropped as they stream by); `strings` go into one byte
//! buffer with offsets; `locations` (where V8 recorded a closure's or a constructor's source
//! position) into one small array; every other section (`trace_*`, `samples`, future ones) is
//! skipped without being stored. Nothing is recursive on input depth, so hostile nesting
//! cannot overflow the stack, and no allocation is sized by a count the file claims beyond
//! what the file's size can back.
//!
//! Errors name the problem and the byte offset where it was found; the reader never panics.

use std::fmt;
use std::io::{self, Read};
use super::memory as mem;

/// Field lists from `snapshot.meta`, plus the counts the header claims.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SnapshotMeta {
    pub node_fields: Vec<String>,
    /// Names of the values of the node `type` field (`hidden`, `array`, `string`, `object`, ...).
    pub node_types: Vec<String>,
    pub edge_fields: Vec<String>,
    /// Names of the values of the edge `type` field (`context`, `element`, `property`, ...).
    pub edge_types: Vec<String>,
    pub node_count: u64,
    pub edge_count: u64,
    /// `location_fields` (V8 writes `object_index, script_id, line, column`); empty when absent.
    pub location_fields: Vec<String>,
    /// Functions in `trace_function_infos` (0 unless V8's allocation tracker ran).
    pub trace_function_count: u64,
    /// `trace_function_info_fields` (`function_id, name, script_name, script_id, line, column`).
    pub trace_function_info_fields: Vec<String>,
    /// `trace_node_fields` (`id, function_info_index, count, size, children`).
    pub trace_node_fields: Vec<String>,
}

/// A function of the allocation tracker's stacks (`trace_function_infos`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceFunction {
    /// String index of the function's name.
    pub name: u32,
    /// String index of its script's name.
    pub script_name: u32,
    /// 1-based, as V8 writes them; 0 when unknown.
    pub line: u32,
    pub column: u32,
}

/// A node of the allocation tracker's call tree (`trace_tree`): one stack, shared by the
/// allocations made there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceNode {
    /// The id nodes name in their `trace_node_id`.
    pub id: u32,
    /// Index into the trace functions.
    pub function: u32,
    /// Index of the caller's node in the tree, `u32::MAX` at the root.
    pub parent: u32,
}

/// Where V8 says a node's code starts: a closure's function, or an object's constructor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceLocation {
    /// Node ordinal.
    pub node: u32,
    pub script_id: u32,
    /// 0-based, as in the file.
    pub line: u32,
    pub column: u32,
}

/// A snapshot as columns indexed by node or edge ordinal, validated against its own meta.
#[derive(Clone, Debug, Default)]
pub struct RawSnapshot {
    pub meta: SnapshotMeta,
    /// Index into `meta.node_types`.
    pub node_type: Vec<u8>,
    /// Index into the strings.
    pub node_name: Vec<u32>,
    /// Node ids and self sizes; a value that does not fit in `u32` (a huge native size, say)
    /// reads `u32::MAX` here and is kept exactly in `wide`.
    pub node_id: Vec<u32>,
    pub self_size: Vec<u32>,
    /// Edges of node `n` are `first_edge[n]..first_edge[n + 1]` (`node_count + 1` entries).
    pub first_edge: Vec<u32>,
    /// Index into `meta.edge_types`.
    pub edge_type: Vec<u8>,
    /// A string index for named edges, the element/hidden index otherwise.
    pub edge_name: Vec<u32>,
    /// Target node ordinal (the file's field offset divided by the node field count).
    pub edge_to: Vec<u32>,
    /// Values over `u32`: `(node, field, value)`, field 0 the id and 1 the self size, in node order.
    pub wide: Vec<(u32, u8, u64)>,
    /// UTF-8 of all strings, back to back; string `i` is `string_bytes[string_ends[i-1]..string_ends[i]]`.
    pub string_bytes: Vec<u8>,
    pub string_ends: Vec<usize>,
    /// The `locations` section, in file order.
    pub locations: Vec<SourceLocation>,
    /// Per node, the id of the allocation stack in `trace_tree` (0: none). Empty unless the
    /// snapshot was taken while V8's allocation tracker ran.
    pub trace_node: Vec<u32>,
    pub trace_functions: Vec<TraceFunction>,
    /// The call tree, parents before children.
    pub trace_tree: Vec<TraceNode>,
}

impl RawSnapshot {
    pub fn string(&self, i: usize) -> Option<&str> {
        let end = *self.string_ends.get(i)?;
        let start = if i == 0 { 0 } else { self.string_ends[i - 1] };
        std::str::from_utf8(self.string_bytes.get(start..end)?).ok()
    }

    pub fn string_count(&self) -> usize {
        self.string_ends.len()
    }

    pub fn node_count(&self) -> usize {
        self.node_type.len()
    }
}

/// Why a snapshot could not be read, and where.
#[derive(Debug)]
pub struct ReadError {
    /// Byte offset in the file where the problem was found.
    pub offset: u64,
    pub message: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.offset == NOWHERE {
            return write!(f, "{}", self.message);
        }
        write!(f, "{} (at byte {})", self.message, self.offset)
    }
}

impl std::error::Error for ReadError {}

/// The offset of an error that is not about the file (the analysis was stopped).
pub const NOWHERE: u64 = u64::MAX;

/// What a node field is used for.
#[derive(Clone, Copy, PartialEq)]
enum NodeRole {
    Type,
    Name,
    Id,
    Size,
    EdgeCount,
    /// `trace_node_id`: kept only when the snapshot has allocation stacks.
    Trace,
    Other,
}

/// What an edge field is used for.
#[derive(Clone, Copy, PartialEq)]
enum EdgeRole {
    Type,
    Name,
    To,
    Other,
}

/// Reads a whole snapshot. `size_hint` (the file's size, when known) bounds every
/// preallocation, so a header claiming billions of nodes cannot make the reader allocate them.
/// `progress` is told how many bytes have been read so far, every few megabytes.
pub fn read_snapshot<R: Read>(input: R, size_hint: Option<u64>) -> Result<RawSnapshot, ReadError> {
    read_snapshot_with_progress(input, size_hint, &mut |_| Ok(()))
}

/// [`read_snapshot`], reporting the bytes read so far to `progress` every few megabytes; an
/// error from it (the analysis was cancelled or ran out of time) ends the reading with it.
pub fn read_snapshot_with_progress<R: Read>(
    mut input: R,
    size_hint: Option<u64>,
    progress: &mut dyn FnMut(u64) -> Result<(), String>,
) -> Result<RawSnapshot, ReadError> {
    // gzip (1f 8b) is read through a decoder, as a stream; its size no longer bounds the counts.
    let mut magic = [0u8; 2];
    let mut have = 0;
    while have < 2 {
        match input.read(&mut magic[have..]) {
            Ok(0) => break,
            Ok(n) => have += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError { offset: 0, message: format!("read error: {e}") }),
        }
    }
    let head = io::Cursor::new(magic[..have].to_vec()).chain(input);
    if have == 2 && magic == [0x1f, 0x8b] {
        let decoded = GzipStream(flate2::read::MultiGzDecoder::new(head));
        return read_plain(decoded, None, progress);
    }
    read_plain(head, size_hint, progress)
}

/// A gzip stream whose errors say it is one (a truncated .gz, say).
struct GzipStream<R>(R);

impl<R: Read> Read for GzipStream<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| io::Error::new(e.kind(), format!("the gzip stream is damaged or cut short ({e})")))
    }
}

fn read_plain<R: Read>(input: R, size_hint: Option<u64>, progress: &mut dyn FnMut(u64) -> Result<(), String>) -> Result<RawSnapshot, ReadError> {
    let mut lx = Lexer::new(input, progress).with_buffer(size_hint)?;
    let mut snap = RawSnapshot::default();
    let mut have_meta = false;
    let (mut have_nodes, mut have_edges, mut have_strings) = (false, false, false);
    // Each number in an array takes at least 2 bytes ("0,").
    let cap_by_size = |claimed: u64, per_record: usize| -> usize {
        let bound = size_hint.map(|s| s / 2 / per_record.max(1) as u64).unwrap_or(1 << 20);
        claimed.min(bound).min(u32::MAX as u64) as usize
    };

    lx.skip_bom()?;
    lx.skip_ws()?;
    match lx.peek()? {
        Some(b'{') => lx.bump(),
        None => return Err(lx.err("the file is empty")),
        Some(b'<') => return Err(lx.err("this is HTML or XML, not a heap snapshot (a .heapsnapshot file is JSON that starts with '{\"snapshot\"')")),
        other => return Err(lx.unexpected(other, "'{' (a .heapsnapshot file is JSON that starts with '{\"snapshot\"')")),
    }
    loop {
        lx.skip_ws()?;
        if lx.peek()? == Some(b'}') {
            lx.bump();
            break;
        }
        let key = lx.string()?;
        lx.expect(b':')?;
        match key.as_str() {
            "snapshot" => {
                if have_meta {
                    return Err(lx.err("a second \"snapshot\" section"));
                }
                let at = lx.offset();
                let value = lx.value()?;
                snap.meta = parse_meta(&value).map_err(|m| ReadError { offset: at, message: m })?;
                have_meta = true;
                // Counts the file's size cannot back are a lie the count checks will catch later.
                let bounded = |claimed: u64, fields: usize| size_hint.map_or(claimed, |s| claimed.min(s / 2 / fields.max(1) as u64));
                let (nodes, edges) = (bounded(snap.meta.node_count, snap.meta.node_fields.len()), bounded(snap.meta.edge_count, snap.meta.edge_fields.len()));
                crate::snapshot::memory::ensure_room(nodes, edges, size_hint)
                    .map_err(|message| ReadError { offset: at, message })?;
            }
            "nodes" if !have_meta && !lx.at_number_array()? => {
                return Err(lx.err("this looks like a CPU profile (.cpuprofile: \"nodes\" holds call-tree objects), not a heap snapshot"));
            }
            "head" if !have_meta => {
                return Err(lx.err("this looks like a sampling heap profile (.heapprofile: a \"head\" call tree), not a heap snapshot"));
            }
            "nodes" | "edges" if !have_meta => {
                return Err(lx.err(format!("\"{key}\" comes before the \"snapshot\" header that describes it")));
            }
            "nodes" => {
                if have_nodes {
                    return Err(lx.err("a second \"nodes\" section"));
                }
                let reserve = cap_by_size(snap.meta.node_count, snap.meta.node_fields.len());
                read_nodes(&mut lx, &mut snap, reserve)?;
                have_nodes = true;
            }
            "edges" => {
                if have_edges {
                    return Err(lx.err("a second \"edges\" section"));
                }
                let reserve = cap_by_size(snap.meta.edge_count, snap.meta.edge_fields.len());
                read_edges(&mut lx, &mut snap, reserve)?;
                have_edges = true;
            }
            "locations" if have_meta && snap.locations.is_empty() => read_locations(&mut lx, &mut snap)?,
            "trace_function_infos" if have_meta && snap.trace_functions.is_empty() && snap.meta.trace_function_count > 0 => {
                read_trace_functions(&mut lx, &mut snap)?
            }
            "trace_tree" if have_meta && snap.trace_tree.is_empty() && snap.meta.trace_function_count > 0 => {
                read_trace_tree(&mut lx, &mut snap)?
            }
            "strings" => {
                if have_strings {
                    return Err(lx.err("a second \"strings\" section"));
                }
                lx.string_array(&mut snap.string_bytes, &mut snap.string_ends)?;
                have_strings = true;
            }
            _ => lx.skip_value()?,
        }
        lx.skip_ws()?;
        match lx.peek()? {
            Some(b',') => lx.bump(),
            Some(b'}') => {
                lx.bump();
                break;
            }
            other => return Err(lx.unexpected(other, "',' or '}' after a top-level section")),
        }
    }
    let end = lx.offset();
    for (present, what) in [(have_meta, "snapshot"), (have_nodes, "nodes"), (have_edges, "edges"), (have_strings, "strings")] {
        if !present {
            return Err(ReadError { offset: end, message: format!("the snapshot has no \"{what}\" section") });
        }
    }
    validate(&snap).map_err(|message| ReadError { offset: end, message })?;
    Ok(snap)
}

/// The `nodes` array into columns, checking each value's range as it streams by.
fn read_nodes<R: Read>(lx: &mut Lexer<'_, R>, s: &mut RawSnapshot, reserve: usize) -> Result<(), ReadError> {
    let m = &s.meta;
    let roles: Vec<NodeRole> = m
        .node_fields
        .iter()
        .map(|f| match f.as_str() {
            "type" => NodeRole::Type,
            "name" => NodeRole::Name,
            "id" => NodeRole::Id,
            "self_size" => NodeRole::Size,
            "edge_count" => NodeRole::EdgeCount,
            "trace_node_id" if m.trace_function_count > 0 => NodeRole::Trace,
            _ => NodeRole::Other,
        })
        .collect();
    let type_count = m.node_types.len() as u64;
    let (claimed_nodes, claimed_edges) = (m.node_count, m.edge_count);
    let room = |r: Result<(), String>| r.map_err(|m| lx.err(m));
    room(mem::reserve(&mut s.node_type, reserve, "the nodes"))?;
    room(mem::reserve(&mut s.node_name, reserve, "the nodes"))?;
    room(mem::reserve(&mut s.node_id, reserve, "the nodes"))?;
    room(mem::reserve(&mut s.self_size, reserve, "the nodes"))?;
    room(mem::reserve(&mut s.first_edge, reserve + 1, "the nodes"))?;
    s.first_edge.push(0);
    if roles.contains(&NodeRole::Trace) {
        room(mem::reserve(&mut s.trace_node, reserve, "the nodes' allocation stacks"))?;
    }
    let mut sink = NodeSink {
        at: Records::new(&roles, claimed_nodes),
        claimed_edges,
        type_count,
        edges_so_far: 0,
        node_type: &mut s.node_type,
        node_name: &mut s.node_name,
        node_id: &mut s.node_id,
        self_size: &mut s.self_size,
        first_edge: &mut s.first_edge,
        wide: &mut s.wide,
        trace_node: &mut s.trace_node,
    };
    lx.numbers(&mut sink)?;
    sink.at.finish(lx, "node")
}

/// `trace_function_infos`: records of `trace_function_info_fields`, read by name.
fn read_trace_functions<R: Read>(lx: &mut Lexer<'_, R>, s: &mut RawSnapshot) -> Result<(), ReadError> {
    let fields = &s.meta.trace_function_info_fields;
    let slot = |name: &str| fields.iter().position(|f| f == name);
    let (Some(n), Some(sn), Some(l), Some(c)) = (slot("name"), slot("script_name"), slot("line"), slot("column")) else {
        return lx.skip_value();
    };
    let width = fields.len();
    if width > 8 || !lx.at_number_array()? {
        return lx.skip_value();
    }
    struct FunctionSink<'a> {
        width: usize,
        slots: [usize; 4],
        record: [u64; 8],
        k: usize,
        claimed: u64,
        out: &'a mut Vec<TraceFunction>,
    }
    impl Sink for FunctionSink<'_> {
        fn value(&mut self, v: u64) -> Result<(), String> {
            self.record[self.k] = v;
            self.k += 1;
            if self.k < self.width {
                return Ok(());
            }
            self.k = 0;
            if self.out.len() as u64 >= self.claimed {
                return Err(too_many("trace function", self.claimed));
            }
            // Negative (unknown) positions read as 0, "unknown", as V8 means them.
            let fit = |x: u64| if x == NEGATIVE { Ok(0) } else { u32::try_from(x).map_err(|_| format!("a trace function holds {x}, beyond 2^32")) };
            let [n, sn, l, c] = self.slots.map(|i| self.record[i]);
            mem::push(self.out, TraceFunction { name: fit(n)?, script_name: fit(sn)?, line: fit(l)?, column: fit(c)? }, "the allocation stacks")?;
            Ok(())
        }
    }
    let mut sink = FunctionSink { width, slots: [n, sn, l, c], record: [0; 8], k: 0, claimed: s.meta.trace_function_count, out: &mut s.trace_functions };
    lx.signed_numbers(&mut sink)?;
    if sink.k != 0 {
        return Err(lx.err("\"trace_function_infos\" ends in the middle of a function"));
    }
    Ok(())
}

/// `trace_tree`: nested `[id, function_info_index, count, size, [children...], ...]`, read
/// without recursion (the tree is as deep as the deepest stack), parents before children.
fn read_trace_tree<R: Read>(lx: &mut Lexer<'_, R>, s: &mut RawSnapshot) -> Result<(), ReadError> {
    let expected = ["id", "function_info_index", "count", "size", "children"];
    if s.meta.trace_node_fields.iter().map(String::as_str).ne(expected) {
        return lx.skip_value();
    }
    let functions = s.meta.trace_function_count;
    lx.expect(b'[')?;
    // The parents of the arrays we are inside: `u32::MAX` for the top-level array.
    let mut open: Vec<u32> = vec![u32::MAX];
    let out = &mut s.trace_tree;
    loop {
        lx.skip_ws()?;
        match lx.peek()? {
            Some(b']') => {
                lx.bump();
                open.pop();
                if open.is_empty() {
                    return Ok(());
                }
            }
            Some(b',') => lx.bump(),
            Some(b) if b.is_ascii_digit() => {
                let id = lx.number()?;
                lx.expect(b',')?;
                let function = lx.number()?;
                for _ in 0..2 {
                    lx.expect(b',')?;
                    lx.number()?; // count and size: of all allocations there, not of the live ones
                }
                lx.expect(b',')?;
                lx.expect(b'[')?;
                if function >= functions {
                    return Err(lx.err(format!("a trace node names function {function} but there are {functions}")));
                }
                let id = u32::try_from(id).map_err(|_| lx.err("a trace node id beyond 2^32"))?;
                if out.len() >= u32::MAX as usize - 1 {
                    return Err(lx.err("too many trace nodes"));
                }
                let parent = *open.last().unwrap_or(&u32::MAX);
                mem::push(out, TraceNode { id, function: function as u32, parent }, "the allocation stacks").map_err(|m| lx.err(m))?;
                mem::push(&mut open, out.len() as u32 - 1, "the allocation stacks").map_err(|m| lx.err(m))?;
            }
            other => return Err(lx.unexpected(other, "a trace node, ',' or ']' in \"trace_tree\"")),
        }
    }
}

/// The `locations` array: records of `location_fields` (object_index, script_id, line, column
/// in V8's order; other layouts are read by name). An object index must be a node's first field.
fn read_locations<R: Read>(lx: &mut Lexer<'_, R>, s: &mut RawSnapshot) -> Result<(), ReadError> {
    let default = ["object_index", "script_id", "line", "column"].map(String::from).to_vec();
    let fields = if s.meta.location_fields.is_empty() { &default } else { &s.meta.location_fields };
    let slot = |name: &str| fields.iter().position(|f| f == name);
    let (Some(o), Some(sc), Some(l), Some(c)) = (slot("object_index"), slot("script_id"), slot("line"), slot("column")) else {
        return lx.skip_value();
    };
    // Locations are a nicety: a section of another shape is skipped like an unknown one.
    if !lx.at_number_array()? {
        return lx.skip_value();
    }
    struct LocationSink<'a> {
        width: usize,
        slots: [usize; 4],
        node_fields: u64,
        node_count: u64,
        record: [u64; 8],
        k: usize,
        out: &'a mut Vec<SourceLocation>,
    }
    impl Sink for LocationSink<'_> {
        fn value(&mut self, v: u64) -> Result<(), String> {
            if self.k < self.record.len() {
                self.record[self.k] = v;
            }
            self.k += 1;
            if self.k < self.width {
                return Ok(());
            }
            self.k = 0;
            let [o, s, l, c] = self.slots.map(|i| self.record[i]);
            if [o, s, l, c].contains(&NEGATIVE) {
                // V8 writes -1 for a position it does not know (seen on node 24+ for code that
                // vm or a bundler made): no location for that object, not a broken file.
                return Ok(());
            }
            if o % self.node_fields != 0 || o / self.node_fields >= self.node_count {
                return Err(format!("a location names object index {o}, which is not a node of this snapshot"));
            }
            let fit = |x: u64| u32::try_from(x).map_err(|_| format!("a location holds {x}, beyond 2^32"));
            mem::push(self.out, SourceLocation { node: (o / self.node_fields) as u32, script_id: fit(s)?, line: fit(l)?, column: fit(c)? }, "the locations")?;
            Ok(())
        }
    }
    let width = fields.len();
    if width == 0 || width > 8 {
        return lx.skip_value();
    }
    let mut sink = LocationSink {
        width,
        slots: [o, sc, l, c],
        node_fields: s.meta.node_fields.len().max(1) as u64,
        node_count: s.meta.node_count,
        record: [0; 8],
        k: 0,
        out: &mut s.locations,
    };
    lx.signed_numbers(&mut sink)?;
    if sink.k != 0 {
        return Err(lx.err("\"locations\" ends in the middle of a location"));
    }
    Ok(())
}

/// Room for `n` more bytes of strings, doubling, or the error.
#[cold]
#[inline(never)]
fn grow_bytes(out: &mut Vec<u8>, n: usize) -> Result<(), String> {
    let extra = n.max(out.capacity()).max(4096);
    out.try_reserve(extra).or_else(|_| out.try_reserve_exact(n)).map_err(|_| mem::out_of_memory("the strings", extra))
}

/// What [`Lexer::signed_numbers`] hands a sink for a negative number.
const NEGATIVE: u64 = u64::MAX;

/// Receives the values of a number array, one at a time, in the reader's hot loop.
trait Sink {
    fn value(&mut self, v: u64) -> Result<(), String>;
}

/// Where a number array's stream is: which field of which record, and how many records the
/// header allows.
struct Records<'a, R> {
    roles: &'a [R],
    k: usize,
    rec: u64,
    claimed: u64,
}

impl<'a, R: Copy> Records<'a, R> {
    fn new(roles: &'a [R], claimed: u64) -> Self {
        Records { roles, k: 0, rec: 0, claimed }
    }

    /// The role of the value arriving now; refuses a record beyond the claimed count.
    #[inline(always)]
    fn role(&self, what: &str) -> Result<R, String> {
        if self.k == 0 && self.rec >= self.claimed {
            return Err(too_many(what, self.claimed));
        }
        Ok(self.roles[self.k])
    }

    #[inline(always)]
    fn advance(&mut self) {
        self.k += 1;
        if self.k == self.roles.len() {
            self.k = 0;
            self.rec += 1;
        }
    }

    /// At the array's end: a record cut short is an error.
    fn finish<In: Read>(&self, lx: &Lexer<'_, In>, what: &str) -> Result<(), ReadError> {
        if self.k == 0 {
            return Ok(());
        }
        let article = if what.starts_with('e') { "an" } else { "a" };
        Err(lx.err(format!("\"{what}s\" ends in the middle of {article} {what} ({} of its {} fields)", self.k, self.roles.len())))
    }
}

struct NodeSink<'a> {
    at: Records<'a, NodeRole>,
    claimed_edges: u64,
    type_count: u64,
    edges_so_far: u64,
    node_type: &'a mut Vec<u8>,
    node_name: &'a mut Vec<u32>,
    node_id: &'a mut Vec<u32>,
    self_size: &'a mut Vec<u32>,
    first_edge: &'a mut Vec<u32>,
    wide: &'a mut Vec<(u32, u8, u64)>,
    trace_node: &'a mut Vec<u32>,
}

impl Sink for NodeSink<'_> {
    #[inline(always)]
    fn value(&mut self, v: u64) -> Result<(), String> {
        let rec = self.at.rec;
        match self.at.role("nodes")? {
            NodeRole::Type => {
                if v >= self.type_count {
                    return Err(bad_type("node", rec, v, self.type_count));
                }
                mem::push(self.node_type, v as u8, "the nodes")?;
            }
            NodeRole::Name => match u32::try_from(v) {
                Ok(name) => mem::push(self.node_name, name, "the nodes")?,
                Err(_) => return Err(bad_name(rec, v)),
            },
            role @ (NodeRole::Id | NodeRole::Size) => {
                let (col, tag) = if role == NodeRole::Id { (&mut *self.node_id, 0) } else { (&mut *self.self_size, 1) };
                match u32::try_from(v) {
                    Ok(small) if small != u32::MAX => mem::push(col, small, "the nodes")?,
                    _ => {
                        mem::push(self.wide, (rec as u32, tag, v), "the nodes")?;
                        mem::push(col, u32::MAX, "the nodes")?;
                    }
                }
            }
            NodeRole::EdgeCount => {
                self.edges_so_far = self.edges_so_far.saturating_add(v);
                if self.edges_so_far > self.claimed_edges {
                    return Err(edges_overflow(self.claimed_edges));
                }
                mem::push(self.first_edge, self.edges_so_far as u32, "the nodes")?;
            }
            NodeRole::Trace => mem::push(self.trace_node, u32::try_from(v).unwrap_or(0), "the nodes' allocation stacks")?,
            NodeRole::Other => {}
        }
        self.at.advance();
        Ok(())
    }
}

struct EdgeSink<'a> {
    at: Records<'a, EdgeRole>,
    type_count: u64,
    nf: u64,
    node_values: u64,
    edge_type: &'a mut Vec<u8>,
    edge_name: &'a mut Vec<u32>,
    edge_to: &'a mut Vec<u32>,
}

impl Sink for EdgeSink<'_> {
    #[inline(always)]
    fn value(&mut self, v: u64) -> Result<(), String> {
        let rec = self.at.rec;
        match self.at.role("edges")? {
            EdgeRole::Type => {
                if v >= self.type_count {
                    return Err(bad_type("edge", rec, v, self.type_count));
                }
                mem::push(self.edge_type, v as u8, "the edges")?;
            }
            EdgeRole::Name => match u32::try_from(v) {
                Ok(name) => mem::push(self.edge_name, name, "the edges")?,
                Err(_) => return Err(bad_edge_name(rec, v)),
            },
            EdgeRole::To => {
                if !v.is_multiple_of(self.nf) || v >= self.node_values {
                    return Err(bad_target(rec, v, self.node_values));
                }
                mem::push(self.edge_to, (v / self.nf) as u32, "the edges")?;
            }
            EdgeRole::Other => {}
        }
        self.at.advance();
        Ok(())
    }
}

// Error texts, out of the hot loop.
#[cold]
#[inline(never)]
fn too_many(what: &str, claimed: u64) -> String {
    format!("\"{what}\" holds more than the {claimed} {what} {}_count says", &what[..what.len() - 1])
}
#[cold]
#[inline(never)]
fn bad_type(what: &str, rec: u64, v: u64, count: u64) -> String {
    format!("{what} {rec} has type {v} but meta lists {count} {what} types")
}
#[cold]
#[inline(never)]
fn bad_name(rec: u64, v: u64) -> String {
    format!("node {rec} names string {v}, beyond any string index")
}
#[cold]
#[inline(never)]
fn bad_edge_name(rec: u64, v: u64) -> String {
    format!("edge {rec} has name or index {v}, beyond 32 bits")
}
#[cold]
#[inline(never)]
fn edges_overflow(claimed: u64) -> String {
    format!("the nodes' edge counts add up to more than edge_count ({claimed})")
}
#[cold]
#[inline(never)]
fn bad_target(rec: u64, v: u64, node_values: u64) -> String {
    format!("edge {rec} points to node field offset {v}, outside the {node_values} node values")
}

/// The `edges` array into columns; targets become node ordinals.
fn read_edges<R: Read>(lx: &mut Lexer<'_, R>, s: &mut RawSnapshot, reserve: usize) -> Result<(), ReadError> {
    let m = &s.meta;
    let roles: Vec<EdgeRole> = m
        .edge_fields
        .iter()
        .map(|f| match f.as_str() {
            "type" => EdgeRole::Type,
            "name_or_index" => EdgeRole::Name,
            "to_node" => EdgeRole::To,
            _ => EdgeRole::Other,
        })
        .collect();
    let type_count = m.edge_types.len() as u64;
    let nf = m.node_fields.len() as u64;
    let node_values = m.node_count.saturating_mul(nf);
    let claimed_edges = m.edge_count;
    let room = |r: Result<(), String>| r.map_err(|m| lx.err(m));
    room(mem::reserve(&mut s.edge_type, reserve, "the edges"))?;
    room(mem::reserve(&mut s.edge_name, reserve, "the edges"))?;
    room(mem::reserve(&mut s.edge_to, reserve, "the edges"))?;
    let mut sink = EdgeSink {
        at: Records::new(&roles, claimed_edges),
        type_count,
        nf,
        node_values,
        edge_type: &mut s.edge_type,
        edge_name: &mut s.edge_name,
        edge_to: &mut s.edge_to,
    };
    lx.numbers(&mut sink)?;
    sink.at.finish(lx, "edge")
}

fn parse_meta(v: &Value) -> Result<SnapshotMeta, String> {
    let meta = v.get("meta").ok_or("\"snapshot\" has no \"meta\"")?;
    let names = |key: &str| -> Result<Vec<String>, String> {
        match meta.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| match i {
                    Value::Str(s) => Ok(s.clone()),
                    _ => Err(format!("meta.{key} holds a non-string")),
                })
                .collect(),
            _ => Err(format!("meta.{key} is missing or not an array")),
        }
    };
    // `node_types[0]` / `edge_types[0]` list the values of the `type` field.
    let type_names = |key: &str| -> Result<Vec<String>, String> {
        match meta.get(key) {
            Some(Value::Array(items)) => match items.first() {
                Some(Value::Array(kinds)) => Ok(kinds
                    .iter()
                    .map(|k| if let Value::Str(s) = k { s.clone() } else { String::new() })
                    .collect()),
                _ => Err(format!("meta.{key}[0] is not the list of type names")),
            },
            _ => Err(format!("meta.{key} is missing or not an array")),
        }
    };
    let count = |key: &str| -> Result<u64, String> {
        match v.get(key) {
            Some(Value::Num(n)) => Ok(*n),
            _ => Err(format!("snapshot.{key} is missing or not a number")),
        }
    };
    let meta = SnapshotMeta {
        node_fields: names("node_fields")?,
        node_types: type_names("node_types")?,
        edge_fields: names("edge_fields")?,
        edge_types: type_names("edge_types")?,
        node_count: count("node_count")?,
        edge_count: count("edge_count")?,
        location_fields: names("location_fields").unwrap_or_default(),
        trace_function_count: count("trace_function_count").unwrap_or(0),
        trace_function_info_fields: names("trace_function_info_fields").unwrap_or_default(),
        trace_node_fields: names("trace_node_fields").unwrap_or_default(),
    };
    if meta.node_types.len() > 256 || meta.edge_types.len() > 256 {
        return Err("meta lists more than 256 node or edge types".into());
    }
    if meta.node_count >= u64::from(u32::MAX) || meta.edge_count >= u64::from(u32::MAX) {
        return Err(format!(
            "{} nodes / {} edges is beyond what this analyzer indexes (2^32 - 1)",
            meta.node_count, meta.edge_count
        ));
    }
    for (fields, required, what) in [
        (&meta.node_fields, &["type", "name", "id", "self_size", "edge_count"][..], "node_fields"),
        (&meta.edge_fields, &["type", "name_or_index", "to_node"][..], "edge_fields"),
    ] {
        for r in required {
            if !fields.iter().any(|f| f == r) {
                return Err(format!("meta.{what} lacks \"{r}\""));
            }
        }
    }
    Ok(meta)
}

/// Checks the columns against the header: counts, and the string references (the strings come
/// after the arrays, so only now can they be checked).
fn validate(s: &RawSnapshot) -> Result<(), String> {
    let m = &s.meta;
    if s.node_count() as u64 != m.node_count {
        return Err(format!("node_count says {} nodes but \"nodes\" holds {}", m.node_count, s.node_count()));
    }
    if s.edge_type.len() as u64 != m.edge_count {
        return Err(format!("edge_count says {} edges but \"edges\" holds {}", m.edge_count, s.edge_type.len()));
    }
    let claimed = s.first_edge.last().copied().unwrap_or(0);
    if u64::from(claimed) != m.edge_count {
        return Err(format!("the nodes' edge counts add up to {claimed} but edge_count is {}", m.edge_count));
    }
    let strings = s.string_count() as u64;
    if let Some(i) = s.node_name.iter().position(|&n| u64::from(n) >= strings) {
        return Err(format!("node {i} names string {} but there are {strings} strings", s.node_name[i]));
    }
    let element = m.edge_types.iter().position(|t| t == "element").map(|p| p as u8);
    let hidden = m.edge_types.iter().position(|t| t == "hidden").map(|p| p as u8);
    // Element and hidden edges carry an index; the others name a string.
    for (i, (&kind, &name)) in s.edge_type.iter().zip(&s.edge_name).enumerate() {
        if u64::from(name) >= strings && Some(kind) != element && Some(kind) != hidden {
            return Err(format!("edge {i} names string {name} but there are {strings} strings"));
        }
    }
    Ok(())
}

/// The small JSON values of the `snapshot` header.
#[derive(Debug, PartialEq)]
enum Value {
    Null,
    Bool(bool),
    Num(u64),
    Str(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// The header is tiny; anything deeper than this is not a snapshot header.
const MAX_HEADER_DEPTH: usize = 32;
/// Nor is a header bigger than this.
const MAX_HEADER_BYTES: u64 = 16 << 20;

/// Bytes between two progress reports.
const PROGRESS_STEP: u64 = 16 << 20;

struct Lexer<'p, R: Read> {
    input: R,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    consumed: u64,
    eof: bool,
    progress: &'p mut dyn FnMut(u64) -> Result<(), String>,
    next_report: u64,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

impl<'p, R: Read> Lexer<'p, R> {
    fn new(input: R, progress: &'p mut dyn FnMut(u64) -> Result<(), String>) -> Self {
        Lexer { input, buf: Vec::new(), pos: 0, len: 0, consumed: 0, eof: false, progress, next_report: PROGRESS_STEP }
    }

    /// The read buffer, had fallibly: 1 MB, or the input's size when it is known to be smaller
    /// (the buffer is zeroed, which a small input should not pay a megabyte for).
    fn with_buffer(mut self, size_hint: Option<u64>) -> Result<Self, ReadError> {
        let len = size_hint.map_or(1 << 20, |s| s.saturating_add(16).clamp(4096, 1 << 20) as usize);
        self.buf = mem::filled(len, 0u8, "the read buffer").map_err(|message| ReadError { offset: 0, message })?;
        Ok(self)
    }

    /// Tells `progress` how far the input is read, every PROGRESS_STEP bytes.
    fn report_progress(&mut self) -> Result<(), ReadError> {
        if self.consumed >= self.next_report {
            self.next_report = self.consumed + PROGRESS_STEP;
            (self.progress)(self.consumed).map_err(|message| ReadError { offset: NOWHERE, message })?;
        }
        Ok(())
    }

    fn offset(&self) -> u64 {
        self.consumed + self.pos as u64
    }

    fn err(&self, message: impl Into<String>) -> ReadError {
        ReadError { offset: self.offset(), message: message.into() }
    }

    fn unexpected(&self, got: Option<u8>, wanted: &str) -> ReadError {
        match got {
            Some(b) => self.err(format!("expected {wanted}, found {:?}", b as char)),
            None => self.err(format!("the file ends early (truncated?): expected {wanted}")),
        }
    }

    fn fill(&mut self) -> Result<bool, ReadError> {
        if self.pos < self.len {
            return Ok(true);
        }
        self.consumed += self.len as u64;
        self.pos = 0;
        self.len = 0;
        self.report_progress()?;
        loop {
            match self.input.read(&mut self.buf) {
                Ok(n) => {
                    self.len = n;
                    self.eof = n == 0;
                    return Ok(n > 0);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.err(format!("read error: {e}"))),
            }
        }
    }

    fn peek(&mut self) -> Result<Option<u8>, ReadError> {
        Ok(if self.fill()? { Some(self.buf[self.pos]) } else { None })
    }

    fn bump(&mut self) {
        self.pos += 1;
    }

    /// Whether the value here is an array whose first item is a number (or which is empty),
    /// judged from the next 64 bytes without consuming anything.
    fn at_number_array(&mut self) -> Result<bool, ReadError> {
        self.skip_ws()?;
        self.fill_keep(64)?;
        let ahead = &self.buf[self.pos..self.len];
        if ahead.first() != Some(&b'[') {
            return Ok(false);
        }
        Ok(ahead[1..].iter().find(|b| !is_ws(**b)).is_some_and(|b| b.is_ascii_digit() || *b == b']'))
    }

    fn next_byte(&mut self) -> Result<Option<u8>, ReadError> {
        let b = self.peek()?;
        if b.is_some() {
            self.pos += 1;
        }
        Ok(b)
    }

    fn skip_ws(&mut self) -> Result<(), ReadError> {
        while let Some(b) = self.peek()? {
            if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                break;
            }
            self.pos += 1;
        }
        Ok(())
    }

    fn expect(&mut self, want: u8) -> Result<(), ReadError> {
        self.skip_ws()?;
        match self.peek()? {
            Some(b) if b == want => {
                self.pos += 1;
                Ok(())
            }
            other => Err(self.unexpected(other, &format!("{:?}", want as char))),
        }
    }

    /// A non-negative integer (what every nodes/edges/meta count is).
    fn number(&mut self) -> Result<u64, ReadError> {
        self.skip_ws()?;
        let mut v: u64 = 0;
        let mut digits = 0;
        while let Some(b) = self.peek()? {
            if !b.is_ascii_digit() {
                break;
            }
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b - b'0')))
                .ok_or_else(|| self.err("a number does not fit in 64 bits"))?;
            digits += 1;
            self.pos += 1;
        }
        if digits == 0 {
            let got = self.peek()?;
            return Err(self.unexpected(got, "a non-negative integer"));
        }
        if let Some(b'.' | b'e' | b'E') = self.peek()? {
            return Err(self.err("expected an integer, found a fraction or exponent"));
        }
        Ok(v)
    }

    /// Keeps the unread bytes and reads more behind them, until at least `want` bytes are
    /// buffered or the input ends. Returns how many are buffered.
    fn fill_keep(&mut self, want: usize) -> Result<usize, ReadError> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.len, 0);
            self.consumed += self.pos as u64;
            self.len -= self.pos;
            self.pos = 0;
        }
        self.report_progress()?;
        while self.len < want && !self.eof {
            match self.input.read(&mut self.buf[self.len..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.err(format!("read error: {e}"))),
            }
        }
        Ok(self.len)
    }

    /// `[n, n, ...]`, each value handed to `sink` (whose error message gets the offset).
    /// The hot loop of the reader: numbers are parsed straight from the read buffer, which
    /// always holds a whole number (at most 20 digits) when one starts.
    fn numbers<S: Sink>(&mut self, sink: &mut S) -> Result<(), ReadError> {
        /// More than any number and its separator (20 digits, one comma) take.
        const WINDOW: usize = 64;
        self.expect(b'[')?;
        self.skip_ws()?;
        if self.peek()? == Some(b']') {
            self.bump();
            return Ok(());
        }
        let mut want_separator = false;
        loop {
            if self.len - self.pos <= WINDOW && !self.eof {
                self.fill_keep(WINDOW + 1)?;
            }
            let len = self.len;
            let base = self.consumed;
            let at = |i: usize, message: String| ReadError { offset: base + i as u64, message };
            let buf = &self.buf[..len];
            let mut i = self.pos;
            // Stop a window short of the buffer's end (unless it is the file's end), so a
            // number never straddles two reads.
            let stop = if self.eof { len } else { len - WINDOW };
            while i < stop {
                let b = buf[i];
                if want_separator {
                    match b {
                        b',' => want_separator = false,
                        b']' => {
                            self.pos = i + 1;
                            return Ok(());
                        }
                        b' ' | b'\n' | b'\r' | b'\t' => {}
                        b'.' | b'e' | b'E' => return Err(at(i, "expected an integer, found a fraction or exponent".into())),
                        b'0'..=b'9' => return Err(at(i, "expected ',' or ']' in a number array".into())),
                        other => return Err(at(i, format!("expected ',' or ']' in a number array, found {:?}", other as char))),
                    }
                    i += 1;
                    continue;
                }
                let first = b.wrapping_sub(b'0');
                if first > 9 {
                    if is_ws(b) {
                        i += 1;
                        continue;
                    }
                    return Err(at(i, format!("expected a non-negative integer in a number array, found {:?}", b as char)));
                }
                // The hot path: digits, then usually a comma right away.
                let start = i;
                let mut v = u64::from(first);
                i += 1;
                while i < len {
                    let d = buf[i].wrapping_sub(b'0');
                    if d > 9 {
                        break;
                    }
                    if i - start >= 19 {
                        // Only a 20th digit can overflow; a 21st always does.
                        v = match v.checked_mul(10).and_then(|v| v.checked_add(u64::from(d))) {
                            Some(v) if i - start == 19 => v,
                            _ => return Err(at(start, "a number does not fit in 64 bits".into())),
                        };
                    } else {
                        v = v * 10 + u64::from(d);
                    }
                    i += 1;
                }
                if let Err(message) = sink.value(v) {
                    if self.eof && i >= len {
                        // The number runs into the end of the file: it was cut, not wrong.
                        return Err(at(i, "the file ends inside a number array (truncated?)".into()));
                    }
                    return Err(at(start, message));
                }
                if i < len && buf[i] == b',' {
                    i += 1;
                } else {
                    want_separator = true;
                }
            }
            self.pos = i;
            if self.eof && self.pos >= self.len {
                return Err(self.err("the file ends inside a number array (truncated?)"));
            }
        }
    }

    /// `["...", ...]` into one byte buffer with end offsets.
    fn string_array(&mut self, bytes: &mut Vec<u8>, ends: &mut Vec<usize>) -> Result<(), ReadError> {
        self.expect(b'[')?;
        self.skip_ws()?;
        if self.peek()? == Some(b']') {
            self.bump();
            return Ok(());
        }
        loop {
            self.skip_ws()?;
            self.string_into(bytes)?;
            mem::push(ends, bytes.len(), "the strings").map_err(|m| self.err(m))?;
            self.skip_ws()?;
            match self.next_byte()? {
                Some(b',') => {}
                Some(b']') => return Ok(()),
                other => return Err(self.unexpected(other, "',' or ']' in the strings array")),
            }
        }
    }

    fn string(&mut self) -> Result<String, ReadError> {
        self.skip_ws()?;
        let mut bytes = Vec::new();
        self.string_into(&mut bytes)?;
        String::from_utf8(bytes).map_err(|_| self.err("a key is not valid UTF-8"))
    }

    /// A JSON string appended to `out` as UTF-8. Invalid UTF-8 and lone surrogates become
    /// U+FFFD, as V8 itself writes them for unpaired surrogates in JS strings.
    fn string_into(&mut self, out: &mut Vec<u8>) -> Result<(), ReadError> {
        match self.next_byte()? {
            Some(b'"') => {}
            other => return Err(self.unexpected(other, "a string")),
        }
        let start = out.len();
        loop {
            // Copy runs of plain bytes at once.
            if !self.fill()? {
                return Err(self.err("the file ends inside a string (truncated?)"));
            }
            let chunk = &self.buf[self.pos..self.len];
            let Some(run) = chunk.iter().position(|&b| b == b'"' || b == b'\\') else {
                // The string goes on past this buffer: keep it all and read more.
                let n = chunk.len();
                if out.capacity() - out.len() < n {
                    if let Err(m) = grow_bytes(out, n) {
                        return Err(self.err(m));
                    }
                }
                let chunk = &self.buf[self.pos..self.len];
                out.extend_from_slice(chunk);
                self.pos = self.len;
                continue;
            };
            if out.capacity() - out.len() < run + 4 {
                if let Err(m) = grow_bytes(out, run + 4) {
                    return Err(self.err(m));
                }
            }
            let chunk = &self.buf[self.pos..self.len];
            out.extend_from_slice(&chunk[..run]);
            let stop = chunk[run];
            self.pos += run + 1;
            if stop == b'"' {
                break;
            }
            self.escape(out)?;
        }
        if std::str::from_utf8(&out[start..]).is_err() {
            // Each invalid sequence (1-3 bytes) becomes U+FFFD (3 bytes): at most 3 times longer.
            let mut fixed = mem::with_capacity::<u8>((out.len() - start).saturating_mul(3), "the strings").map_err(|m| self.err(m))?;
            for chunk in out[start..].utf8_chunks() {
                fixed.extend_from_slice(chunk.valid().as_bytes());
                if !chunk.invalid().is_empty() {
                    fixed.extend_from_slice("\u{FFFD}".as_bytes());
                }
            }
            out.truncate(start);
            grow_bytes(out, fixed.len()).map_err(|m| self.err(m))?;
            out.extend_from_slice(&fixed);
        }
        Ok(())
    }

    /// `[n, -n, ...]` for the small sections where V8 writes -1 for "unknown" (locations, trace
    /// functions): each value to `sink`, a negative one as [`NEGATIVE`]. Not the hot loop.
    fn signed_numbers<S: Sink>(&mut self, sink: &mut S) -> Result<(), ReadError> {
        self.expect(b'[')?;
        let mut want_value = true;
        loop {
            self.skip_ws()?;
            match self.peek()? {
                Some(b']') => {
                    self.bump();
                    return Ok(());
                }
                Some(b',') if !want_value => {
                    self.bump();
                    want_value = true;
                }
                Some(b'-') if want_value => {
                    self.bump();
                    self.number()?;
                    sink.value(NEGATIVE).map_err(|m| self.err(m))?;
                    want_value = false;
                }
                Some(b'0'..=b'9') if want_value => {
                    let v = self.number()?;
                    sink.value(v.min(NEGATIVE - 1)).map_err(|m| self.err(m))?;
                    want_value = false;
                }
                other => return Err(self.unexpected(other, if want_value { "a number" } else { "',' or ']'" })),
            }
        }
    }

    /// Past a JSON string without keeping it: a skipped section's strings, however long (from a
    /// pipe too), cost no memory.
    fn skip_string(&mut self) -> Result<(), ReadError> {
        match self.next_byte()? {
            Some(b'"') => {}
            other => return Err(self.unexpected(other, "a string")),
        }
        loop {
            if !self.fill()? {
                return Err(self.err("the file ends inside a string (truncated?)"));
            }
            let chunk = &self.buf[self.pos..self.len];
            let Some(run) = chunk.iter().position(|&b| b == b'"' || b == b'\\') else {
                self.pos = self.len;
                continue;
            };
            let stop = chunk[run];
            self.pos += run + 1;
            if stop == b'"' {
                return Ok(());
            }
            // The escaped character (`\uXXXX`'s digits are plain bytes that follow).
            if self.next_byte()?.is_none() {
                return Err(self.err("the file ends inside a string (truncated?)"));
            }
        }
    }

    /// A UTF-8 byte order mark before the JSON (some editors and tools add one): skipped.
    fn skip_bom(&mut self) -> Result<(), ReadError> {
        self.fill_keep(3)?;
        if self.buf[self.pos..self.len].starts_with(&[0xEF, 0xBB, 0xBF]) {
            self.pos += 3;
        }
        Ok(())
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), ReadError> {
        let c = match self.next_byte()? {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let hi = self.hex4()?;
                if (0xD800..0xDC00).contains(&hi) {
                    // A high surrogate: pair it with a following \uDC00-\uDFFF if there is one.
                    if self.peek()? == Some(b'\\') {
                        self.bump();
                        if self.next_byte()? != Some(b'u') {
                            return Err(self.err("bad escape after a high surrogate"));
                        }
                        let lo = self.hex4()?;
                        if (0xDC00..0xE000).contains(&lo) {
                            char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)).unwrap_or('\u{FFFD}')
                        } else {
                            out.extend_from_slice("\u{FFFD}".as_bytes());
                            char::from_u32(lo).unwrap_or('\u{FFFD}')
                        }
                    } else {
                        '\u{FFFD}'
                    }
                } else {
                    char::from_u32(hi).unwrap_or('\u{FFFD}')
                }
            }
            other => return Err(self.unexpected(other, "an escape character")),
        };
        let mut tmp = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, ReadError> {
        let mut v = 0;
        for _ in 0..4 {
            let b = self.next_byte()?;
            let d = b.and_then(|b| (b as char).to_digit(16)).ok_or_else(|| self.err("bad \\u escape"))?;
            v = v * 16 + d;
        }
        Ok(v)
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), ReadError> {
        for &w in word {
            if self.next_byte()? != Some(w) {
                return Err(self.err(format!("bad literal, expected {:?}", String::from_utf8_lossy(word))));
            }
        }
        Ok(())
    }

    /// A small JSON value (the header), built without recursion and within fixed bounds.
    fn value(&mut self) -> Result<Value, ReadError> {
        enum Frame {
            Array(Vec<Value>),
            Object(Vec<(String, Value)>, Option<String>),
        }
        let start = self.offset();
        let mut stack: Vec<Frame> = Vec::new();
        'next_value: loop {
            if self.offset() - start > MAX_HEADER_BYTES {
                return Err(self.err("the \"snapshot\" header is implausibly large"));
            }
            self.skip_ws()?;
            let mut finished: Option<Value> = None;
            // In an object, the next key comes first (or the end of an empty object).
            if let Some(Frame::Object(_, key)) = stack.last_mut() {
                if key.is_none() {
                    if self.peek()? == Some(b'}') {
                        self.bump();
                        if let Some(Frame::Object(fields, _)) = stack.pop() {
                            finished = Some(Value::Object(fields));
                        }
                    } else {
                        *key = Some(self.string()?);
                        self.expect(b':')?;
                        self.skip_ws()?;
                    }
                }
            }
            let mut v = match finished {
                Some(v) => v,
                None => match self.peek()? {
                    Some(open @ (b'{' | b'[')) => {
                        self.bump();
                        if stack.len() >= MAX_HEADER_DEPTH {
                            return Err(self.err("the \"snapshot\" header is nested too deeply"));
                        }
                        self.skip_ws()?;
                        if open == b'[' && self.peek()? == Some(b']') {
                            self.bump();
                            Value::Array(Vec::new())
                        } else {
                            stack.push(if open == b'{' { Frame::Object(Vec::new(), None) } else { Frame::Array(Vec::new()) });
                            continue 'next_value;
                        }
                    }
                    Some(b'"') => Value::Str(self.string()?),
                    Some(b't') => {
                        self.literal(b"true")?;
                        Value::Bool(true)
                    }
                    Some(b'f') => {
                        self.literal(b"false")?;
                        Value::Bool(false)
                    }
                    Some(b'n') => {
                        self.literal(b"null")?;
                        Value::Null
                    }
                    Some(b'0'..=b'9') => Value::Num(self.number()?),
                    other => return Err(self.unexpected(other, "a JSON value")),
                },
            };
            // Hand the finished value to its parent, closing parents that end here.
            loop {
                match stack.last_mut() {
                    None => return Ok(v),
                    Some(Frame::Array(items)) => {
                        items.push(v);
                        self.skip_ws()?;
                        match self.next_byte()? {
                            Some(b',') => continue 'next_value,
                            Some(b']') => match stack.pop() {
                                Some(Frame::Array(items)) => v = Value::Array(items),
                                _ => return Err(self.err("internal: header parser out of step")),
                            },
                            other => return Err(self.unexpected(other, "',' or ']'")),
                        }
                    }
                    Some(Frame::Object(fields, key)) => {
                        let k = key.take().unwrap_or_default();
                        fields.push((k, v));
                        self.skip_ws()?;
                        match self.next_byte()? {
                            Some(b',') => continue 'next_value,
                            Some(b'}') => match stack.pop() {
                                Some(Frame::Object(fields, _)) => v = Value::Object(fields),
                                _ => return Err(self.err("internal: header parser out of step")),
                            },
                            other => return Err(self.unexpected(other, "',' or '}'")),
                        }
                    }
                }
            }
        }
    }

    /// Skips any JSON value without storing it (unknown sections), iteratively.
    fn skip_value(&mut self) -> Result<(), ReadError> {
        let mut depth: u64 = 0;
        loop {
            self.skip_ws()?;
            match self.peek()? {
                Some(b'{' | b'[') => {
                    self.bump();
                    depth += 1;
                }
                Some(b'}' | b']') => {
                    if depth == 0 {
                        return Err(self.err("unbalanced brackets"));
                    }
                    self.bump();
                    depth -= 1;
                }
                Some(b',' | b':') => self.bump(),
                Some(b'"') => self.skip_string()?,
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(b'-' | b'0'..=b'9') => {
                    while let Some(b) = self.peek()? {
                        if !(b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E')) {
                            break;
                        }
                        self.bump();
                    }
                }
                other => return Err(self.unexpected(other, "a JSON value")),
            }
            if depth == 0 {
                self.skip_ws()?;
                if matches!(self.peek()?, Some(b',' | b'}')) {
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small but complete snapshot: 3 nodes, 3 edges, escapes, surrogates, extra sections.
    const VALID: &str = r#"{"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count","trace_node_id","detachedness"],"node_types":[["hidden","array","string","object","code","closure","regexp","number","native","synthetic","concatenated string","sliced string","symbol","bigint","object shape"],"string","number","number","number","number","number"],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["context","element","property","internal","hidden","shortcut","weak"],"string_or_number","node"],"trace_function_info_fields":["function_id","name"],"location_fields":["object_index","script_id","line","column"]},"node_count":3,"edge_count":3,"trace_function_count":0},
"nodes":[9,0,1,0,2,0,0
,3,1,3,32,1,0,0
,2,2,5,4294967296,0,0,0],
"edges":[1,0,7,2,1,14,6,2,14],
"trace_function_infos":[],"trace_tree":[],"samples":[],"locations":[[[]],{"a":[1,{"b":"}]"}]}],
"strings":["","Caf\u00e9 \"q\" \\ \/","smile \ud83d\ude00 lone \ud800 end"]}"#;

    fn read(text: &str) -> Result<RawSnapshot, ReadError> {
        read_snapshot(text.as_bytes(), Some(text.len() as u64))
    }

    #[test]
    fn reads_a_valid_snapshot_driven_by_its_meta() {
        let s = read(VALID).expect("valid");
        assert_eq!(s.meta.node_count, 3);
        assert_eq!(s.meta.node_fields.len(), 7);
        assert_eq!(s.meta.node_types[3], "object");
        assert_eq!(s.meta.edge_types[6], "weak");
        assert_eq!(s.node_count(), 3);
        assert_eq!(s.node_type, [9, 3, 2]);
        assert_eq!(s.node_id, [1, 3, 5]);
        assert_eq!(s.first_edge, [0, 2, 3, 3]);
        assert_eq!((s.edge_type.as_slice(), s.edge_name.as_slice(), s.edge_to.as_slice()), (&[1, 2, 6][..], &[0, 1, 2][..], &[1, 2, 2][..]));
        assert_eq!(s.wide, [(2, 1, 4_294_967_296)], "a size over u32 is kept exactly");
        assert_eq!(s.self_size[2], u32::MAX);
        assert_eq!(s.string(1), Some("Caf\u{e9} \"q\" \\ /"));
        assert_eq!(s.string(2), Some("smile \u{1F600} lone \u{FFFD} end"));
        assert_eq!(s.string_count(), 3);
    }

    #[test]
    fn every_truncation_is_an_error_with_an_offset_never_a_panic() {
        for cut in 0..VALID.len() {
            let part = &VALID.as_bytes()[..cut];
            let err = read_snapshot(part, Some(cut as u64)).expect_err("a truncated file must not parse");
            assert!(err.offset <= cut as u64, "offset {} beyond the {cut} bytes read", err.offset);
        }
    }

    #[test]
    fn garbage_and_wrong_shapes_are_clear_errors() {
        let cases: &[(&str, &str)] = &[
            ("", "the file is empty"),
            ("<!doctype html><html>", "this is HTML or XML, not a heap snapshot"),
            (r#"{"nodes":[{"id":1,"callFrame":{"functionName":"(root)"}}],"startTime":0,"samples":[1]}"#, "looks like a CPU profile"),
            (r#"{"head":{"callFrame":{},"selfSize":0,"children":[]},"samples":[]}"#, "looks like a sampling heap profile"),
            ("hello", "expected '{'"),
            ("[1,2]", "expected '{'"),
            ("{}", "no \"snapshot\" section"),
            (r#"{"snapshot":{"meta":{}}}"#, "meta.node_fields"),
            (r#"{"snapshot":{"node_count":1}}"#, "has no \"meta\""),
        ];
        for (input, needle) in cases {
            let err = read(input).expect_err(input).to_string();
            assert!(err.contains(needle), "{input:?}: {err}");
            assert!(err.contains("at byte"), "{err}");
        }
    }

    #[test]
    fn unknown_positions_written_as_minus_one_are_no_error() {
        let text = with(r#""locations":[[[]],{"a":[1,{"b":"}]"}]}]"#, r#""locations":[0,7,-1,-1,7,7,2,3]"#);
        let raw = read(&text).expect("negative positions read");
        assert_eq!(raw.locations.len(), 1, "{:?}", raw.locations);
        assert_eq!((raw.locations[0].script_id, raw.locations[0].line), (7, 2));
    }

    #[test]
    fn gzip_and_a_byte_order_mark_are_read_as_the_snapshot_they_hold() {
        use std::io::Write as _;
        let plain = read(VALID).expect("plain");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(VALID.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        let unzipped = read_snapshot(&gz[..], Some(gz.len() as u64)).expect("gzip reads");
        assert_eq!((unzipped.node_count(), unzipped.edge_type.len(), unzipped.string_count()), (plain.node_count(), plain.edge_type.len(), plain.string_count()));
        let cut = read_snapshot(&gz[..gz.len() / 2], None).expect_err("a cut .gz").to_string();
        assert!(cut.contains("gzip stream is damaged or cut short") || cut.contains("truncated") || cut.contains("ends"), "{cut}");
        let bom = format!("\u{feff}{VALID}");
        assert_eq!(read(&bom).expect("BOM skipped").node_count(), plain.node_count());
    }

    #[test]
    fn a_huge_string_in_a_skipped_section_costs_no_memory() {
        /// `{"extra":"aaaa...` (`len` bytes of it) `", <VALID's sections>`, made as it is read.
        struct Huge {
            prefix: Vec<u8>,
            len: u64,
            sent: u64,
            suffix: Vec<u8>,
            at: usize,
        }
        impl Read for Huge {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.at < self.prefix.len() {
                    let n = buf.len().min(self.prefix.len() - self.at);
                    buf[..n].copy_from_slice(&self.prefix[self.at..self.at + n]);
                    self.at += n;
                    return Ok(n);
                }
                if self.sent < self.len {
                    let n = (buf.len() as u64).min(self.len - self.sent) as usize;
                    buf[..n].fill(b'a');
                    self.sent += n as u64;
                    return Ok(n);
                }
                let k = self.at - self.prefix.len();
                let n = buf.len().min(self.suffix.len() - k);
                buf[..n].copy_from_slice(&self.suffix[k..k + n]);
                self.at += n;
                Ok(n)
            }
        }
        let hwm = || -> u64 {
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()).unwrap_or(0)
        };
        let before = hwm();
        let len = 768u64 << 20;
        let input = Huge { prefix: br#"{"extra":""#.to_vec(), len, sent: 0, suffix: format!("\",{}", &VALID[1..]).into_bytes(), at: 0 };
        let raw = read_snapshot(input, None).expect("reads past the skipped string");
        assert_eq!(raw.node_count(), 3);
        let grew_kb = hwm().saturating_sub(before);
        assert!(grew_kb < 200 * 1024, "peak memory grew by {grew_kb} kB while skipping a {} MB string", len >> 20);
    }

    fn with(from: &str, to: &str) -> String {
        assert!(VALID.contains(from), "fixture lacks {from}");
        VALID.replacen(from, to, 1)
    }

    #[test]
    fn inconsistent_snapshots_are_rejected_with_the_reason() {
        let cases = [
            (with(r#""node_count":3"#, r#""node_count":4"#), "node_count says 4"),
            (with(r#""edge_count":3,"#, r#""edge_count":2,"#), "add up to more than edge_count (2)"),
            (with(r#""edge_count":3,"#, r#""edge_count":4,"#), "edge_count says 4"),
            (with("[1,0,7,2,1,14,6,2,14]", "[1,0,7,2,1,14,6,2,999]"), "outside the 21 node values"),
            (with("[1,0,7,2,1,14,6,2,14]", "[1,0,7,2,1,14,6,2,8]"), "node field offset 8"),
            (with("[1,0,7,2,1,14,6,2,14]", "[1,0,7,2,1,14,9,2,14]"), "edge 2 has type 9"),
            (with("[1,0,7,2,1,14,6,2,14]", "[1,0,7,2,77,14,6,2,14]"), "edge 1 names string 77"),
            (with("[9,0,1,0,2,0,0", "[99,0,1,0,2,0,0"), "node 0 has type 99"),
            (with(r#""id","self_size""#, r#""ident","self_size""#), "lacks \"id\""),
            (with(",3,1,3,32,1,0,0", ",3,1,3,32,2,0,0"), "add up to more than edge_count (3)"),
            (with(",3,1,3,32,1,0,0", ",3,1,3,32,0,0,0"), "add up to 2 but edge_count is 3"),
            (with(",2,2,5,4294967296,0,0,0]", ",2,2,5,4294967296,0,0]"), "in the middle of a node"),
            (with("[9,0,1,0,2,0,0", "[9,0,1,0,2,0,0,9,0,1,0,0,0,0"), "more than the 3 nodes"),
            (with(r#""nodes":[9"#, r#""nodes":[99999999999999999999999"#), "does not fit in 64 bits"),
            (with("[9,0,1", "[9,-1,1"), "a non-negative integer"),
            (with("[9,0,1", "[9,0.5,1"), "fraction"),
        ];
        for (input, needle) in cases {
            let err = read(&input).expect_err(needle).to_string();
            assert!(err.contains(needle), "wanted {needle:?} in: {err}");
        }
    }

    #[test]
    fn hostile_nesting_does_not_overflow_the_stack() {
        let deep_section = format!("{{\"samples\":{}", "[".repeat(1_000_000));
        assert!(read(&deep_section).unwrap_err().to_string().contains("ends early"));
        let deep_header = format!("{{\"snapshot\":{}", "[".repeat(100_000));
        assert!(read(&deep_header).unwrap_err().to_string().contains("nested too deeply"));
    }

    #[test]
    fn absurd_claimed_counts_do_not_allocate() {
        let text = with(r#""node_count":3"#, r#""node_count":4000000000"#);
        // Must fail on the count mismatch, after reserving no more than the file can back.
        let err = read(&text).unwrap_err().to_string();
        assert!(err.contains("node_count says 4000000000"), "{err}");
        let text = with(r#""node_count":3"#, r#""node_count":1000000000000"#);
        let err = read(&text).unwrap_err().to_string();
        assert!(err.contains("beyond what this analyzer indexes"), "{err}");
    }

    #[test]
    fn mutated_files_never_panic() {
        let mut x: u64 = 0x1234_5678_9ABC_DEF1;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet = b"{}[]\",:0123456789-.eE \\u\x00\xff";
        let (mut ok, mut rejected) = (0, 0);
        for _ in 0..20_000 {
            let mut bytes = VALID.as_bytes().to_vec();
            for _ in 0..1 + rand() % 4 {
                let at = (rand() % bytes.len() as u64) as usize;
                match rand() % 3 {
                    0 => bytes[at] = alphabet[(rand() % alphabet.len() as u64) as usize],
                    1 => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, alphabet[(rand() % alphabet.len() as u64) as usize]),
                }
            }
            match read_snapshot(&bytes[..], Some(bytes.len() as u64)) {
                Ok(s) => {
                    ok += 1;
                    assert_eq!(s.node_count() as u64, s.meta.node_count);
                    assert_eq!(s.edge_to.len() as u64, s.meta.edge_count);
                    assert!(s.edge_to.iter().all(|&t| (t as usize) < s.node_count()));
                }
                Err(_) => rejected += 1,
            }
        }
        assert!(rejected > 10_000, "most mutations break the file ({ok} parsed, {rejected} rejected)");
    }

    #[test]
    fn reads_a_real_snapshot_written_by_node() {
        let s = crate::snapshot::testutil::node_snapshot(
            "reader",
            "class ReaderFixture {}; globalThis.keep = Array.from({ length: 500 }, () => new ReaderFixture());",
        );
        assert!(s.meta.node_count > 10_000, "{} nodes", s.meta.node_count);
        let object = s.meta.node_types.iter().position(|t| t == "object").unwrap() as u8;
        let named: Vec<u8> = (0..s.node_count())
            .filter(|&n| s.string(s.node_name[n] as usize) == Some("ReaderFixture"))
            .map(|n| s.node_type[n])
            .collect();
        // The instances are objects; the class also names a string, a closure and its code.
        let objects = named.iter().filter(|&&k| k == object).count();
        assert_eq!(objects, 500);
    }
}
