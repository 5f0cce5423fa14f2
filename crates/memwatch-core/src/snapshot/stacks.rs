//! Allocation stacks of new objects: for the classes that grew, where the objects still alive
//! were allocated, grouped by stack, most objects first. Needs a snapshot taken while V8's
//! allocation tracker ran (`HeapDiff({ stacks: true })`); on any other snapshot it finds none.
//! Not a profiler of all allocations: only objects alive in the snapshot count.

use std::collections::HashMap;

use super::graph::{Frame, HeapGraph};

/// Objects of one class allocated at one stack.
#[derive(Clone, Debug, PartialEq)]
pub struct AllocationSite {
    pub what: String,
    pub count: u64,
    pub bytes: u64,
    /// Innermost first.
    pub frames: Vec<Frame>,
}

impl AllocationSite {
    /// `+10000 LeakingClass allocated at handleRequest (app.js:42:3) <- route (app.js:80:1)`:
    /// the program's own frames, up to where Node's internals (`node:` scripts) begin, which
    /// are all the same (the module loader, the event loop) and are kept in `frames` only.
    pub fn describe(&self) -> String {
        let mut text = format!("+{} {} allocated at ", self.count, self.what);
        if self.frames.is_empty() {
            text.push_str("(no JavaScript stack)");
        }
        let internal = |f: &Frame| f.location.as_ref().is_some_and(|l| l.script.starts_with("node:"));
        let own = self.frames.iter().position(|f| !internal(f)).unwrap_or(0);
        let end = self.frames[own..].iter().position(internal).map_or(self.frames.len(), |i| own + i).max(1).min(self.frames.len());
        let shown: Vec<String> = self.frames[..end].iter().map(Frame::to_string).collect();
        text.push_str(&shown.join(" <- "));
        text
    }
}

/// For each class in `classes` (HeapDiff's `what` names), the `top` stacks that allocated most
/// of its objects for which `is_new(id)` holds, each at most `depth` frames; classes in the
/// order given, stacks most objects first.
pub fn allocation_sites(g: &HeapGraph, is_new: impl Fn(u64) -> bool, classes: &[String], top: usize, depth: usize) -> crate::snapshot::memory::Fallible<Vec<AllocationSite>> {
    use crate::snapshot::memory as mem;
    const WHAT: &str = "the allocation sites";
    if !g.has_allocation_stacks() || classes.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: HashMap<&str, usize> = classes.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
    // (class, stack's leaf trace node) -> (count, bytes, a node of the group).
    let mut groups: HashMap<(usize, Vec<Frame>), (u64, u64)> = HashMap::new();
    // Stacks are shared by many objects: resolve each trace node once.
    let mut frames_of: HashMap<u32, Vec<Frame>> = HashMap::new();
    for v in 0..g.node_count() as u32 {
        if v as usize % mem::EVERY == 0 {
            mem::check_margin(WHAT)?;
        }
        let type_name = g.type_name(v);
        let Some(what) = crate::summary::memwatch_name(type_name, g.string(g.node_name[v as usize])) else { continue };
        let Some(&class) = wanted.get(what) else { continue };
        if !is_new(g.node_id(v)) {
            continue;
        }
        mem::map_room(&mut frames_of, WHAT)?;
        let frames = frames_of.entry(g.trace_id(v)).or_insert_with(|| g.allocation_stack(v, depth)).clone();
        mem::map_room(&mut groups, WHAT)?;
        let e = groups.entry((class, frames)).or_insert((0, 0));
        e.0 += 1;
        e.1 = e.1.saturating_add(g.self_size(v));
    }
    let sites = groups.into_iter().map(|((class, frames), (count, bytes))| AllocationSite { what: classes[class].clone(), count, bytes, frames });
    let mut sites: Vec<AllocationSite> = mem::collect(sites, WHAT)?;
    sites.sort_unstable_by(|a, b| {
        let rank = |s: &AllocationSite| wanted[s.what.as_str()];
        rank(a).cmp(&rank(b)).then(b.count.cmp(&a.count)).then(a.frames.cmp(&b.frames))
    });
    let mut kept: HashMap<String, usize> = HashMap::new();
    sites.retain(|s| {
        let n = kept.entry(s.what.clone()).or_insert(0);
        *n += 1;
        *n <= top
    });
    Ok(sites)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::testutil::{node_snapshot_of_file, node_snapshot_of_file_with};

    const APP: &str = "
class LeakingClass {
  constructor(i) { this.i = i; }
}
const kept = [];
function handleRequest(i) {
  kept.push(new LeakingClass(i));
}
function route(n) {
  for (let i = 0; i < n; i++) handleRequest(i);
}
route(3000);
";

    #[test]
    fn new_objects_are_grouped_by_the_stack_that_allocated_them() {
        let (raw, _) = node_snapshot_of_file_with("stacks", APP, &["--track-heap-objects"]);
        assert!(!raw.trace_tree.is_empty() && raw.trace_node.len() == raw.node_count());
        let g = HeapGraph::from_raw(raw).expect("graph");
        let sites = allocation_sites(&g, |_| true, &["LeakingClass".to_string()], 3, 8).unwrap();
        let top = &sites[0];
        assert_eq!(top.what, "LeakingClass");
        assert_eq!(top.count, 3000, "{sites:?}");
        let names: Vec<&str> = top.frames.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(&names[..2], ["handleRequest", "route"], "{names:?}");
        // 1-based: `function handleRequest(i) {` is line 6 of app.js (the source opens with a newline).
        let loc = top.frames[0].location.as_ref().expect("located");
        assert!(loc.script.ends_with("app.js") && loc.line == 6, "{loc:?}");
        assert!(top.describe().starts_with("+3000 LeakingClass allocated at handleRequest (app.js:6:"), "{}", top.describe());
        // Objects that are not new are left out.
        assert!(allocation_sites(&g, |_| false, &["LeakingClass".to_string()], 3, 8).unwrap().is_empty());
    }

    #[test]
    fn a_snapshot_without_tracking_has_no_stacks() {
        let (raw, _) = node_snapshot_of_file("nostacks", APP);
        assert!(raw.trace_tree.is_empty() && raw.trace_node.is_empty());
        let g = HeapGraph::from_raw(raw).expect("graph");
        assert!(!g.has_allocation_stacks());
        assert!(allocation_sites(&g, |_| true, &["LeakingClass".to_string()], 3, 8).unwrap().is_empty());
    }
}
