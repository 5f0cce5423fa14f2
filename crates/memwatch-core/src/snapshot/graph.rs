//! The heap graph as flat arrays, and the analysis passes over it, in the manner of Chrome
//! DevTools' heap snapshot worker: one function per pass, typed arrays indexed by node ordinal,
//! no object per node, and no recursion anywhere (a million-deep list is just a long loop).
//!
//! Edge rules are DevTools': weak edges never retain; shortcut edges retain only from the root
//! (they mark user roots there); nodes reachable only through such edges, or not at all, are
//! attached to the root so that the root retains the whole heap.

use std::collections::HashMap;

use super::reader::{RawSnapshot, SourceLocation, TraceFunction, TraceNode};
use super::memory as mem;

const NONE: u32 = u32::MAX;

/// Nodes and edges in CSR form.
#[derive(Debug, Default)]
pub struct HeapGraph {
    pub node_type: Vec<u8>,
    pub node_name: Vec<u32>,
    /// Use [`HeapGraph::node_id`] and [`HeapGraph::self_size`]: values over `u32` live in `wide`.
    node_id: Vec<u32>,
    self_size: Vec<u32>,
    wide: std::collections::HashMap<(u32, u8), u64>,
    /// Edges of node `n` are `first_edge[n]..first_edge[n + 1]`.
    pub first_edge: Vec<u32>,
    pub edge_type: Vec<u8>,
    /// A string index for named edges, the element/hidden index otherwise.
    pub edge_name: Vec<u32>,
    /// Target node ordinal.
    pub edge_to: Vec<u32>,
    pub node_types: Vec<String>,
    pub edge_types: Vec<String>,
    strings: String,
    string_ends: Vec<usize>,
    weak_edge: Option<u8>,
    shortcut_edge: Option<u8>,
    /// Source locations, sorted by node.
    locations: Vec<SourceLocation>,
    /// Script id -> the script's name (its URL or file path), found through closures.
    scripts: HashMap<u32, String>,
    /// The directory all file scripts share (with its trailing '/'), shown relative to it.
    script_root: String,
    /// Context node -> script id of a located closure that closes over it: a module's or a
    /// function's scope, named by its file.
    context_script: HashMap<u32, u32>,
    /// Allocation stacks, when V8's allocation tracker ran: per node its `trace_tree` id.
    trace_node: Vec<u32>,
    trace_functions: Vec<TraceFunction>,
    trace_tree: Vec<TraceNode>,
    /// `trace_tree` id -> its index there.
    trace_index: HashMap<u32, u32>,
    /// Source maps of the scripts (None: mapping turned off); read on first use.
    source_maps: std::sync::Mutex<Option<crate::srcmap::SourceMaps>>,
}

/// One frame of an allocation stack.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Frame {
    /// The function's name, `(anonymous)` when it has none.
    pub function: String,
    /// Where the function starts (1-based), when V8 knows its script.
    pub location: Option<Location>,
}

impl std::fmt::Display for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.location {
            Some(l) => write!(f, "{} ({l})", self.function),
            None => write!(f, "{}", self.function),
        }
    }
}

/// Where a node's code is, ready to show: script name (relative to the scripts' common root),
/// 1-based line and column. Through a source map: the original source, with the identifier the
/// map names there (`name`) and the position in the generated script (`generated`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    pub script: String,
    pub line: u32,
    pub column: u32,
    pub name: Option<String>,
    pub generated: Option<Box<Location>>,
}

impl Location {
    pub fn new(script: String, line: u32, column: u32) -> Location {
        Location { script, line, column, name: None, generated: None }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.script, self.line, self.column)
    }
}

