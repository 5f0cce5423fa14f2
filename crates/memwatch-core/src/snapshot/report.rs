//! The analysis report of a heap snapshot: totals, the per-class table, the largest objects,
//! and "suspects" (objects retaining more than a tenth of the heap) with where their memory
//! accumulates and how a GC root reaches them. Rendered as text or JSON.

use std::fmt::Write as _;

use crate::format::{one_line, terminal_safe};

use super::paths::ShortestPaths;
use super::progress::Progress;
use super::graph::{class_index, class_summary_with, dominators, ClassRow, Dominators, HeapGraph, Location, ROOT};
use super::memory as mem;

/// An object in the report.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectRow {
    pub id: u64,
    pub class_name: String,
    /// DevTools' name for people: `onTick()` for a closure, else the class.
    pub name: String,
    /// Its function's or constructor's source location, when V8 recorded one.
    pub location: Option<Location>,
    pub self_size: u64,
    pub retained_size: u64,
}

impl ObjectRow {
    /// `onTick() at app.js:7:33` / `Client`.
    pub fn what(&self) -> String {
        match &self.location {
            Some(l) => format!("{} at {l}", self.name),
            None => self.name.clone(),
        }
    }
}

/// What a container is made of: `(what, count, retained)` with `what` as
/// [`HeapGraph::describe`] says it, largest retained first.
pub type Contents = Vec<(String, u64, u64, Option<Location>)>;

/// An object retaining more than `SUSPECT_SHARE` of the heap.
#[derive(Clone, Debug, PartialEq)]
pub struct Suspect {
    pub object: ObjectRow,
    pub percent: f64,
    /// Dominator-tree descent: each step the child holding most of its parent's memory.
    pub mainly_in: Vec<ObjectRow>,
    /// Shortest path from the root: `(edge label, object)` pairs, root side first.
    pub retainer_path: Vec<(String, ObjectRow)>,
    /// What the deepest `mainly_in` object (or the suspect itself) holds, so a grown container
    /// never hides its contents: its dominator-tree children by what they are, largest first.
    pub holds: Contents,
}

/// A block of the heap's composition: top-level objects of one class (those directly under a
/// GC root in the dominator tree), what they retain together, and the classes inside them.
/// Blocks partition the heap, so they can be drawn as a treemap.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub class_name: String,
    pub count: u64,
    pub retained_size: u64,
    /// (class, count, retained) of the blocks' dominator-tree children, largest first.
    pub children: Vec<(String, u64, u64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub composition: Vec<Block>,
    pub nodes: u64,
    pub edges: u64,
    pub total_size: u64,
    pub classes: Vec<ClassRow>,
    pub largest: Vec<ObjectRow>,
    pub suspects: Vec<Suspect>,
    /// The scripts' common root, which every location's `script` is shown relative to (empty
    /// when they share none): `script_root + script` is the full path or URL.
    pub script_root: String,
}

const SUSPECT_SHARE: f64 = 0.10;

/// Runs every pass and builds the report, keeping the `top` rows of each table.
pub fn analyze(g: &HeapGraph, top: usize) -> mem::Fallible<Report> {
    analyze_with(g, top, &mut Progress::quiet())
}

