//! Comparing snapshots by node id: DevTools' Comparison view (`diff`), and the three-snapshot
//! technique (`leaks`): objects allocated between a base and a target snapshot that are still
//! alive in a final one, grouped by the retainer path that keeps them, so the report names the
//! container that leaks rather than listing ids.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::format::terminal_safe;

use super::graph::{class_index, dominators, HeapGraph, Location, ROOT};
use super::memory as mem;
use super::paths::{describe_leaf_first, ShortestPaths};
use super::report::{location_json, thousands};

/// Whether a node is worth describing beyond its class: closures (by function) and objects
/// whose constructor V8 located. Others are described by their class alone.
fn detail_of(g: &HeapGraph, v: u32, closure: Option<u8>) -> Option<String> {
    (Some(g.node_type[v as usize]) == closure || g.location(v).is_some()).then(|| g.describe(v))
}

/// What something is made of: `(what, count, where its code is)`.
pub type MadeOf = Vec<(String, u64, Option<Location>)>;

/// `(what, count)` rows as text: `50 x onTick() at app.js:7:33, 50 x system / Context`.
fn made_of_text(rows: &MadeOf) -> String {
    rows.iter().map(|(w, n, _)| format!("{} x {}", thousands(*n), crate::format::one_line(w))).collect::<Vec<_>>().join(", ")
}

/// `{"what":..,"count":..,"location":{script,line,column[,generated]}|null}` items.
fn made_of_json(rows: &MadeOf) -> String {
    let items: Vec<String> =
        rows.iter().map(|(w, n, l)| format!("{{\"what\":{},\"count\":{n},\"location\":{}}}", super::report::json_string(w), location_json(l))).collect();
    format!("[{}]", items.join(","))
}

/// The `top` rows of a tally: the program's own names first, then by count.
fn top_counts(tally: HashMap<String, u64>, top: usize, located: &dyn Fn(&str) -> Option<Location>) -> MadeOf {
    let mut rows: Vec<(String, u64)> = tally.into_iter().collect();
    super::roots::rank_program_first(&mut rows);
    rows.truncate(top);
    rows.into_iter()
        .map(|(w, n)| {
            let l = located(&w);
            (w, n, l)
        })
        .collect()
}

/// A snapshot reduced to (id, class, shallow size) per node, sorted by id: what a diff needs,
/// in a fraction of the graph's memory.
pub struct IdTable {
    ids: Vec<u64>,
    class: Vec<u32>,
    size: Vec<u64>,
    pub names: Vec<String>,
    pub total_size: u64,
    /// Per node (id order): index into `details` (what it is beyond its class: the function of
    /// a closure, a located constructor), or `u32::MAX`.
    detail: Vec<u32>,
    details: Vec<String>,
    /// Where each detail's code is (a closure's function, a constructor), through source maps.
    detail_locations: Vec<Option<Location>>,
    /// The newest id of a heap object: embedder (native) and synthetic nodes get ids of their
    /// own (hash-like, not in allocation order) and are left out.
    newest: u64,
}