impl HeapGraph {
    /// Takes over a validated snapshot's columns (the reader has checked every reference).
    pub fn from_raw(raw: RawSnapshot) -> Result<HeapGraph, String> {
        let RawSnapshot {
            meta,
            node_type,
            node_name,
            node_id,
            self_size,
            first_edge,
            edge_type,
            edge_name,
            edge_to,
            wide,
            string_bytes,
            string_ends,
            locations,
            trace_node,
            trace_functions,
            trace_tree,
        } = raw;
        if node_type.is_empty() {
            return Err("the snapshot has no nodes".into());
        }
        // The reader writes each string as valid UTF-8, so the concatenation is valid too.
        let strings = String::from_utf8(string_bytes).map_err(|_| "the strings are not valid UTF-8".to_string())?;
        let mut locations = locations;
        // Unstable: a stable sort would borrow half the array again.
        locations.sort_unstable_by_key(|l| (l.node, l.script_id, l.line, l.column));
        locations.dedup_by_key(|l| l.node);
        let mut wide_by_node = HashMap::new();
        wide_by_node.try_reserve(wide.len()).map_err(|_| mem::out_of_memory("the wide values", wide.len() * 24))?;
        wide_by_node.extend(wide.into_iter().map(|(node, field, v)| ((node, field), v)));
        let mut trace_index = HashMap::new();
        trace_index.try_reserve(trace_tree.len()).map_err(|_| mem::out_of_memory("the allocation stacks", trace_tree.len() * 16))?;
        trace_index.extend(trace_tree.iter().enumerate().map(|(i, t)| (t.id, i as u32)));
        let mut g = HeapGraph {
            node_type,
            node_name,
            node_id,
            self_size,
            wide: wide_by_node,
            first_edge,
            edge_type,
            edge_name,
            edge_to,
            weak_edge: meta.edge_types.iter().position(|t| t == "weak").map(|p| p as u8),
            shortcut_edge: meta.edge_types.iter().position(|t| t == "shortcut").map(|p| p as u8),
            node_types: meta.node_types,
            edge_types: meta.edge_types,
            strings,
            string_ends,
            locations,
            scripts: HashMap::new(),
            script_root: String::new(),
            context_script: HashMap::new(),
            trace_index,
            trace_node,
            trace_functions,
            trace_tree,
            source_maps: std::sync::Mutex::new(Some(crate::srcmap::SourceMaps::new())),
        };
        g.scripts = g.script_names()?;
        let mut context_script = HashMap::new();
        for l in &g.locations {
            if let Some(ctx) = g.named_edge(l.node, "context") {
                mem::map_room(&mut context_script, "the scopes")?;
                context_script.entry(ctx).or_insert(l.script_id);
            }
        }
        g.context_script = context_script;
        g.script_root = common_root(g.scripts.values());
        Ok(g)
    }

    /// Script id -> name, from the file alone: a closure's location names its script id, and
    /// the closure's `shared` edge leads to its SharedFunctionInfo, whose `script` (newer V8) or
    /// `script_or_debug_info` (V8 11-12) edge leads to the Script node, named by its URL.
    fn script_names(&self) -> mem::Fallible<HashMap<u32, String>> {
        Ok(self.script_names_counted()?.0)
    }

    /// [`Self::script_names`], and how many SharedFunctionInfos it looked into. Each is looked
    /// into once: 80,000 closures of one function whose SharedFunctionInfo has 80,000 edges and no
    /// script would otherwise scan those edges 80,000 times (a 4.7 MB file took 40 s).
    fn script_names_counted(&self) -> mem::Fallible<(HashMap<u32, String>, usize)> {
        let mut out: HashMap<u32, String> = HashMap::new();
        let mut looked: HashMap<u32, ()> = HashMap::new();
        let closure = self.node_types.iter().position(|t| t == "closure").map(|p| p as u8);
        for l in &self.locations {
            if out.contains_key(&l.script_id) || Some(self.node_type[l.node as usize]) != closure {
                continue;
            }
            let Some(sfi) = self.named_edge(l.node, "shared") else {
                continue;
            };
            mem::map_room(&mut looked, "the script names")?;
            if looked.insert(sfi, ()).is_some() {
                continue;
            }
            let script = self.named_edge(sfi, "script").or_else(|| self.named_edge(sfi, "script_or_debug_info"));
            if let Some(script) = script {
                // Newer V8 (Chromium 15x) names the Script node `system / Script / <url>`.
                let name = self.string(self.node_name[script as usize]);
                let name = name.strip_prefix("system / Script / ").unwrap_or(name);
                if !name.is_empty() {
                    mem::map_room(&mut out, "the script names")?;
                    out.insert(l.script_id, name.to_string());
                }
            }
        }
        let looked = looked.len();
        Ok((out, looked))
    }

    /// The target of `node`'s first edge named `name` (property and internal edges).
    pub fn named_edge(&self, node: u32, name: &str) -> Option<u32> {
        let (a, b) = (self.first_edge[node as usize], self.first_edge[node as usize + 1]);
        (a..b).find(|&e| {
            let t = self.edge_types.get(self.edge_type[e as usize] as usize).map(String::as_str);
            !matches!(t, Some("element") | Some("hidden")) && self.string(self.edge_name[e as usize]) == name
        })
        .map(|e| self.edge_to[e as usize])
    }

    /// Where V8 says the node's code is (a closure's function, an object's constructor), with
    /// its script's name when the snapshot tells it.
    pub fn location(&self, node: u32) -> Option<Location> {
        let i = self.locations.binary_search_by_key(&node, |l| l.node).ok()?;
        let l = self.locations[i];
        let script = self.script_display(l.script_id).unwrap_or_else(|| format!("script #{}", l.script_id));
        let generated = Location::new(script, l.line + 1, l.column + 1);
        let raw = self.scripts.get(&l.script_id);
        Some(match raw.and_then(|raw| self.original(raw, generated.line, generated.column)) {
            Some(o) => {
                // V8 locates an object at its constructor and a closure at its function: the
                // minified name (`t`) is defined just before, where the map names the original.
                let named = raw.and_then(|raw| self.original_name(raw, generated.line, generated.column, self.string(self.node_name[node as usize])));
                Location { script: self.source_display(&o.source), line: o.line, column: o.column, name: named.or(o.name), generated: Some(Box::new(generated)) }
            }
            None => generated,
        })
    }