/// [`analyze`], reporting its phases.
pub fn analyze_with(g: &HeapGraph, top: usize, progress: &mut Progress) -> mem::Fallible<Report> {
    progress.phase("dominators")?;
    // The retainer paths and the class index need only the graph: a second core builds them
    // while this one computes the dominators.
    let side_work = || -> mem::Fallible<_> { Ok((ShortestPaths::new(g)?, class_index(g)?)) };
    let (d, side) = std::thread::scope(|scope| {
        let side = std::thread::Builder::new().spawn_scoped(scope, side_work);
        let d = dominators(g);
        let side = side.ok().and_then(|h| h.join().ok());
        (d, side)
    });
    let d = d?;
    let (parents, class_table) = match side {
        Some(done) => done?,
        None => side_work()?,
    };
    progress.phase("report")?;
    mem::slack("the report")?;
    let total = d.retained[ROOT as usize];
    let synthetic = g.node_types.iter().position(|t| t == "synthetic").map(|p| p as u8);
    let interesting = |v: u32| v != ROOT && Some(g.node_type[v as usize]) != synthetic;
    let row = |v: u32| ObjectRow {
        id: g.node_id(v),
        class_name: g.class_name(v),
        name: g.display_name(v),
        location: g.location(v),
        self_size: g.self_size(v),
        retained_size: d.retained[v as usize],
    };

    let heavier = |a: &u32, b: &u32| d.retained[*b as usize].cmp(&d.retained[*a as usize]).then(a.cmp(b));
    // Top-k by selection, not a sort of the whole heap.
    let mut candidates: Vec<u32> = mem::collect((0..g.node_count() as u32).filter(|&v| interesting(v)), "the report")?;
    if candidates.len() > top {
        candidates.select_nth_unstable_by(top, heavier);
        candidates.truncate(top);
    }
    candidates.sort_unstable_by(heavier);
    let largest = candidates.iter().map(|&v| row(v)).collect();
    drop(candidates);
    let threshold = SUSPECT_SHARE * total as f64;
    // At most nine: each holds over a tenth of the heap, and none holds another.
    let by_retained = (0..g.node_count() as u32).filter(|&v| interesting(v) && d.retained[v as usize] as f64 > threshold);
    let mut by_retained: Vec<u32> = mem::collect(by_retained, "the report")?;
    by_retained.sort_unstable_by(heavier);

    let children = d.children()?;
    mem::slack("the report")?;
    let mut suspects = Vec::new();
    for &v in by_retained.iter().take(top) {
        let descent = mainly_in(&d, &children, v);
        let container = descent.last().copied().unwrap_or(v);
        suspects.push(Suspect {
            object: row(v),
            percent: 100.0 * d.retained[v as usize] as f64 / total as f64,
            mainly_in: descent.into_iter().map(row).collect(),
            retainer_path: parents.path(g, v, 64).into_iter().map(|s| (s.edge, row(s.node))).collect(),
            holds: contents(g, &d, &children, container, 3)?,
        });
    }

    drop(parents);
    let composition = composition(g, &d, &children, synthetic, &class_table)?;
    let mut classes = class_summary_with(g, &d, &children, &class_table)?;
    classes.retain(|c| c.class_name != "(synthetic)");
    classes.truncate(top);
    Ok(Report {
        composition,
        nodes: g.node_count() as u64,
        edges: g.edge_count() as u64,
        total_size: total,
        classes,
        largest,
        suspects,
        script_root: g.script_root().to_string(),
    })
}

/// The dominator-tree children of `v`, grouped by [`HeapGraph::describe`]: `(what, count,
/// retained)`, the `top` largest retained.
pub fn contents(g: &HeapGraph, d: &Dominators, (first, list): &(Vec<u32>, Vec<u32>), v: u32, top: usize) -> mem::Fallible<Contents> {
    let mut by: std::collections::HashMap<String, (u64, u64, Option<Location>)> = std::collections::HashMap::new();
    for (i, &c) in list[first[v as usize] as usize..first[v as usize + 1] as usize].iter().enumerate() {
        if i % mem::EVERY == 0 {
            mem::check_margin("the report")?;
        }
        mem::map_room(&mut by, "the report")?;
        let e = by.entry(g.describe(c)).or_insert_with(|| (0, 0, g.location(c)));
        e.0 += 1;
        e.1 = e.1.saturating_add(d.retained[c as usize]);
    }
    let mut out: Contents = mem::collect(by.into_iter().map(|(k, (n, r, l))| (k, n, r, l)), "the report")?;
    // The program's own names first, then by what they retain.
    let rank = |w: &str| super::roots::name_rank(w);
    out.sort_unstable_by(|a, b| rank(&a.0).cmp(&rank(&b.0)).then(b.2.cmp(&a.2)).then(b.1.cmp(&a.1)).then(a.0.cmp(&b.0)));
    out.truncate(top);
    Ok(out)
}

/// `60,000 x onTick() at app/home.js:34:18 (4,800,000 bytes), ...`
pub fn contents_text(c: &Contents) -> String {
    c.iter().map(|(what, n, r, _)| format!("{} x {} ({} bytes)", thousands(*n), one_line(what), thousands(*r))).collect::<Vec<_>>().join(", ")
}

/// `{"what":..,"count":..,"retainedSize":..,"location":..}` items.
pub fn contents_json(c: &Contents) -> String {
    let items: Vec<String> =
        c.iter().map(|(what, n, r, l)| format!("{{\"what\":{},\"count\":{n},\"retainedSize\":{r},\"location\":{}}}", json_string(what), location_json(l))).collect();
    format!("[{}]", items.join(","))
}

/// A location as JSON: `{"script":..,"line":..,"column":..}` or `null`.
pub fn location_json(l: &Option<Location>) -> String {
    match l {
        Some(l) => {
            let mut out = format!("{{\"script\":{},\"line\":{},\"column\":{}", json_string(&l.script), l.line, l.column);
            if let Some(name) = &l.name {
                out.push_str(&format!(",\"name\":{}", json_string(name)));
            }
            if let Some(g) = &l.generated {
                out.push_str(&format!(",\"generated\":{{\"script\":{},\"line\":{},\"column\":{}}}", json_string(&g.script), g.line, g.column));
            }
            out.push('}');
            out
        }
        None => "null".to_string(),
    }
}

