//! Allocation sites from V8's sampling heap profiler, and their growth over a leak episode.
//!
//! While sampling runs, V8 keeps a call tree of the stacks that allocated sampled objects still
//! alive; each node carries its *self* bytes (samples whose innermost frame it is, scaled to an
//! estimate of real bytes). The monitor reads that tree now and then ([`SiteHistory::capture`])
//! and keeps a few compact captures, dense for the recent past and sparse for the distant
//! (log-spaced, bounded). When 'leak' fires, the tree is read once more and compared with the
//! newest capture taken at or before the episode's start ([`SiteHistory::growth`]): the stacks
//! whose live bytes grew most are the leak's allocation sites.
//!
//! Node ids are stable for as long as sampling runs (V8 keeps its tree), so captures are plain
//! `(node id, bytes)` lists; the frames are looked up in the newest tree.

use std::collections::HashMap;

/// One node of the sampling profiler's call tree, as the V8 boundary hands it over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawNode {
    pub id: u32,
    /// 0 for the root's children.
    pub parent: u32,
    pub self_bytes: u64,
    pub script_id: i32,
    /// 1-based; 0 when V8 has none.
    pub line: i32,
    pub column: i32,
    pub name: String,
    pub script: String,
}

/// One stack frame of a site.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Frame {
    /// The function as DevTools names it: `(anonymous)` for an unnamed one.
    pub function: String,
    /// The script's name as V8 has it (a path, a `file://` or `node:` URL); empty for V8's own
    /// frames such as `(V8 API)`.
    pub script: String,
    pub line: u32,
    pub column: u32,
}

/// An allocation site whose sampled live bytes grew.
#[derive(Clone, Debug, PartialEq)]
pub struct Site {
    /// The innermost frame in the program's own code (not `node:` internals, not V8's own
    /// frames) when the stack has one, else the innermost frame.
    pub frame: Frame,
    /// Growth of the estimated live bytes allocated by this stack over the episode.
    pub bytes: u64,
    /// Innermost first, at most `max_frames`.
    pub frames: Vec<Frame>,
}

/// A capture: estimated live bytes per node at one time, sorted by node id.
#[derive(Clone, Debug)]
struct Capture {
    t_ms: f64,
    bytes: Vec<(u32, u64)>,
}

/// The newest tree's frames and the bounded, log-spaced captures.
#[derive(Debug)]
pub struct SiteHistory {
    max_captures: usize,
    captures: Vec<Capture>,
    nodes: HashMap<u32, RawNode>,
}

fn capture_of(nodes: &[RawNode], t_ms: f64) -> Capture {
    let mut bytes: Vec<(u32, u64)> = nodes.iter().filter(|n| n.self_bytes > 0).map(|n| (n.id, n.self_bytes)).collect();
    bytes.sort_unstable_by_key(|&(id, _)| id);
    Capture { t_ms, bytes }
}

/// V8's own pseudo-frames: `(root)`, `(V8 API)`, `(GC)`, `(BYTECODE_COMPILER)`, `(PROGRAM)`...
fn is_synthetic(n: &RawNode) -> bool {
    n.script_id == 0 && n.script.is_empty() && n.name.starts_with('(') && n.name.ends_with(')')
}

fn is_internal(f: &Frame) -> bool {
    f.script.is_empty() || f.script.starts_with("node:") || f.script.starts_with("internal/")
}

fn frame_of(n: &RawNode) -> Frame {
    Frame {
        function: if n.name.is_empty() { "(anonymous)".to_string() } else { n.name.clone() },
        script: n.script.clone(),
        line: u32::try_from(n.line).unwrap_or(0),
        column: u32::try_from(n.column).unwrap_or(0),
    }
}

impl SiteHistory {
    /// Keeps at most `max_captures` (at least 2) captures.
    pub fn new(max_captures: usize) -> Self {
        SiteHistory { max_captures: max_captures.max(2), captures: Vec::new(), nodes: HashMap::new() }
    }

    pub fn len(&self) -> usize {
        self.captures.len()
    }

    pub fn is_empty(&self) -> bool {
        self.captures.is_empty()
    }

    /// Forgets everything (sampling stopped: node ids start over).
    pub fn clear(&mut self) {
        self.captures.clear();
        self.nodes.clear();
    }