    /// Shows scripts by their full path or URL (no common directory taken off): for a snapshot of
    /// this very process, whose results the program maps further (node's own source maps).
    pub fn show_absolute_scripts(&mut self) {
        self.script_root.clear();
    }

    /// Turns source-map lookups on (the default) or off.
    pub fn set_source_maps(&mut self, on: bool) {
        if let Ok(mut m) = self.source_maps.lock() {
            *m = on.then(crate::srcmap::SourceMaps::new);
        }
    }

    /// Notes on source maps that were found but could not be used.
    pub fn source_map_notes(&self) -> Vec<String> {
        self.source_maps.lock().ok().and_then(|m| m.as_ref().map(|m| m.notes().to_vec())).unwrap_or_default()
    }

    fn original(&self, script: &str, line: u32, column: u32) -> Option<crate::srcmap::Original> {
        self.source_maps.lock().ok()?.as_mut()?.lookup(script, line, column)
    }

    fn original_name(&self, script: &str, line: u32, column: u32, generated: &str) -> Option<String> {
        self.source_maps.lock().ok()?.as_mut()?.original_name(script, line, column, generated)
    }

    /// An original source as shown: relative to the directory it shares with the scripts' root
    /// (`src/orders.ts` for `/srv/app/src/orders.ts` when the scripts are in `/srv/app/dist/`).
    fn source_display(&self, source: &str) -> String {
        let root = self.script_root.as_str();
        let mut common = 0;
        for (i, (a, b)) in root.bytes().zip(source.bytes()).enumerate() {
            if a != b {
                break;
            }
            if a == b'/' {
                common = i + 1;
            }
        }
        if common > 1 {
            source[common..].to_string()
        } else {
            source.to_string()
        }
    }

    /// How DevTools names the node for people: `onTick()` for a closure (`(anonymous)()`),
    /// a synthetic root by its name (`(Stack roots)`), the class name otherwise.
    pub fn display_name(&self, node: u32) -> String {
        let t = self.type_name(node);
        let name = self.string(self.node_name[node as usize]);
        // A scope (`system / Context`) a located closure closes over: named by that file.
        if let Some(file) = self.context_script.get(&node).and_then(|id| self.script_display(*id)) {
            let base = if name.is_empty() { self.class_name(node) } else { name.to_string() };
            return format!("{base} ({file})");
        }
        if let Some(file) = self.module_file(node) {
            return format!("Module ({file})");
        }
        match t {
            "closure" if name.is_empty() => "(anonymous)()".to_string(),
            "closure" => format!("{name}()"),
            "synthetic" | "hidden" if !name.is_empty() => name.to_string(),
            _ => self.class_name(node),
        }
    }

    /// The `trace_tree` id of `node`'s allocation stack (0: none recorded).
    pub fn trace_id(&self, node: u32) -> u32 {
        self.trace_node.get(node as usize).copied().unwrap_or(0)
    }

    /// Whether the snapshot carries allocation stacks (taken while V8's allocation tracker ran).
    pub fn has_allocation_stacks(&self) -> bool {
        !self.trace_node.is_empty() && !self.trace_tree.is_empty()
    }

    /// The stack `node` was allocated at, innermost frame first, at most `depth` frames; empty
    /// when none was recorded (the object predates tracking, or V8 allocated it outside JS).
    pub fn allocation_stack(&self, node: u32, depth: usize) -> Vec<Frame> {
        let Some(&trace_id) = self.trace_node.get(node as usize) else {
            return Vec::new();
        };
        let mut at = self.trace_index.get(&trace_id).copied();
        let mut frames = Vec::new();
        // Parents come before children in the tree, so the walk up ends; the bound is a guard.
        let mut steps = 0;
        while let Some(i) = at {
            steps += 1;
            if frames.len() >= depth || steps > self.trace_tree.len() {
                break;
            }
            let t = self.trace_tree[i as usize];
            at = (t.parent != u32::MAX).then_some(t.parent);
            let Some(f) = self.trace_functions.get(t.function as usize) else { continue };
            let name = self.string(f.name);
            if at.is_none() && name == "(root)" {
                break;
            }
            let script = self.string(f.script_name);
            let location = (!script.is_empty() && f.line > 0).then(|| {
                let generated = Location::new(script.strip_prefix(self.script_root.as_str()).filter(|s| !s.is_empty()).unwrap_or(script).to_string(), f.line, f.column);
                match self.original(script, f.line, f.column) {
                    Some(o) => Location { script: self.source_display(&o.source), line: o.line, column: o.column, name: o.name, generated: Some(Box::new(generated)) },
                    None => generated,
                }
            });
            frames.push(Frame { function: if name.is_empty() { "(anonymous)".to_string() } else { name.to_string() }, location });
        }
        frames
    }

    /// The scripts' common root (`/srv/app/`, `https://example.com/static/`; empty if none).
    pub fn script_root(&self) -> &str {
        &self.script_root
    }