impl IdTable {
    pub fn new(g: &HeapGraph) -> mem::Fallible<IdTable> {
        const WHAT: &str = "the table of ids";
        let (class_of, names) = class_index(g)?;
        let n = g.node_count() as u32;
        let mut order: Vec<u32> = mem::collect(0..n, WHAT)?;
        order.sort_unstable_by_key(|&v| g.node_id(v));
        let closure = g.node_types.iter().position(|t| t == "closure").map(|p| p as u8);
        let mut details: Vec<String> = Vec::new();
        let mut detail_locations: Vec<Option<Location>> = Vec::new();
        let mut interned: HashMap<String, u32> = HashMap::new();
        let mut detail = mem::with_capacity(order.len(), WHAT)?;
        for (i, &v) in order.iter().enumerate() {
            if i % mem::EVERY == 0 {
                mem::check_margin(WHAT)?;
            }
            detail.push(match detail_of(g, v, closure) {
                Some(text) => {
                    mem::map_room(&mut interned, WHAT)?;
                    mem::room_for_one(&mut details, WHAT)?;
                    mem::room_for_one(&mut detail_locations, WHAT)?;
                    *interned.entry(text).or_insert_with_key(|k| {
                        details.push(k.clone());
                        detail_locations.push(g.location(v));
                        (details.len() - 1) as u32
                    })
                }
                None => u32::MAX,
            });
        }
        let unordered: Vec<bool> = g.node_types.iter().map(|t| t == "native" || t == "synthetic").collect();
        let newest = (0..n).filter(|&v| !unordered.get(g.node_type[v as usize] as usize).copied().unwrap_or(false)).map(|v| g.node_id(v)).max().unwrap_or(0);
        Ok(IdTable {
            newest,
            ids: mem::collect(order.iter().map(|&v| g.node_id(v)), WHAT)?,
            class: mem::collect(order.iter().map(|&v| class_of[v as usize]), WHAT)?,
            size: mem::collect(order.iter().map(|&v| g.self_size(v)), WHAT)?,
            names,
            total_size: g.total_self_size(),
            detail,
            details,
            detail_locations,
        })
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn contains(&self, id: u64) -> bool {
        self.ids.binary_search(&id).is_ok()
    }

    /// The newest heap object's id (V8 numbers heap objects in allocation order).
    pub fn max_id(&self) -> u64 {
        self.newest
    }
}

/// Snapshots this size or more are checked for coming from one process.
const CHECK_MIN_NODES: usize = 1000;

/// What can be said of two snapshots given as `earlier` then `later` from their ids alone. An
/// object keeps its id for life, so in two snapshots of one process an id both have is the same
/// object, of the same class; two processes of one Node give their start-up objects the same ids
/// too, but what they allocate later gets ids that, shared, name different classes: more than a
/// tenth of the shared ids naming different classes cannot be one process. And V8 numbers
/// objects in allocation order, so a later snapshot whose newest object is older than the
/// earlier one's newest was given out of order. `shared` and `mismatched` count the ids both
/// have and those of them whose classes differ; `*_max` are the newest ids.
pub fn pair_warnings(earlier: (&str, usize, u64), later: (&str, usize, u64), shared: usize, mismatched: usize) -> Vec<String> {
    let (ename, elen, emax) = earlier;
    let (lname, llen, lmax) = later;
    let mut out = Vec::new();
    if elen.min(llen) < CHECK_MIN_NODES {
        return out;
    }
    if shared < 10 || mismatched * 10 > shared {
        out.push(format!(
            "{ename} and {lname} cannot be snapshots of one process: {} of the {} object ids they share name objects of different classes (an object keeps its id and class for life), so what follows compares unrelated heaps",
            thousands(mismatched as u64),
            thousands(shared as u64)
        ));
    } else if lmax < emax {
        out.push(format!(
            "{lname} looks older than {ename}: its newest object (id {lmax}) is older than {ename}'s newest (id {emax}); give the snapshots in the order they were taken"
        ));
    }
    out
}

/// How many ids two id-sorted tables share, and how many of those name different classes.
fn shared_ids(a: &IdTable, b: &IdTable) -> (usize, usize) {
    let (mut i, mut j, mut n, mut differ) = (0, 0, 0, 0);
    while i < a.ids.len() && j < b.ids.len() {
        match a.ids[i].cmp(&b.ids[j]) {
            std::cmp::Ordering::Equal => {
                n += 1;
                if a.names[a.class[i] as usize] != b.names[b.class[j] as usize] {
                    differ += 1;
                }
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
        }
    }
    (n, differ)
}

/// One class's change between two snapshots.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassChange {
    pub class_name: String,
    pub added_count: u64,
    pub added_size: u64,
    pub removed_count: u64,
    pub removed_size: u64,
    /// What the added objects are, beyond the class (closures by function, located
    /// constructors): `(what, count)`, most first.
    pub made_of: MadeOf,
}

impl ClassChange {
    pub fn count_delta(&self) -> i64 {
        self.added_count as i64 - self.removed_count as i64
    }
    pub fn size_delta(&self) -> i64 {
        self.added_size as i64 - self.removed_size as i64
    }
}

/// `memwatch-rs diff before after`.
#[derive(Clone, Debug, PartialEq)]
pub struct DiffReport {
    pub before_nodes: u64,
    pub before_size: u64,
    pub after_nodes: u64,
    pub after_size: u64,
    /// Classes with any change, largest size growth first.
    pub classes: Vec<ClassChange>,
    /// Mistakes the ids show (snapshots of two processes, or out of order).
    pub warnings: Vec<String>,
    /// What is new at the top: new objects no other new object holds, with their parts
    /// ([`super::roots`]); set by the caller that has the `after` graph.
    pub roots: Vec<super::roots::RootGroup>,
}

/// Per-class added/removed counts and sizes by node id.
pub fn diff(before: &IdTable, after: &IdTable) -> mem::Fallible<DiffReport> {
    const WHAT: &str = "the diff";
    // A merge of the two id-sorted tables.
    let (mut i, mut j) = (0, 0);
    let mut added: HashMap<String, (u64, u64)> = HashMap::new();
    let mut removed: HashMap<String, (u64, u64)> = HashMap::new();
    let (mut added_by_class, mut removed_by_class) = (mem::filled(after.names.len(), (0u64, 0u64), WHAT)?, mem::filled(before.names.len(), (0u64, 0u64), WHAT)?);
    let mut added_details: HashMap<u32, HashMap<String, u64>> = HashMap::new();
    while i < before.len() || j < after.len() {
        let b = before.ids.get(i).copied().unwrap_or(u64::MAX);
        let a = after.ids.get(j).copied().unwrap_or(u64::MAX);
        if b == a {
            i += 1;
            j += 1;
        } else if b < a {
            let t = &mut removed_by_class[before.class[i] as usize];
            t.0 += 1;
            t.1 = t.1.saturating_add(before.size[i]);
            i += 1;
        } else {
            let t = &mut added_by_class[after.class[j] as usize];
            t.0 += 1;
            t.1 = t.1.saturating_add(after.size[j]);
            if let Some(what) = after.details.get(after.detail[j] as usize) {
                mem::map_room(&mut added_details, WHAT)?;
                let per_class = added_details.entry(after.class[j]).or_default();
                mem::map_room(per_class, WHAT)?;
                *per_class.entry(what.clone()).or_default() += 1;
            }
            j += 1;
        }
    }
    // The rest is per class: headroom for it checked once.
    mem::slack(WHAT)?;
    let mut made_of: HashMap<String, HashMap<String, u64>> = HashMap::new();
    for (c, &(n, s)) in added_by_class.iter().enumerate() {
        if n > 0 {
            let e = added.entry(after.names[c].clone()).or_default();
            e.0 += n;
            e.1 += s;
        }
    }
    for (c, tally) in added_details {
        let into = made_of.entry(after.names[c as usize].clone()).or_default();
        for (what, n) in tally {
            *into.entry(what).or_default() += n;
        }
    }
    for (c, &(n, s)) in removed_by_class.iter().enumerate() {
        if n > 0 {
            let e = removed.entry(before.names[c].clone()).or_default();
            e.0 += n;
            e.1 += s;
        }
    }
    let detail_index: HashMap<&str, usize> = after.details.iter().enumerate().map(|(i, d)| (d.as_str(), i)).collect();
    let mut names: Vec<&String> = added.keys().chain(removed.keys()).collect();
    names.sort();
    names.dedup();
    let mut classes: Vec<ClassChange> = names
        .into_iter()
        .map(|name| {
            let (ac, asz) = added.get(name).copied().unwrap_or_default();
            let (rc, rsz) = removed.get(name).copied().unwrap_or_default();
            let made_of = top_counts(made_of.remove(name).unwrap_or_default(), 3, &|w: &str| detail_index.get(w).and_then(|&i| after.detail_locations[i].clone()));
            ClassChange { class_name: name.clone(), added_count: ac, added_size: asz, removed_count: rc, removed_size: rsz, made_of }
        })
        .collect();
    classes.sort_unstable_by(|a, b| b.size_delta().cmp(&a.size_delta()).then(b.count_delta().cmp(&a.count_delta())).then(a.class_name.cmp(&b.class_name)));
    let (shared, mismatched) = shared_ids(before, after);
    let warnings = pair_warnings(("before", before.len(), before.max_id()), ("after", after.len(), after.max_id()), shared, mismatched);
    Ok(DiffReport {
        before_nodes: before.len() as u64,
        before_size: before.total_size,
        after_nodes: after.len() as u64,
        after_size: after.total_size,
        classes,
        warnings,
        roots: Vec::new(),
    })
}

/// `3 x OrderRecord at src/orders.ts:15:3 (600 bytes), each with 2 String, 1 Array, 1 Object`.
fn root_text(r: &super::roots::RootGroup) -> String {
    let at = r.location.as_ref().map(|l| format!(" at {l}")).unwrap_or_default();
    let parts: Vec<String> = r.parts.iter().take(4).map(|(w, n)| format!("{} {}", thousands(n.div_ceil(r.count.max(1))), crate::format::one_line(w))).collect();
    let with = if parts.is_empty() { String::new() } else { format!(", each with {}", parts.join(", ")) };
    format!("{} x {}{at} ({} bytes){with}", thousands(r.count), crate::format::one_line(&r.label), thousands(r.bytes))
}

/// A root group as JSON: `{what,label,count,bytes,parts:[{what,count}],location,id}`.
pub fn root_json(r: &super::roots::RootGroup) -> String {
    let js = super::report::json_string;
    let parts: Vec<String> = r.parts.iter().map(|(w, n)| format!("{{\"what\":{},\"count\":{n}}}", js(w))).collect();
    format!(
        "{{\"what\":{},\"label\":{},\"count\":{},\"bytes\":{},\"parts\":[{}],\"location\":{},\"id\":{}}}",
        js(&r.what),
        js(&r.label),
        r.count,
        r.bytes,
        parts.join(","),
        location_json(&r.location),
        r.sample_id
    )
}

fn signed(n: i64) -> String {
    if n >= 0 {
        format!("+{}", thousands(n as u64))
    } else {
        format!("-{}", thousands(n.unsigned_abs()))
    }
}

impl DiffReport {
    /// The rows shown: classes whose count or size changed, or with `all` also those whose new
    /// and deleted objects cancel out (churn, +0).
    fn rows(&self, top: usize, all: bool) -> impl Iterator<Item = &ClassChange> {
        self.classes.iter().filter(move |c| all || c.count_delta() != 0 || c.size_delta() != 0).take(top)
    }