    /// Records the tree read at `t_ms`; drops the capture whose loss leaves the smallest gap
    /// relative to its age, so captures stay log-spaced: the newest and oldest are always kept.
    pub fn capture(&mut self, nodes: Vec<RawNode>, t_ms: f64) {
        let capture = capture_of(&nodes, t_ms);
        self.remember(nodes);
        if self.captures.last().is_some_and(|c| c.t_ms > t_ms) {
            return; // time went backwards: keep what is ordered
        }
        self.captures.push(capture);
        while self.captures.len() > self.max_captures {
            let n = self.captures.len();
            let mut best = 1;
            let mut best_score = f64::INFINITY;
            for i in 1..n - 1 {
                let gap = self.captures[i + 1].t_ms - self.captures[i - 1].t_ms;
                let age = (t_ms - self.captures[i].t_ms).max(1.0);
                let score = gap / age;
                if score < best_score {
                    best_score = score;
                    best = i;
                }
            }
            self.captures.remove(best);
        }
    }

    fn remember(&mut self, nodes: Vec<RawNode>) {
        self.nodes.clear();
        self.nodes.extend(nodes.into_iter().map(|n| (n.id, n)));
    }

    /// The stack of `id`, innermost first, without V8's pseudo-frames; at most `max` frames.
    fn frames(&self, id: u32, max: usize) -> Vec<Frame> {
        let mut out = Vec::new();
        let mut at = id;
        // The tree has no cycles, but a hostile or broken input must not loop: bounded walk.
        for _ in 0..10_000 {
            let Some(n) = self.nodes.get(&at) else { break };
            if !is_synthetic(n) && out.len() < max {
                out.push(frame_of(n));
            }
            if n.parent == 0 || n.parent == at {
                break;
            }
            at = n.parent;
        }
        if out.is_empty() {
            if let Some(n) = self.nodes.get(&id) {
                out.push(frame_of(n));
            }
        }
        out
    }

    /// Reads the tree at `now_ms` (it becomes the newest frames) and returns the `top` stacks
    /// whose bytes grew most since the newest capture at or before `start_ms` (the oldest one
    /// when none is that old; nothing, i.e. all live bytes, when there is no capture at all).
    /// Stacks that print alike (same frames after truncation) are merged.
    pub fn growth(&mut self, nodes: Vec<RawNode>, start_ms: f64, top: usize, max_frames: usize) -> Vec<Site> {
        let now = capture_of(&nodes, f64::INFINITY);
        self.remember(nodes);
        let empty = Capture { t_ms: 0.0, bytes: Vec::new() };
        let base = self.captures.iter().rev().find(|c| c.t_ms <= start_ms).or(self.captures.first()).unwrap_or(&empty);
        let before: HashMap<u32, u64> = base.bytes.iter().copied().collect();
        let mut merged: HashMap<Vec<Frame>, u64> = HashMap::new();
        for &(id, bytes) in &now.bytes {
            let grew = bytes.saturating_sub(before.get(&id).copied().unwrap_or(0));
            if grew == 0 {
                continue;
            }
            let frames = self.frames(id, max_frames.max(1));
            let slot = merged.entry(frames).or_insert(0);
            *slot = slot.saturating_add(grew);
        }
        let mut sites: Vec<Site> = merged
            .into_iter()
            .map(|(frames, bytes)| {
                let frame = frames.iter().find(|f| !is_internal(f)).unwrap_or(&frames[0]).clone();
                Site { frame, bytes, frames }
            })
            .collect();
        sites.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.frames.cmp(&b.frames)));
        sites.truncate(top);
        sites
    }
}