    /// A script's name as shown: relative to the scripts' common root.
    fn script_display(&self, script_id: u32) -> Option<String> {
        let name = self.scripts.get(&script_id)?;
        Some(name.strip_prefix(self.script_root.as_str()).filter(|s| !s.is_empty()).unwrap_or(name).to_string())
    }

    /// `display_name`, with ` at file:line:col` where the snapshot records a location.
    pub fn describe(&self, node: u32) -> String {
        match self.location(node) {
            Some(l) => format!("{} at {l}", self.mapped_name(node, &l)),
            None => self.display_name(node),
        }
    }

    /// `display_name`, with minified code's identifier replaced by the one its source map names
    /// at the definition (`OrderRecord`, not `t`; `onTick()`, not `n()`).
    pub fn mapped_name(&self, node: u32, l: &Location) -> String {
        let shown = self.display_name(node);
        match &l.name {
            Some(original) if !original.is_empty() => {
                let generated = self.string(self.node_name[node as usize]);
                if generated.is_empty() || generated == original {
                    return shown;
                }
                match shown.strip_prefix(generated) {
                    Some(rest) => format!("{original}{rest}"),
                    None => shown,
                }
            }
            _ => shown,
        }
    }

    pub fn node_count(&self) -> usize {
        self.node_type.len()
    }

    /// Number of strings in the snapshot.
    pub fn string_count(&self) -> usize {
        self.string_ends.len()
    }

    /// Bytes held by the graph's arrays, roughly.
    pub fn memory_footprint(&self) -> usize {
        self.node_count() * 17 + self.edge_count() * 9 + self.strings.len() + self.string_ends.len() * 8
    }

    pub fn edge_count(&self) -> usize {
        self.edge_to.len()
    }

    /// The node's id, as DevTools shows it (`@123`).
    pub fn node_id(&self, v: u32) -> u64 {
        match self.node_id[v as usize] {
            u32::MAX => self.wide.get(&(v, 0)).copied().unwrap_or(u64::from(u32::MAX)),
            id => u64::from(id),
        }
    }

    /// The node's own size in bytes.
    pub fn self_size(&self, v: u32) -> u64 {
        match self.self_size[v as usize] {
            u32::MAX => self.wide.get(&(v, 1)).copied().unwrap_or(u64::from(u32::MAX)),
            size => u64::from(size),
        }
    }

    /// Sum of all self sizes.
    pub fn total_self_size(&self) -> u64 {
        (0..self.node_count() as u32).map(|v| self.self_size(v)).fold(0u64, u64::saturating_add)
    }

    /// Counting sort of the retaining edges by target: retainers in CSR form. Only owners are
    /// kept, since the dominator pass needs nothing else (paths are found forwards). Owners of
    /// node `n`'s retaining edges are `owners[first[n]..first[n + 1]]`, one entry per edge.
    pub fn retainers(&self) -> mem::Fallible<(Vec<u32>, Vec<u32>)> {
        let n = self.node_count();
        let mut first = mem::filled(n + 1, 0u32, "the retainers")?;
        for from in 0..n {
            for edge in self.first_edge[from]..self.first_edge[from + 1] {
                if self.retains(from as u32, edge) {
                    first[self.edge_to[edge as usize] as usize + 1] += 1;
                }
            }
        }
        for i in 0..n {
            first[i + 1] += first[i];
        }
        let mut owners = mem::filled(first[n] as usize, 0u32, "the retainers")?;
        for from in 0..n {
            for edge in self.first_edge[from]..self.first_edge[from + 1] {
                if self.retains(from as u32, edge) {
                    let to = self.edge_to[edge as usize] as usize;
                    // `first[to]` serves as the fill cursor; it ends at the next node's start.
                    owners[first[to] as usize] = from as u32;
                    first[to] += 1;
                }
            }
        }
        // Shift the cursors back: first[to] now holds the end of `to`'s range.
        for i in (1..=n).rev() {
            first[i] = first[i - 1];
        }
        first[0] = 0;
        Ok((first, owners))
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

    /// Is this a shortcut edge (from the root: to a user root, such as a global object)?
    pub fn is_shortcut(&self, edge: u32) -> bool {
        Some(self.edge_type[edge as usize]) == self.shortcut_edge
    }

    /// A node's type as the snapshot's meta names it (`object`, `closure`, `synthetic`...), or ""
    /// for an index the meta does not list.
    pub fn type_name(&self, node: u32) -> &str {
        self.node_types.get(self.node_type[node as usize] as usize).map_or("", String::as_str)
    }

    /// The index of a string in the table, if it is there (a linear scan: call once per pass).
    pub fn string_index(&self, wanted: &str) -> Option<u32> {
        (0..self.string_ends.len() as u32).find(|&i| self.string(i) == wanted)
    }

    /// Whether a node is a module of the program: a CommonJS `Module` (named by its file) or a
    /// located scope (`system / Context` of a file's top level or a function in it).
    pub fn is_module_scope(&self, node: u32) -> bool {
        self.module_file(node).is_some() || self.context_script.contains_key(&node)
    }

    /// A CommonJS `Module` object's file (its `filename` or `id` property), as scripts are shown.
    fn module_file(&self, node: u32) -> Option<String> {
        let t = self.type_name(node);
        if t != "object" || self.string(self.node_name[node as usize]) != "Module" {
            return None;
        }
        let file = self.named_edge(node, "filename").or_else(|| self.named_edge(node, "id"))?;
        let name = self.string(self.node_name[file as usize]);
        if !(name.starts_with('/') || name.starts_with("file:")) {
            return None;
        }
        Some(name.strip_prefix(self.script_root.as_str()).unwrap_or(name).to_string())
    }

    /// The name of a string index ("" when out of range).
    pub fn string(&self, i: u32) -> &str {
        let i = i as usize;
        let Some(&end) = self.string_ends.get(i) else { return "" };
        let start = if i == 0 { 0 } else { self.string_ends[i - 1] };
        self.strings.get(start..end).unwrap_or("")
    }

    /// DevTools' class name of a node: constructor name for objects and natives, `(system)`
    /// for hidden nodes, `(compiled code)` for code, `(<type>)` for the rest.
    pub fn class_name(&self, node: u32) -> String {
        let t = self.type_name(node);
        match t {
            "object" | "native" => self.string(self.node_name[node as usize]).to_string(),
            "hidden" => "(system)".to_string(),
            "code" => "(compiled code)".to_string(),
            other => format!("({other})"),
        }
    }
}

/// The directory that every file-like script name (absolute path or URL, not `node:` or
/// internal) shares, with its trailing '/'; "" when they share none or there is one at most.
fn common_root<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let files: Vec<&String> = names.filter(|n| n.starts_with('/') || n.contains("://")).collect();
    let Some(first) = files.first() else { return String::new() };
    let mut prefix: &str = first.rsplit_once('/').map_or("", |(dir, _)| dir);
    for f in &files[1..] {
        while !prefix.is_empty() && !f.starts_with(&format!("{prefix}/")) {
            prefix = prefix.rsplit_once('/').map_or("", |(dir, _)| dir);
        }
    }
    // Keep at least the scheme and host of a URL, and never strip down to "" or "/".
    let bare_scheme = prefix.ends_with(':') || prefix.ends_with(":/") || prefix.ends_with("//");
    if prefix.is_empty() || bare_scheme {
        return String::new();
    }
    format!("{prefix}/")
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
}