    pub fn to_text(&self, top: usize, all: bool) -> String {
        let mut s = String::new();
        for w in &self.warnings {
            let _ = writeln!(s, "warning: {w}\n");
        }
        let _ = writeln!(
            s,
            "before: {} bytes in {} nodes\nafter:  {} bytes in {} nodes ({} bytes)\n",
            thousands(self.before_size),
            thousands(self.before_nodes),
            thousands(self.after_size),
            thousands(self.after_nodes),
            signed(self.after_size as i64 - self.before_size as i64)
        );
        if !self.roots.is_empty() {
            let _ = writeln!(s, "new at the top (objects no other new object holds, with what they hold):");
            for r in &self.roots {
                let _ = writeln!(s, "  {}", root_text(r));
            }
            let _ = writeln!(s);
        }
        let _ = writeln!(s, "{:<40} {:>10} {:>10} {:>10} {:>14}", "class", "# new", "# deleted", "# delta", "size delta");
        for c in self.rows(top, all) {
            let _ = writeln!(
                s,
                "{:<40} {:>10} {:>10} {:>10} {:>14}",
                super::report::truncate(&c.class_name, 40),
                thousands(c.added_count),
                thousands(c.removed_count),
                signed(c.count_delta()),
                signed(c.size_delta())
            );
            if !c.made_of.is_empty() {
                let _ = writeln!(s, "    new: {}", made_of_text(&c.made_of));
            }
        }
        terminal_safe(s)
    }