/// The heap as blocks of top-level objects per class (see [`Block`]): the 40 largest, the rest
/// as one "(other)" block.
fn composition(
    g: &HeapGraph,
    d: &Dominators,
    (first, list): &(Vec<u32>, Vec<u32>),
    synthetic: Option<u8>,
    (class_of, names): &(Vec<u32>, Vec<String>),
) -> mem::Fallible<Vec<Block>> {
    use std::collections::HashMap;
    let is_synthetic = |v: u32| v == ROOT || Some(g.node_type[v as usize]) == synthetic;
    /// Per class: (count, retained, per child class (count, retained)).
    type Tally = (u64, u64, HashMap<u32, (u64, u64)>);
    let mut blocks: HashMap<u32, Tally> = HashMap::new();
    // Descend through the synthetic roots; every non-synthetic node met is a top-level object.
    let mut stack = vec![ROOT];
    while let Some(v) = stack.pop() {
        for &c in &list[first[v as usize] as usize..first[v as usize + 1] as usize] {
            if is_synthetic(c) {
                stack.push(c);
                continue;
            }
            mem::map_room(&mut blocks, "the composition")?;
            let b = blocks.entry(class_of[c as usize]).or_default();
            b.0 += 1;
            b.1 = b.1.saturating_add(d.retained[c as usize]);
            for &k in &list[first[c as usize] as usize..first[c as usize + 1] as usize] {
                mem::map_room(&mut b.2, "the composition")?;
                let e = b.2.entry(class_of[k as usize]).or_default();
                e.0 += 1;
                e.1 = e.1.saturating_add(d.retained[k as usize]);
            }
        }
    }
    mem::slack("the composition")?;
    let mut out: Vec<Block> = blocks
        .into_iter()
        .map(|(class, (count, retained, kids))| {
            let mut children: Vec<(String, u64, u64)> = kids.into_iter().map(|(k, (n, r))| (names[k as usize].clone(), n, r)).collect();
            children.sort_by(|a, b| super::roots::name_rank(&a.0).cmp(&super::roots::name_rank(&b.0)).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0)));
            children.truncate(12);
            Block { class_name: names[class as usize].clone(), count, retained_size: retained, children }
        })
        .collect();
    out.sort_by(|a, b| b.retained_size.cmp(&a.retained_size).then(a.class_name.cmp(&b.class_name)));
    if out.len() > 40 {
        let rest = out.split_off(40);
        out.push(Block {
            class_name: "(other)".into(),
            count: rest.iter().map(|b| b.count).sum(),
            retained_size: rest.iter().map(|b| b.retained_size).sum(),
            children: Vec::new(),
        });
    }
    Ok(out)
}

/// Follows the heaviest dominated child while it holds at least half of its parent's memory.
fn mainly_in(d: &Dominators, (first, list): &(Vec<u32>, Vec<u32>), from: u32) -> Vec<u32> {
    let mut chain = Vec::new();
    let mut v = from;
    for _ in 0..12 {
        let kids = &list[first[v as usize] as usize..first[v as usize + 1] as usize];
        let Some(&heaviest) = kids.iter().max_by_key(|&&c| d.retained[c as usize]) else { break };
        if d.retained[heaviest as usize] * 2 < d.retained[v as usize] {
            break;
        }
        chain.push(heaviest);
        v = heaviest;
    }
    chain
}

pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Report {
    /// A readable summary for a terminal.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "heap: {} bytes in {} nodes, {} edges\n", thousands(self.total_size), thousands(self.nodes), thousands(self.edges));
        if self.suspects.is_empty() {
            let _ = writeln!(s, "suspects: no single object retains more than 10% of the heap\n");
        } else {
            let _ = writeln!(s, "suspects (objects retaining more than 10% of the heap):");
            for x in &self.suspects {
                let o = &x.object;
                let _ = write!(s, "  {} @{} retains {} bytes ({:.1}%)", one_line(&o.name), o.id, thousands(o.retained_size), x.percent);
                if let Some(m) = x.mainly_in.last() {
                    let _ = write!(s, ", mainly in {} @{}", one_line(&m.name), m.id);
                }
                let _ = writeln!(s);
                for r in std::iter::once(o).chain(x.mainly_in.last()) {
                    if let Some(l) = &r.location {
                        let _ = writeln!(s, "    {} is defined at {}", one_line(&r.name), one_line(&l.to_string()));
                    }
                }
                if !x.holds.is_empty() {
                    let _ = writeln!(s, "    holding: {}", contents_text(&x.holds));
                }
                if !x.retainer_path.is_empty() {
                    let steps: Vec<String> = x.retainer_path.iter().map(|(label, o)| format!("{} -> {} @{}", one_line(label), one_line(&o.name), o.id)).collect();
                    let _ = writeln!(s, "    path: (root) {}", steps.join(" "));
                }
            }
            let _ = writeln!(s);
        }
        let _ = writeln!(s, "{:<40} {:>10} {:>16} {:>16}", "class", "count", "shallow bytes", "retained bytes");
        for c in &self.classes {
            let _ = writeln!(s, "{:<40} {:>10} {:>16} {:>16}", truncate(&c.class_name, 40), thousands(c.count), thousands(c.shallow_size), thousands(c.retained_size));
        }
        let _ = writeln!(s, "\nlargest objects by retained size:");
        for o in &self.largest {
            let _ = writeln!(s, "  {:<40} @{:<10} {:>16}", truncate(&o.what(), 40), o.id, thousands(o.retained_size));
        }
        terminal_safe(s)
    }

    /// The same report as JSON.
    pub fn to_json(&self) -> String {
        let obj = |o: &ObjectRow| {
            format!(
                "{{\"id\":{},\"className\":{},\"name\":{},\"location\":{},\"selfSize\":{},\"retainedSize\":{}}}",
                o.id,
                json_string(&o.class_name),
                json_string(&o.name),
                location_json(&o.location),
                o.self_size,
                o.retained_size
            )
        };
        let classes: Vec<String> = self
            .classes
            .iter()
            .map(|c| format!("{{\"className\":{},\"count\":{},\"shallowSize\":{},\"retainedSize\":{}}}", json_string(&c.class_name), c.count, c.shallow_size, c.retained_size))
            .collect();
        let suspects: Vec<String> = self
            .suspects
            .iter()
            .map(|x| {
                let path: Vec<String> = x.retainer_path.iter().map(|(l, o)| format!("{{\"edge\":{},\"object\":{}}}", json_string(l), obj(o))).collect();
                format!(
                    "{{\"object\":{},\"percent\":{:.3},\"mainlyIn\":[{}],\"holds\":{},\"retainerPath\":[{}]}}",
                    obj(&x.object),
                    x.percent,
                    x.mainly_in.iter().map(obj).collect::<Vec<_>>().join(","),
                    contents_json(&x.holds),
                    path.join(",")
                )
            })
            .collect();
        let composition: Vec<String> = self
            .composition
            .iter()
            .map(|b| {
                let kids: Vec<String> = b.children.iter().map(|(c, n, r)| format!("{{\"className\":{},\"count\":{n},\"retainedSize\":{r}}}", json_string(c))).collect();
                format!("{{\"className\":{},\"count\":{},\"retainedSize\":{},\"children\":[{}]}}", json_string(&b.class_name), b.count, b.retained_size, kids.join(","))
            })
            .collect();
        format!(
            "{{\"nodes\":{},\"edges\":{},\"totalSize\":{},\"scriptRoot\":{},\"suspects\":[{}],\"classes\":[{}],\"largest\":[{}],\"composition\":[{}]}}",
            self.nodes,
            self.edges,
            self.total_size,
            json_string(&self.script_root),
            suspects.join(","),
            classes.join(","),
            self.largest.iter().map(obj).collect::<Vec<_>>().join(","),
            composition.join(",")
        )
    }
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    let s = &*one_line(s);
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

pub(crate) fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leaky_holder_is_the_suspect_with_its_array_and_path() {
        let raw = crate::snapshot::testutil::node_snapshot(
            "report",
            "class Client { constructor() { this.buffers = []; } }\n\
             globalThis.client = new Client();\n\
             for (let i = 0; i < 20000; i++) client.buffers.push({ i, data: 'x'.repeat(100) + i });",
        );
        let g = HeapGraph::from_raw(raw).unwrap();
        let r = analyze(&g, 20).unwrap();
        let total: u64 = g.total_self_size();
        assert_eq!(r.total_size, total);
        let s = r.suspects.iter().find(|s| s.object.class_name == "Client").expect("Client is a suspect");
        assert!(s.percent > 50.0, "Client holds most of the heap: {}", s.percent);
        assert_eq!(s.mainly_in.first().map(|o| o.class_name.as_str()), Some("Array"), "mainly in its array");
        let labels: Vec<&str> = s.retainer_path.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(labels.last(), Some(&"client"), "reached through the global property 'client': {labels:?}");
        let text = r.to_text();
        assert!(text.contains("Client @"), "{text}");
        assert!(text.contains(", mainly in "), "{text}");
        let json = r.to_json();
        assert!(json.starts_with("{\"nodes\":") && json.contains("\"className\":\"Client\""));
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\u0001é\"");
    }
}