impl Dominators {
    /// The dominator tree's children of every node in CSR form: children of `v` are
    /// `list[first[v]..first[v + 1]]`.
    pub fn children(&self) -> mem::Fallible<(Vec<u32>, Vec<u32>)> {
        let n = self.idom.len();
        let mut first = mem::filled(n + 1, 0u32, "the dominator tree")?;
        for v in 0..n {
            if v as u32 != ROOT {
                first[self.idom[v] as usize + 1] += 1;
            }
        }
        for i in 0..n {
            first[i + 1] += first[i];
        }
        let mut fill = mem::with_capacity(n + 1, "the dominator tree")?;
        fill.extend_from_slice(&first);
        let mut list = mem::filled(n.saturating_sub(1), 0u32, "the dominator tree")?;
        for v in 0..n {
            if v as u32 != ROOT {
                let p = self.idom[v] as usize;
                list[fill[p] as usize] = v as u32;
                fill[p] += 1;
            }
        }
        Ok((first, list))
    }
}

/// Lengauer-Tarjan (simple version, path compression), iterative throughout. Memory is the
/// retainers (one `u32` per retaining edge, built here and dropped before returning) and six
/// `u32` per node plus a bit: the DFS numbers live in `semi` (which only ever decreases, and
/// stays `NONE` for unreached nodes); the forest's ancestors overwrite the DFS parents (a
/// node's parent is read once, just before the node is linked); and a node's bucket link and
/// its idom share a slot (the link is read just before the idom is written, once per node).
pub fn dominators(g: &HeapGraph) -> mem::Fallible<Dominators> {
    const WHAT: &str = "the dominators";
    let n = g.node_count();
    // 1. DFS preorder numbering from the root over retaining edges.
    let mut semi = mem::filled(n, NONE, WHAT)?;
    let mut vertex: Vec<u32> = mem::with_capacity(n, WHAT)?;
    let mut parent = mem::filled(n, NONE, WHAT)?;
    {
        let mut stack: Vec<(u32, u32)> = vec![(ROOT, g.first_edge[ROOT as usize])];
        semi[ROOT as usize] = 0;
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
            if semi[w as usize] == NONE {
                semi[w as usize] = vertex.len() as u32;
                vertex.push(w);
                parent[w as usize] = v;
                mem::push(&mut stack, (w, g.first_edge[w as usize]), WHAT)?;
            }
        }
    }
    let reached = vertex.len();
    let (first_retainer, retainer_node) = g.retainers()?;

    // 2. Semi-dominators and implicit idoms, vertices in reverse preorder.
    let mut idom = mem::filled(n, NONE, WHAT)?; // the bucket link until the idom is known

    let mut linked = mem::filled(n.div_ceil(64), 0u64, WHAT)?;
    let mut best: Vec<u32> = mem::with_capacity(n, WHAT)?;
    best.extend(0..n as u32);
    let mut bucket_head = mem::filled(n, NONE, WHAT)?;
    let mut path: Vec<u32> = Vec::new();
    let ancestor = &mut parent;
    for i in (1..reached).rev() {
        let w = vertex[i];
        let p = ancestor[w as usize]; // still w's DFS parent: w is not linked yet
        for r in first_retainer[w as usize]..first_retainer[w as usize + 1] {
            let v = retainer_node[r as usize];
            if semi[v as usize] == NONE {
                continue; // held only by unreached nodes
            }
            let u = eval(v, ancestor, &linked, &mut best, &semi, &mut path);
            if semi[u as usize] < semi[w as usize] {
                semi[w as usize] = semi[u as usize];
            }
        }
        let s = vertex[semi[w as usize] as usize];
        idom[w as usize] = bucket_head[s as usize];
        bucket_head[s as usize] = w;
        linked[w as usize / 64] |= 1 << (w % 64); // link(p, w): ancestor[w] is p
        let mut v = bucket_head[p as usize];
        bucket_head[p as usize] = NONE;
        while v != NONE {
            let next = idom[v as usize];
            let u = eval(v, ancestor, &linked, &mut best, &semi, &mut path);
            idom[v as usize] = if semi[u as usize] < semi[v as usize] { u } else { p };
            v = next;
        }
    }
    drop((bucket_head, best, linked, parent, path, first_retainer, retainer_node));
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
        if semi[v as usize] == NONE {
            idom[v as usize] = ROOT;
            order.push(v);
        }
    }
    drop(semi);
    // 4. Retained sizes: children before their dominators (reverse preorder works because a
    //    dominator precedes everything it dominates in preorder).
    let mut retained: Vec<u64> = mem::with_capacity(n, WHAT)?;
    retained.extend((0..n as u32).map(|v| g.self_size(v)));
    for &v in order.iter().rev() {
        if v != ROOT {
            let d = idom[v as usize] as usize;
            retained[d] = retained[d].saturating_add(retained[v as usize]);
        }
    }
    Ok(Dominators { idom, retained })
}