    pub fn to_json(&self, top: usize, all: bool) -> String {
        let rows: Vec<String> = self
            .rows(top, all)
            .map(|c| {
                format!(
                    "{{\"className\":{},\"addedCount\":{},\"addedSize\":{},\"removedCount\":{},\"removedSize\":{},\"countDelta\":{},\"sizeDelta\":{},\"madeOf\":{}}}",
                    super::report::json_string(&c.class_name),
                    c.added_count,
                    c.added_size,
                    c.removed_count,
                    c.removed_size,
                    c.count_delta(),
                    c.size_delta(),
                    made_of_json(&c.made_of)
                )
            })
            .collect();
        format!(
            "{{\"before\":{{\"nodes\":{},\"size\":{}}},\"after\":{{\"nodes\":{},\"size\":{}}},\"warnings\":{},\"roots\":[{}],\"classes\":[{}]}}",
            self.before_nodes,
            self.before_size,
            self.after_nodes,
            self.after_size,
            warnings_json(&self.warnings),
            self.roots.iter().map(root_json).collect::<Vec<_>>().join(","),
            rows.join(",")
        )
    }
}

/// Leaked objects that one retainer path (up to the first leaked object on it) explains.
#[derive(Clone, Debug, PartialEq)]
pub struct LeakGroup {
    /// The path with element indices generalised: `global.client -> Client.cache -> Map.table -> (array)[]`.
    pub signature: String,
    /// Class of the leaked objects at the end of the path.
    pub class_name: String,
    /// Leaked objects at the end of this path (not counting leaked objects inside them).
    pub count: u64,
    /// Leaked objects in all, these and the ones only they reach.
    pub objects: u64,
    /// What the group's objects retain together.
    pub retained_size: u64,
    /// One of them, and its path leaf first.
    pub sample_id: u64,
    pub sample_path: String,
    /// The same path root side first, as (edge, name, id) steps.
    pub sample_steps: Vec<(String, String, u64)>,
    /// The sample's constructor or function location, when V8 recorded one.
    pub location: Option<Location>,
    /// What the group's leaked objects are (closures by function, with locations): the most
    /// numerous first, so a grown container never hides what it holds.
    pub made_of: MadeOf,
}

/// `memwatch-rs leaks base target final`.
#[derive(Clone, Debug, PartialEq)]
pub struct LeakReport {
    /// Objects allocated between base and target still alive in final (user-visible types).
    pub leaked_objects: u64,
    pub leaked_shallow_size: u64,
    /// Per class: (class, count, shallow size), largest first.
    pub classes: Vec<(String, u64, u64)>,
    /// Largest retained first.
    pub groups: Vec<LeakGroup>,
    /// Mistakes the ids show (snapshots of two processes, or out of order).
    pub warnings: Vec<String>,
}

fn warnings_json(w: &[String]) -> String {
    format!("[{}]", w.iter().map(|x| super::report::json_string(x)).collect::<Vec<_>>().join(","))
}

/// Node types that a program allocates (V8's own code, shapes and internals are left out:
/// they churn between any two snapshots and are never the cause).
fn user_visible(type_name: &str) -> bool {
    matches!(type_name, "object" | "closure" | "array" | "regexp" | "native" | "string" | "concatenated string" | "sliced string" | "number" | "bigint" | "symbol")
}

/// The three-snapshot technique. `base` and `target` need only their ids; `last` is the final
/// snapshot's graph.
pub fn leaks(base: &IdTable, target: &IdTable, last: &HeapGraph, top: usize) -> mem::Fallible<LeakReport> {
    const WHAT: &str = "the leak groups";
    let n = last.node_count();
    let visible: Vec<bool> = last.node_types.iter().map(|t| user_visible(t)).collect();
    let mut leaked = mem::filled(n, false, WHAT)?;
    for v in 0..n as u32 {
        let id = last.node_id(v);
        if v != ROOT && visible.get(last.node_type[v as usize] as usize).copied().unwrap_or(false) && target.contains(id) && !base.contains(id) {
            leaked[v as usize] = true;
        }
    }
    let (class_of, names) = class_index(last)?;
    let mut per_class = mem::filled(names.len(), (0u64, 0u64), WHAT)?;
    let (mut count, mut shallow) = (0u64, 0u64);
    for v in 0..n {
        if leaked[v] {
            let c = &mut per_class[class_of[v] as usize];
            c.0 += 1;
            c.1 += last.self_size(v as u32);
            count += 1;
            shallow += last.self_size(v as u32);
        }
    }
    let classes = per_class.iter().enumerate().filter(|(_, c)| c.0 > 0).map(|(i, c)| (names[i].clone(), c.0, c.1));
    let mut classes: Vec<(String, u64, u64)> = mem::collect(classes, WHAT)?;
    classes.sort_unstable_by(|a, b| b.2.cmp(&a.2).then(b.1.cmp(&a.1)).then_with(|| a.0.cmp(&b.0)));

    // Group by the path to the first leaked object on it. `head[v]`: the first leaked node on
    // v's shortest path (v itself if v is the first), or NONE; computed in BFS order.
    let paths = ShortestPaths::new(last)?;
    const NONE: u32 = u32::MAX;
    let mut head = mem::filled(n, NONE, WHAT)?;
    for &v in paths.order() {
        let parent_head = paths.edge_into(v).map(|e| head[last.edge_owner(e) as usize]).unwrap_or(NONE);
        head[v as usize] = if parent_head != NONE {
            parent_head
        } else if leaked[v as usize] {
            v
        } else {
            NONE
        };
    }
    let d = dominators(last)?;
    // Objects per head, then heads per signature.
    let mut inside: HashMap<u32, u64> = HashMap::new();
    for v in 0..n {
        if leaked[v] && head[v] != NONE {
            mem::map_room(&mut inside, WHAT)?;
            *inside.entry(head[v]).or_default() += 1;
        }
    }
    let mut groups: HashMap<String, LeakGroup> = HashMap::new();
    let mut heads: Vec<u32> = mem::collect(inside.keys().copied(), WHAT)?;
    heads.sort_unstable();
    let mut group_of_head: HashMap<u32, String> = HashMap::new();
    for h in heads {
        let steps = paths.path(last, h, 64);
        let signature = signature(last, &class_of, &names, &steps);
        mem::map_room(&mut group_of_head, WHAT)?;
        mem::map_room(&mut groups, WHAT)?;
        group_of_head.insert(h, signature.clone());
        let g = groups.entry(signature.clone()).or_insert_with(|| LeakGroup {
            signature,
            class_name: names[class_of[h as usize] as usize].clone(),
            count: 0,
            objects: 0,
            retained_size: 0,
            sample_id: last.node_id(h),
            sample_path: describe_leaf_first(last, h, &steps),
            sample_steps: steps.iter().map(|s| (s.edge.clone(), last.display_name(s.node), last.node_id(s.node))).collect(),
            location: last.location(h),
            made_of: Vec::new(),
        });
        g.count += 1;
        g.objects += inside[&h];
        g.retained_size = g.retained_size.saturating_add(d.retained[h as usize]);
    }
    let mut groups: Vec<LeakGroup> = mem::collect(groups.into_values(), WHAT)?;
    groups.sort_unstable_by(|a, b| b.retained_size.cmp(&a.retained_size).then(b.count.cmp(&a.count)).then(a.signature.cmp(&b.signature)));
    groups.truncate(top);
    mem::slack(WHAT)?;
    // What each reported group's leaked objects are, by function or located class, else class.
    let wanted: HashMap<&str, usize> = groups.iter().enumerate().map(|(i, g)| (g.signature.as_str(), i)).collect();
    let closure = last.node_types.iter().position(|t| t == "closure").map(|p| p as u8);
    let mut tallies: Vec<HashMap<String, u64>> = vec![HashMap::new(); groups.len()];
    // Where each kind's code is (its first object's location), for the JSON.
    let mut located: HashMap<String, Option<Location>> = HashMap::new();
    for v in 0..n {
        if v % mem::EVERY == 0 {
            mem::check_margin(WHAT)?;
        }
        if !leaked[v] || head[v] == NONE {
            continue;
        }
        let Some(&i) = group_of_head.get(&head[v]).and_then(|sig| wanted.get(sig.as_str())) else { continue };
        let what = detail_of(last, v as u32, closure).unwrap_or_else(|| last.display_name(v as u32));
        mem::map_room(&mut tallies[i], WHAT)?;
        if !tallies[i].contains_key(&what) {
            mem::map_room(&mut located, WHAT)?;
            located.entry(what.clone()).or_insert_with(|| last.location(v as u32));
        }
        *tallies[i].entry(what).or_default() += 1;
    }
    for (g, tally) in groups.iter_mut().zip(tallies) {
        g.made_of = top_counts(tally, 4, &|w: &str| located.get(w).cloned().flatten());
    }
    classes.truncate(top);
    let (shared, mismatched) = shared_ids(base, target);
    let mut warnings = pair_warnings(("base", base.len(), base.max_id()), ("target", target.len(), target.max_id()), shared, mismatched);
    if warnings.is_empty() {
        let (mut in_target, mut differ, mut last_max) = (0usize, 0usize, 0u64);
        let unordered: Vec<bool> = last.node_types.iter().map(|t| t == "native" || t == "synthetic").collect();
        for v in 0..n as u32 {
            let id = last.node_id(v);
            if !unordered.get(last.node_type[v as usize] as usize).copied().unwrap_or(false) {
                last_max = last_max.max(id);
            }
            if let Ok(k) = target.ids.binary_search(&id) {
                in_target += 1;
                if target.names[target.class[k] as usize] != names[class_of[v as usize] as usize] {
                    differ += 1;
                }
            }
        }
        warnings = pair_warnings(("target", target.len(), target.max_id()), ("final", n, last_max), in_target, differ);
    }
    Ok(LeakReport { leaked_objects: count, leaked_shallow_size: shallow, classes, groups, warnings })
}

/// A path as a grouping key: owner classes and edge names, element indices generalised to `[]`.
fn signature(g: &HeapGraph, class_of: &[u32], names: &[String], steps: &[super::paths::Step]) -> String {
    let mut parts: Vec<String> = Vec::with_capacity(steps.len());
    let mut owner = "(root)".to_string();
    for s in steps {
        // Element indices, and the numeric slots of hash tables (Map/Set backing stores name
        // their entries by index), say which slot, not why: generalise them.
        let bare = s.edge.trim_start_matches('[').trim_end_matches(']');
        let edge = if !bare.is_empty() && bare.bytes().all(|b| b.is_ascii_digit()) { "[]".to_string() } else { format!(".{}", s.edge) };
        parts.push(format!("{owner}{edge}"));
        // GC roots by their names (`(Stack roots)`), everything else by its class.
        let synthetic = g.type_name(s.node) == "synthetic";
        owner = if synthetic { g.display_name(s.node) } else { names[class_of[s.node as usize] as usize].clone() };
    }
    parts.push(owner);
    parts.join(" -> ")
}

impl LeakReport {
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for w in &self.warnings {
            let _ = writeln!(s, "warning: {w}\n");
        }
        let _ = writeln!(
            s,
            "{} objects ({} bytes) were allocated between base and target and are still alive in final.\n",
            thousands(self.leaked_objects),
            thousands(self.leaked_shallow_size)
        );
        if self.groups.is_empty() {
            let _ = writeln!(s, "No leaked objects.");
            return s;
        }
        let _ = writeln!(s, "by retainer path (largest retained first):");
        for (i, g) in self.groups.iter().enumerate() {
            let _ = writeln!(
                s,
                "\n{}. {} x {} ({} objects in all) retain {} bytes",
                i + 1,
                thousands(g.count),
                crate::format::one_line(&g.class_name),
                thousands(g.objects),
                thousands(g.retained_size)
            );
            if let Some(l) = &g.location {
                let _ = writeln!(s, "   {} is defined at {}", crate::format::one_line(&g.class_name), crate::format::one_line(&l.to_string()));
            }
            if !g.made_of.is_empty() {
                let _ = writeln!(s, "   made of: {}", made_of_text(&g.made_of));
            }
            let _ = writeln!(s, "   held by: {}", crate::format::one_line(&g.signature));
            let _ = writeln!(s, "   e.g. {}", crate::format::one_line(&g.sample_path));
        }
        let _ = writeln!(s, "\nby class:");
        let _ = writeln!(s, "{:<40} {:>10} {:>16}", "class", "count", "shallow bytes");
        for (c, n, b) in &self.classes {
            let _ = writeln!(s, "{:<40} {:>10} {:>16}", super::report::truncate(c, 40), thousands(*n), thousands(*b));
        }
        terminal_safe(s)
    }