/// `fn (script:line:col)` for a frame, as stacks print in Node.
pub fn frame_text(f: &Frame) -> String {
    if f.script.is_empty() {
        return f.function.clone();
    }
    if f.line == 0 {
        return format!("{} ({})", f.function, f.script);
    }
    format!("{} ({}:{}:{})", f.function, f.script, f.line, f.column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: u32, parent: u32, bytes: u64, name: &str, script: &str, line: i32) -> RawNode {
        RawNode { id, parent, self_bytes: bytes, script_id: if script.is_empty() { 0 } else { 7 }, line, column: 3, name: name.into(), script: script.into() }
    }

    /// root(1) -> main(2, app.js:1) -> handler(3, app.js:10) -> push (node:internal, 4)
    ///                              -> cache(5, app.js:20)
    fn tree(handler: u64, internal: u64, cache: u64) -> Vec<RawNode> {
        vec![
            node(1, 0, 0, "(root)", "", 0),
            node(2, 1, 100, "main", "/srv/app.js", 1),
            node(3, 2, handler, "handler", "/srv/app.js", 10),
            node(4, 3, internal, "_addListener", "node:events", 500),
            node(5, 2, cache, "", "/srv/app.js", 20),
            node(6, 1, 50, "(V8 API)", "", 0),
        ]
    }

    #[test]
    fn growth_ranks_the_stacks_that_grew_most_since_the_episode_began() {
        let mut h = SiteHistory::new(8);
        h.capture(tree(1000, 0, 5000), 0.0);
        h.capture(tree(2000, 0, 5000), 10_000.0);
        h.capture(tree(9000, 4000, 5100), 20_000.0);
        // Episode from t=10 s: handler grew 8000 (from 2000 at the capture at 10 s), the
        // internal frame 4000, the cache 100; main and (V8 API) not at all.
        let sites = h.growth(tree(10_000, 6000, 5100), 10_000.0, 5, 8);
        assert_eq!(sites.len(), 3);
        assert_eq!(sites[0].bytes, 8000);
        assert_eq!(sites[0].frame.function, "handler");
        assert_eq!(sites[0].frame.line, 10);
        assert_eq!(sites[0].frames.iter().map(|f| f.function.as_str()).collect::<Vec<_>>(), ["handler", "main"]);
        // An allocation inside node's internals is named by the program's own innermost frame,
        // with the internal frame kept first in the stack.
        assert_eq!(sites[1].bytes, 6000);
        assert_eq!(sites[1].frame.function, "handler");
        assert_eq!(sites[1].frames[0].script, "node:events");
        assert_eq!(sites[2].frame.function, "(anonymous)");
        assert_eq!(frame_text(&sites[2].frame), "(anonymous) (/srv/app.js:20:3)");
    }

    #[test]
    fn before_any_old_enough_capture_the_oldest_is_the_base_and_with_none_all_live_bytes_count() {
        let mut h = SiteHistory::new(4);
        let all = h.growth(tree(300, 0, 200), 5.0, 10, 8);
        assert_eq!(all.iter().map(|s| s.bytes).sum::<u64>(), 300 + 200 + 100 + 50);
        h.capture(tree(300, 0, 200), 1000.0);
        let sites = h.growth(tree(800, 0, 200), 0.0, 10, 8);
        assert_eq!(sites.len(), 1);
        assert_eq!(sites[0].bytes, 500);
    }

    #[test]
    fn captures_stay_bounded_and_log_spaced_keeping_the_oldest_and_newest() {
        let mut h = SiteHistory::new(12);
        for i in 0..10_000u32 {
            h.capture(tree(u64::from(i), 0, 0), f64::from(i) * 1000.0);
        }
        assert_eq!(h.len(), 12);
        let t: Vec<f64> = h.captures.iter().map(|c| c.t_ms).collect();
        assert_eq!(t[0], 0.0);
        assert_eq!(*t.last().unwrap(), 9_999_000.0);
        // Dense recently, sparse long ago: each gap at least as wide as the one after it, roughly.
        let gaps: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps[0] > 10.0 * gaps[gaps.len() - 1], "gaps {gaps:?}");
        // An episode that began 30 s ago finds a base within a few captures' reach of it.
        let start = 9_999_000.0 - 30_000.0;
        let base = h.captures.iter().rev().find(|c| c.t_ms <= start).unwrap().t_ms;
        assert!(start - base < 60_000.0, "base {base} for start {start}");
    }

    #[test]
    fn hostile_trees_neither_loop_nor_panic() {
        let mut h = SiteHistory::new(2);
        let cyclic = vec![node(1, 2, 10, "a", "x.js", 1), node(2, 1, 10, "b", "x.js", 2), node(3, 3, 10, "", "", -5)];
        let sites = h.growth(cyclic, 0.0, 10, 4);
        assert_eq!(sites.len(), 3);
        assert!(sites.iter().all(|s| !s.frames.is_empty() && s.frames.len() <= 4));
        assert!(h.growth(Vec::new(), 0.0, 10, 4).is_empty());
        h.capture(tree(1, 1, 1), -100.0); // time going backwards is ignored, not a panic
        h.clear();
        assert!(h.is_empty());
    }
}