/// The forest walk's `eval` with path compression, without recursion. A node is in the forest
/// when its `linked` bit is set; its forest parent is then `ancestor[node]`.
fn eval(v: u32, ancestor: &mut [u32], linked: &[u64], best: &mut [u32], semi: &[u32], path: &mut Vec<u32>) -> u32 {
    let is_linked = |x: u32| linked[x as usize / 64] & (1 << (x % 64)) != 0;
    if !is_linked(v) {
        return v;
    }
    // Collect the chain up to (but excluding) the forest root, then compress top-down.
    path.clear();
    let mut x = v;
    while is_linked(ancestor[x as usize]) {
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

/// DevTools' class of every node, interned: `(class_of, names)` with `names[class_of[v]]` the
/// class name of node `v`.
pub fn class_index(g: &HeapGraph) -> mem::Fallible<(Vec<u32>, Vec<String>)> {
    const WHAT: &str = "the class index";
    use std::collections::HashMap;
    const UNSET: u32 = u32::MAX;
    let n = g.node_count();
    // A class is decided by (node type, name index) for objects and natives, by the type
    // alone otherwise. Keys map to class ids through flat tables (one per named type, indexed
    // by string), so the per-node cost is two array reads; each class's name is built once.
    let named: Vec<bool> = g.node_types.iter().map(|t| t == "object" || t == "native").collect();
    let string_count = g.string_count();
    let mut by_type = vec![UNSET; g.node_types.len().max(1)];
    let mut by_string: Vec<Vec<u32>> = Vec::new();
    for &is in &named {
        by_string.push(if is { mem::filled(string_count, UNSET, WHAT)? } else { Vec::new() });
    }
    let mut class_of = mem::filled(n, 0u32, WHAT)?;
    let mut names: Vec<String> = Vec::new();
    let mut by_name: HashMap<String, u32> = HashMap::new();
    for v in 0..n {
        let t = g.node_type[v] as usize;
        let slot = if named.get(t).copied().unwrap_or(false) {
            &mut by_string[t][g.node_name[v] as usize]
        } else {
            &mut by_type[t]
        };
        if *slot == UNSET {
            // Different keys can share a name (the same string stored twice): merge them.
            let name = g.class_name(v as u32);
            let next = names.len() as u32;
            mem::map_room(&mut by_name, WHAT)?;
            mem::room_for_one(&mut names, WHAT)?;
            *slot = *by_name.entry(name.clone()).or_insert_with(|| {
                names.push(name);
                next
            });
        }
        class_of[v] = *slot;
    }
    Ok((class_of, names))
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
pub fn class_summary(g: &HeapGraph, d: &Dominators) -> mem::Fallible<Vec<ClassRow>> {
    class_summary_with(g, d, &d.children()?, &class_index(g)?)
}

/// [`class_summary`] with the dominator tree's children already built.
pub fn class_summary_with(
    g: &HeapGraph,
    d: &Dominators,
    (first_child, children): &(Vec<u32>, Vec<u32>),
    (class_of, names): &(Vec<u32>, Vec<String>),
) -> mem::Fallible<Vec<ClassRow>> {
    const WHAT: &str = "the class table";
    let rows = names.iter().map(|c| ClassRow { class_name: c.clone(), count: 0, shallow_size: 0, retained_size: 0 });
    let mut rows: Vec<ClassRow> = mem::collect(rows, WHAT)?;
    // Walk the dominator tree; an instance counts towards its class's retained size only when
    // no dominator above it is of the same class.
    let mut on_path = mem::filled(names.len(), 0u32, WHAT)?;
    let mut stack: Vec<(u32, u32)> = vec![(ROOT, first_child[ROOT as usize])];
    on_path[class_of[ROOT as usize] as usize] += 1;
    {
        let row = &mut rows[class_of[ROOT as usize] as usize];
        row.count += 1;
        row.shallow_size += g.self_size(ROOT);
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
        row.shallow_size = row.shallow_size.saturating_add(g.self_size(c));
        if on_path[class] == 0 {
            row.retained_size = row.retained_size.saturating_add(d.retained[c as usize]);
        }
        on_path[class] += 1;
        mem::push(&mut stack, (c, first_child[c as usize]), WHAT)?;
    }
    rows.sort_unstable_by(|a, b| b.retained_size.cmp(&a.retained_size).then_with(|| a.class_name.cmp(&b.class_name)));
    Ok(rows)
}

#[cfg(test)]
mod tests {
    #[test]
    fn script_naming_looks_into_each_shared_function_info_once() {
        use crate::snapshot::testutil::synthetic_with_locations;
        // 3,000 closures of one function, whose SharedFunctionInfo has 3,000 edges and no script
        // (the adversarial shape), plus one well-formed closure whose script has a name.
        let n = 3000usize;
        let mut nodes: Vec<(String, String, u64, u64)> = vec![("synthetic".into(), "(root)".into(), 0, 1), ("hidden".into(), "(shared)".into(), 10, 3)];
        let mut edges: Vec<(usize, String, String, usize)> = Vec::new();
        let mut locations = Vec::new();
        for k in 0..n {
            nodes.push(("closure".into(), "f".into(), 32, 5 + 2 * k as u64));
            let c = nodes.len() - 1;
            edges.push((0, "element".into(), k.to_string(), c));
            edges.push((c, "internal".into(), "shared".into(), 1));
            edges.push((1, "internal".into(), format!("slot{k}"), c));
            locations.push((c, 7u32, 1u32, 1u32));
        }
        nodes.push(("closure".into(), "g".into(), 32, 100_001));
        nodes.push(("hidden".into(), "(shared g)".into(), 10, 100_003));
        nodes.push(("hidden".into(), "/app/main.js".into(), 10, 100_005));
        let (g_closure, g_sfi, g_script) = (nodes.len() - 3, nodes.len() - 2, nodes.len() - 1);
        edges.push((0, "element".into(), n.to_string(), g_closure));
        edges.push((g_closure, "internal".into(), "shared".into(), g_sfi));
        edges.push((g_sfi, "internal".into(), "script".into(), g_script));
        locations.push((g_closure, 9, 0, 0));
        let nodes_ref: Vec<(&str, &str, u64, u64)> = nodes.iter().map(|(t, m, s, i)| (t.as_str(), m.as_str(), *s, *i)).collect();
        let edges_ref: Vec<(usize, &str, &str, usize)> = edges.iter().map(|(f, t, m, to)| (*f, t.as_str(), m.as_str(), *to)).collect();
        let g = synthetic_with_locations(&nodes_ref, &edges_ref, &locations);
        let (names, looked) = g.script_names_counted().unwrap();
        assert_eq!(looked, 2, "one look per SharedFunctionInfo, not one per closure");
        assert_eq!(names.get(&9).map(String::as_str), Some("/app/main.js"));
        assert_eq!(names.get(&7), None);
    }


    #[test]
    fn closures_and_constructors_are_named_and_located_from_the_file_alone() {
        let source = "class LeakingClass { constructor(i) { this.i = i; } }\n\
const { EventEmitter } = require('node:events');\n\
const bus = new EventEmitter(); bus.setMaxListeners(0);\n\
const kept = [];\n\
function handle(i) {\n\
  kept.push(new LeakingClass(i));\n\
  bus.on('tick', function onTick() { return i; });\n\
}\n\
for (let i = 0; i < 50; i++) handle(i);\n\
globalThis.keep = { kept, bus, anon: [() => 1] };";
        let (raw, _) = crate::snapshot::testutil::node_snapshot_of_file("locations", source);
        assert!(!raw.locations.is_empty(), "node writes a locations section");
        let g = HeapGraph::from_raw(raw).unwrap();
        let by_name = |name: &str| -> Vec<u32> { (0..g.node_count() as u32).filter(|&v| g.display_name(v) == name).collect() };
        let ticks = by_name("onTick()");
        assert_eq!(ticks.len(), 50, "one closure per handle() call");
        // `function onTick` is on line 7; V8 records the function's start.
        let loc = g.location(ticks[0]).expect("closures are located");
        assert_eq!((loc.script.as_str(), loc.line), ("app.js", 7), "{loc}");
        assert!(g.describe(ticks[0]).starts_with("onTick() at app.js:7:"), "{}", g.describe(ticks[0]));
        // Objects carry their constructor's location.
        let obj = *by_name("LeakingClass").first().expect("LeakingClass instances");
        assert_eq!(g.location(obj).map(|l| (l.script, l.line)), Some(("app.js".to_string(), 1)));
        assert!(!by_name("(anonymous)()").is_empty(), "arrow functions are named (anonymous)()");
        // A scope closed over by located closures is named by their file.
        assert!((0..g.node_count() as u32).any(|v| g.display_name(v) == "system / Context (app.js)"));
        // Synthetic roots by their names.
        assert!((0..g.node_count() as u32).any(|v| g.display_name(v) == "(GC roots)"));
    }

    #[test]
    fn scripts_are_shown_relative_to_their_common_directory() {
        let names = ["/srv/app/lib/a.js", "/srv/app/b.js", "node:internal/timers"].map(String::from);
        assert_eq!(common_root(names.iter()), "/srv/app/");
        let urls = ["https://example.com/static/app.js", "https://example.com/static/vendor.js"].map(String::from);
        assert_eq!(common_root(urls.iter()), "https://example.com/static/");
        let far = ["https://a.com/x.js", "https://b.com/y.js"].map(String::from);
        assert_eq!(common_root(far.iter()), "", "never down to a bare scheme");
        assert_eq!(common_root(["/app.js".to_string()].iter()), "");
    }
    use super::*;

    /// A graph from (type, name, self size) nodes and (from, edge type, to) edges; node 0 is
    /// the root, node `i` has id `2i + 1`, every edge is named "e" (or index 0).
    fn graph(nodes: &[(&str, &str, u64)], edges: &[(usize, &str, usize)]) -> HeapGraph {
        let nodes: Vec<_> = nodes.iter().enumerate().map(|(i, &(t, name, size))| (t, name, size, i as u64 * 2 + 1)).collect();
        let edges: Vec<_> = edges.iter().map(|&(from, t, to)| (from, t, if t == "element" || t == "hidden" { "0" } else { "e" }, to)).collect();
        crate::snapshot::testutil::synthetic(&nodes, &edges)
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
        let d = dominators(&g).unwrap();
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
        let d = dominators(&g).unwrap();
        assert_eq!(d.idom[2], ROOT, "weakly held: attached to the root");
        assert_eq!(d.idom[3], ROOT, "a shortcut not from the root does not retain");
        assert_eq!(d.idom[5], 4, "a shortcut from the root does retain");
        assert_eq!(d.retained[1], 1);
        assert_eq!(d.retained[ROOT as usize], 31, "the root retains the whole heap");
    }

    #[test]
    fn unreachable_nodes_hang_off_the_root() {
        let g = graph(&[("synthetic", "", 0), obj("A", 5), obj("Lost", 7), obj("Lost2", 9)], &[(0, "property", 1), (2, "property", 3)]);
        let d = dominators(&g).unwrap();
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
        let d = dominators(&g).unwrap();
        assert_eq!(d.idom[n - 1], (n - 2) as u32);
        assert_eq!(d.retained[1], 16 * (n as u64 - 1));
        let rows = class_summary(&g, &d).unwrap();
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
        let d = dominators(&g).unwrap();
        let rows = class_summary(&g, &d).unwrap();
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
        // Predecessors straight from the forward edges, independently of `first_retainer`.
        let mut preds: Vec<Vec<u32>> = vec![Vec::new(); n];
        for v in 0..n as u32 {
            for e in g.first_edge[v as usize]..g.first_edge[v as usize + 1] {
                if g.retains(v, e) {
                    preds[g.edge_to[e as usize] as usize].push(v);
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
                for &p in &preds[v] {
                    if reach[p as usize] {
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
        let d = dominators(&g).unwrap();
        let total: u64 = g.total_self_size();
        assert_eq!(d.retained[ROOT as usize], total, "the root retains the whole heap");
        let rows = class_summary(&g, &d).unwrap();
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
            let d = dominators(&g).unwrap();
            assert_eq!(d.idom, brute_force_idom(&g), "round {round}: edges {edges:?}");
            // The root retains everything; every node retains at least itself.
            assert_eq!(d.retained[0], g.total_self_size());
            assert!((0..n).all(|v| d.retained[v] >= g.self_size(v as u32)));
        }
    }
}