    pub fn to_json(&self) -> String {
        let js = super::report::json_string;
        let groups: Vec<String> = self
            .groups
            .iter()
            .map(|g| {
                let steps: Vec<String> = g.sample_steps.iter().map(|(e, c, id)| format!("{{\"edge\":{},\"className\":{},\"id\":{}}}", js(e), js(c), id)).collect();
                format!(
                    "{{\"signature\":{},\"className\":{},\"location\":{},\"madeOf\":{},\"count\":{},\"objects\":{},\"retainedSize\":{},\"sampleId\":{},\"samplePath\":{},\"sampleSteps\":[{}]}}",
                    js(&g.signature),
                    js(&g.class_name),
                    location_json(&g.location),
                    made_of_json(&g.made_of),
                    g.count,
                    g.objects,
                    g.retained_size,
                    g.sample_id,
                    js(&g.sample_path),
                    steps.join(",")
                )
            })
            .collect();
        let classes: Vec<String> = self.classes.iter().map(|(c, n, b)| format!("{{\"className\":{},\"count\":{},\"shallowSize\":{}}}", js(c), n, b)).collect();
        format!(
            "{{\"leakedObjects\":{},\"leakedShallowSize\":{},\"warnings\":{},\"groups\":[{}],\"classes\":[{}]}}",
            self.leaked_objects,
            self.leaked_shallow_size,
            warnings_json(&self.warnings),
            groups.join(","),
            classes.join(",")
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn pair_warnings_catch_two_processes_and_the_wrong_order() {
        assert!(pair_warnings(("before", 50_000, 900), ("after", 52_000, 1_200), 45_000, 3).is_empty(), "one process, in order");
        let w = pair_warnings(("before", 50_000, 900), ("after", 52_000, 1_200), 20_000, 9_000);
        assert!(w.len() == 1 && w[0].contains("cannot be snapshots of one process: 9,000 of the 20,000 object ids they share"), "{w:?}");
        let w = pair_warnings(("before", 50_000, 1_200), ("after", 52_000, 900), 45_000, 0);
        assert!(w.len() == 1 && w[0].starts_with("after looks older than before"), "{w:?}");
        assert!(pair_warnings(("before", 10, 9), ("after", 12, 1), 0, 0).is_empty(), "too small to tell");
    }

    use super::*;
    use crate::snapshot::testutil::synthetic;

    /// root -shortcut-> global; global -cache-> Map -table-> (array) -[i]-> Entry...;
    /// global -bus-> Emitter -> listeners Array -[i]-> (closure)...; plus `extra` unrelated objects.
    fn service(entries: &[u64], listeners: &[u64], garbage: &[u64]) -> HeapGraph {
        let mut nodes = vec![
            ("synthetic", "", 0, 1),
            ("object", "global", 40, 3),
            ("object", "Map", 32, 5),
            ("array", "", 16, 7),
            ("object", "Emitter", 24, 9),
            ("array", "", 16, 11),
        ];
        let mut edges = vec![(0, "shortcut", "global", 1), (1, "property", "cache", 2), (2, "internal", "table", 3), (1, "property", "bus", 4), (4, "property", "listeners", 5)];
        for (i, &id) in entries.iter().enumerate() {
            nodes.push(("object", "Entry", 100, id));
            let slot = i.to_string();
            edges.push((3, "element", Box::leak(slot.into_boxed_str()), nodes.len() - 1));
        }
        for (i, &id) in listeners.iter().enumerate() {
            nodes.push(("closure", "onTick", 64, id));
            let slot = i.to_string();
            edges.push((5, "element", Box::leak(slot.into_boxed_str()), nodes.len() - 1));
        }
        for &id in garbage {
            nodes.push(("object", "Temp", 8, id));
        }
        synthetic(&nodes, &edges)
    }

    #[test]
    fn diff_counts_added_and_removed_by_id_per_class() {
        let before = IdTable::new(&service(&[101, 103], &[201], &[301, 303])).unwrap();
        let after = IdTable::new(&service(&[101, 103, 105, 107], &[201, 203], &[305])).unwrap();
        let d = diff(&before, &after).unwrap();
        let row = |c: &str| d.classes.iter().find(|x| x.class_name == c).cloned().unwrap();
        assert_eq!((row("Entry").added_count, row("Entry").removed_count, row("Entry").size_delta()), (2, 0, 200));
        assert_eq!((row("(closure)").added_count, row("(closure)").added_size), (1, 64));
        assert_eq!((row("Temp").added_count, row("Temp").removed_count, row("Temp").size_delta()), (1, 2, -8));
        assert_eq!(d.classes[0].class_name, "Entry", "largest growth first");
        assert!(d.classes.iter().all(|c| c.class_name != "Map"), "unchanged classes are left out");
        assert_eq!(d.after_nodes - d.before_nodes, 2);
    }

    #[test]
    fn leaks_keep_objects_new_in_target_and_alive_in_final_grouped_by_generalised_path() {
        let base = IdTable::new(&service(&[101], &[201], &[])).unwrap();
        // Between base and target: entries 103, 105 and listener 203, and a temporary 301.
        let target = IdTable::new(&service(&[101, 103, 105], &[201, 203], &[301])).unwrap();
        // Final: those still alive, plus newer ones (107) that belong to the next interval.
        let last = service(&[101, 103, 105, 107], &[201, 203], &[]);
        let r = leaks(&base, &target, &last, 10).unwrap();
        assert_eq!(r.leaked_objects, 3, "103, 105 and 203; not 301 (dead) nor 107 (too new)");
        assert_eq!(r.groups.len(), 2);
        let entries = &r.groups[0];
        assert_eq!((entries.class_name.as_str(), entries.count, entries.retained_size), ("Entry", 2, 200));
        assert_eq!(entries.signature, "(root).global -> global.cache -> Map.table -> (array)[] -> Entry");
        assert!(entries.sample_path.starts_with("Entry @10"), "{}", entries.sample_path);
        assert!(entries.sample_path.ends_with("<- global in (root)"), "{}", entries.sample_path);
        let listener = &r.groups[1];
        assert_eq!((listener.class_name.as_str(), listener.count), ("(closure)", 1));
        assert!(listener.signature.contains("Emitter.listeners -> (array)[]"), "{}", listener.signature);
    }

    #[test]
    fn objects_inside_a_leaked_object_join_its_group() {
        // A leaked Entry holding a leaked Payload: one group (Entry), two objects.
        let g = synthetic(
            &[("synthetic", "", 0, 1), ("object", "global", 10, 3), ("object", "Entry", 10, 5), ("object", "Payload", 30, 7)],
            &[(0, "shortcut", "global", 1), (1, "property", "e", 2), (2, "property", "payload", 3)],
        );
        let base = IdTable::new(&synthetic(&[("synthetic", "", 0, 1), ("object", "global", 10, 3)], &[(0, "shortcut", "global", 1)])).unwrap();
        let target = IdTable::new(&g).unwrap();
        let r = leaks(&base, &target, &g, 10).unwrap();
        assert_eq!(r.groups.len(), 1);
        assert_eq!((r.groups[0].count, r.groups[0].objects, r.groups[0].retained_size), (1, 2, 40));
    }
}
