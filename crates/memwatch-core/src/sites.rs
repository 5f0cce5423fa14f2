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
//! **What counts.** A reading counts only samples that have been through a full GC (V8 numbers
//! samples in allocation order; [`SiteHistory::cutoff`]), and the episode is measured over two
//! minutes at least ([`base_ms`]) counting only samples a minute old ([`MIN_AGE_MS`]), so that a
//! service's young garbage and medium-lived data do not pass for growth.
//!
//! Node ids are stable for as long as sampling runs (V8 keeps its tree), so captures are plain
//! `(node id, bytes)` lists; the frames are looked up in the newest tree.
//!
//! **Inlining.** V8 records physical frames only: once TurboFan inlines the leaking `render`
//! into its caller `handle`, new samples land on `handle`'s node, while those taken before (and
//! after any deoptimisation) land on `render <- handle`. One leak then shows as two growing
//! stacks, the caller often the larger. So a growing site whose node is an ancestor of another
//! growing site's node is folded into it (the descendant that grew most, when it grew at least
//! [`FOLD_MIN`] of the caller's growth), and the site says how many of its bytes came from its
//! callers' frames ([`Site::caller_bytes`]).

use std::collections::HashMap;

/// Sites are measured over at least this span before the 'leak' event, even when the detector's
/// window is shorter ([`base_ms`]).
pub const MIN_SPAN_MS: f64 = 120_000.0;

/// Since when a 'leak' whose window runs from `start_ms` to `end_ms` measures its sites: the
/// window's start, or `MIN_SPAN_MS` before its end when the window is shorter. A fast leak is
/// caught within seconds (a 13-s window), and over so short a span the sampled live bytes of a
/// service's medium-lived data (requests in flight, TTL caches) swing as much as the leak grows:
/// live, an in-flight request's rows 'grew' 35 MB against the leak's 26 MB. A leak's sampled
/// bytes only accumulate, so over two minutes it stands well clear of that noise.
pub fn base_ms(start_ms: f64, end_ms: f64) -> f64 {
    start_ms.min(end_ms - MIN_SPAN_MS)
}

/// Over a span of two minutes or more, sites count only samples at least this old
/// ([`SiteHistory::episode_cutoff`]).
pub const MIN_AGE_MS: f64 = 60_000.0;

/// A growing caller is folded into a growing callee only when the callee grew at least this
/// fraction of what the caller did: a callee's own noise (a few sampled objects still alive)
/// must not take the name of a caller that leaks by itself.
pub const FOLD_MIN: f64 = 0.1;

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
    /// Of `bytes`, those sampled in a caller of this stack's function (its code inlined there, or
    /// the caller's own allocations: V8's samples cannot tell them apart); 0 when none.
    pub caller_bytes: u64,
}

/// A capture: estimated live bytes per node at one time, sorted by node id.
#[derive(Clone, Debug)]
struct Capture {
    t_ms: f64,
    /// The newest sample id alive at this reading: samples up to it were allocated before it.
    max_id: u64,
    bytes: Vec<(u32, u64)>,
}

/// The newest tree's frames and the bounded, log-spaced captures.
#[derive(Debug)]
pub struct SiteHistory {
    max_captures: usize,
    captures: Vec<Capture>,
    nodes: HashMap<u32, RawNode>,
    survivors: Survivors,
}

/// Which samples a read may count: only those that have been through a full GC.
///
/// A read right after a full GC still sees every object allocated since, garbage included,
/// until a scavenge frees it: up to a young generation's worth (tens of MB, tens of samples),
/// more for the busiest stacks and varying from read to read. That swing is as large as a fast
/// leak's growth over a minute. V8 numbers samples in allocation order, so a read after full GC
/// number `g` counts the samples no newer than the newest one any read saw before that GC.
#[derive(Debug, Default, Clone, Copy)]
struct Survivors {
    /// The full GC the last read came after, and the cutoff it used.
    read_gc: Option<u64>,
    used: u64,
    /// The newest sample id any read saw.
    seen: u64,
}

fn capture_of(nodes: &[RawNode], t_ms: f64, max_id: u64) -> Capture {
    let mut bytes: Vec<(u32, u64)> = nodes.iter().filter(|n| n.self_bytes > 0).map(|n| (n.id, n.self_bytes)).collect();
    bytes.sort_unstable_by_key(|&(id, _)| id);
    Capture { t_ms, max_id, bytes }
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
        SiteHistory { max_captures: max_captures.max(2), captures: Vec::new(), nodes: HashMap::new(), survivors: Survivors::default() }
    }

    pub fn len(&self) -> usize {
        self.captures.len()
    }

    pub fn is_empty(&self) -> bool {
        self.captures.is_empty()
    }

    /// Forgets everything (sampling stopped: node and sample ids start over).
    pub fn clear(&mut self) {
        self.captures.clear();
        self.nodes.clear();
        self.survivors = Survivors::default();
    }

    /// The newest sample id a read of the tree made after full GC number `gc` may count (see
    /// [`Survivors`]): a second read after the same GC uses the first one's cutoff.
    pub fn cutoff(&self, gc: u64) -> u64 {
        match self.survivors.read_gc {
            Some(g) if g == gc => self.survivors.used,
            _ => self.survivors.seen,
        }
    }

    /// Records a read made after full GC number `gc`, which saw sample ids up to `max_id`.
    pub fn note_read(&mut self, gc: u64, max_id: u64) {
        if self.survivors.read_gc != Some(gc) {
            // The first read after this GC: what it (and any later one after the same GC) may
            // count is what had been seen before it.
            self.survivors.used = self.survivors.seen;
            self.survivors.read_gc = Some(gc);
        }
        self.survivors.seen = self.survivors.seen.max(max_id);
    }

    /// The newest capture at or before `start_ms`, else the oldest.
    fn base(&self, start_ms: f64) -> Option<&Capture> {
        self.captures.iter().rev().find(|c| c.t_ms <= start_ms).or(self.captures.first())
    }

    /// The cutoff for the reading a 'leak' whose window runs from `start_ms` to `end_ms` (read
    /// after full GC number `gc`) measures its sites with. When the span since the base capture
    /// ([`base_ms`]) is at least `2 * MIN_AGE_MS`, only samples at least [`MIN_AGE_MS`] old count:
    /// a service's medium-lived data (requests in flight, caches with TTLs of seconds) is then
    /// left out of the reading, and its level going up with the traffic does not look like
    /// growth, while a leak's samples count up to a minute before the end. Otherwise, only
    /// samples that have been through a full GC ([`SiteHistory::cutoff`]).
    pub fn episode_cutoff(&self, start_ms: f64, end_ms: f64, gc: u64) -> u64 {
        let survivors = self.cutoff(gc);
        let Some(base) = self.base(base_ms(start_ms, end_ms)) else { return survivors };
        if end_ms - base.t_ms < 2.0 * MIN_AGE_MS {
            return survivors;
        }
        self.captures.iter().rev().find(|c| c.t_ms <= end_ms - MIN_AGE_MS).map_or(survivors, |c| c.max_id.min(survivors))
    }

    /// Records the tree read at `t_ms`; drops the capture whose loss leaves the smallest gap
    /// relative to its age, so captures stay log-spaced: the newest and oldest are always kept.
    /// `max_id` is the newest sample id the reading saw ([`SiteHistory::note_read`]).
    pub fn capture(&mut self, nodes: Vec<RawNode>, t_ms: f64, max_id: u64) {
        let capture = capture_of(&nodes, t_ms, max_id);
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

    /// The nearest ancestor-or-self of `id` in the program's own code (not V8's pseudo-frames,
    /// not node's internals); `id` itself when there is none.
    fn program_node(&self, id: u32) -> u32 {
        let mut at = id;
        for _ in 0..10_000 {
            let Some(n) = self.nodes.get(&at) else { break };
            if !is_synthetic(n) && !is_internal(&frame_of(n)) {
                return at;
            }
            if n.parent == 0 || n.parent == at {
                break;
            }
            at = n.parent;
        }
        id
    }

    /// The proper ancestors of `id`, nearest first (bounded walk).
    fn ancestors(&self, id: u32) -> Vec<u32> {
        let mut out = Vec::new();
        let mut at = id;
        for _ in 0..10_000 {
            let Some(n) = self.nodes.get(&at) else { break };
            if n.parent == 0 || n.parent == at || n.parent == id {
                break;
            }
            at = n.parent;
            out.push(at);
        }
        out
    }

    /// Reads the tree at `now_ms` (it becomes the newest frames) and returns the `top` stacks
    /// whose bytes grew most since the newest capture at or before `start_ms` (the oldest one
    /// when none is that old; nothing, i.e. all live bytes, when there is no capture at all).
    /// A growing caller is folded into the callee below it that grew most (see the module's
    /// notes on inlining). Stacks that print alike (same frames after truncation) are merged.
    pub fn growth(&mut self, nodes: Vec<RawNode>, start_ms: f64, top: usize, max_frames: usize) -> Vec<Site> {
        let now = capture_of(&nodes, f64::INFINITY, 0);
        self.remember(nodes);
        let empty = Capture { t_ms: 0.0, max_id: 0, bytes: Vec::new() };
        let base = self.base(start_ms).unwrap_or(&empty);
        let before: HashMap<u32, u64> = base.bytes.iter().copied().collect();
        let grew: Vec<(u32, u64)> = now
            .bytes
            .iter()
            .map(|&(id, bytes)| (id, bytes.saturating_sub(before.get(&id).copied().unwrap_or(0))))
            .filter(|&(_, g)| g > 0)
            .collect();

        // Growth per program node, and each program node's largest growing node (where its
        // site's frames come from: an internal frame below it, such as node:events, is kept).
        let mut by_program: HashMap<u32, u64> = HashMap::new();
        let mut representative: HashMap<u32, (u64, u32)> = HashMap::new();
        let mut program_of: HashMap<u32, u32> = HashMap::new();
        for &(id, g) in &grew {
            let p = self.program_node(id);
            program_of.insert(id, p);
            let slot = by_program.entry(p).or_insert(0);
            *slot = slot.saturating_add(g);
            let rep = representative.entry(p).or_insert((g, id));
            if (g, std::cmp::Reverse(id)) > (rep.0, std::cmp::Reverse(rep.1)) {
                *rep = (g, id);
            }
        }
        // Each growing program node's callee to fold into: the growing program node below it
        // that grew most, if that is at least FOLD_MIN of its own growth.
        let mut callee: HashMap<u32, (u64, u32)> = HashMap::new();
        for (&b, &gb) in &by_program {
            for a in self.ancestors(b) {
                let Some(&ga) = by_program.get(&a) else { continue };
                if a == b || (gb as f64) < FOLD_MIN * ga as f64 {
                    continue;
                }
                let best = callee.entry(a).or_insert((gb, b));
                if (gb, std::cmp::Reverse(b)) > (best.0, std::cmp::Reverse(best.1)) {
                    *best = (gb, b);
                }
            }
        }
        // Follow chains (caller -> callee -> its callee...) to the deepest; bounded.
        let owner = |p: u32| {
            let mut at = p;
            for _ in 0..by_program.len() {
                match callee.get(&at) {
                    Some(&(_, b)) if b != at => at = b,
                    _ => break,
                }
            }
            at
        };

        let mut merged: HashMap<Vec<Frame>, (u64, u64)> = HashMap::new();
        for &(id, g) in &grew {
            let p = program_of[&id];
            let o = owner(p);
            let (site_node, from_caller) = if o == p { (id, 0) } else { (representative[&o].1, g) };
            let frames = self.frames(site_node, max_frames.max(1));
            let slot = merged.entry(frames).or_insert((0, 0));
            slot.0 = slot.0.saturating_add(g);
            slot.1 = slot.1.saturating_add(from_caller);
        }
        let mut sites: Vec<Site> = merged
            .into_iter()
            .map(|(frames, (bytes, caller_bytes))| {
                let frame = frames.iter().find(|f| !is_internal(f)).unwrap_or(&frames[0]).clone();
                Site { frame, bytes, frames, caller_bytes }
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
        h.capture(tree(1000, 0, 5000), 0.0, 0);
        h.capture(tree(2000, 0, 5000), 10_000.0, 0);
        h.capture(tree(9000, 4000, 5100), 20_000.0, 0);
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
        h.capture(tree(300, 0, 200), 1000.0, 0);
        let sites = h.growth(tree(800, 0, 200), 0.0, 10, 8);
        assert_eq!(sites.len(), 1);
        assert_eq!(sites[0].bytes, 500);
    }

    #[test]
    fn captures_stay_bounded_and_log_spaced_keeping_the_oldest_and_newest() {
        let mut h = SiteHistory::new(12);
        for i in 0..10_000u32 {
            h.capture(tree(u64::from(i), 0, 0), f64::from(i) * 1000.0, u64::from(i));
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

    /// The memo-cache leak as the live bench saw it: the request callback (server.js:11) into
    /// which TurboFan inlined `handle` and `render`, and the stacks from before optimisation.
    /// root -> callback(2) -> handle(3) -> render(4)
    ///                     -> touch(5, churn: still filling a little)
    ///                     -> stringify (node internal, 6)
    fn inlined(callback: u64, handle: u64, render: u64, touch: u64, internal: u64) -> Vec<RawNode> {
        vec![
            node(1, 0, 0, "(root)", "", 0),
            node(2, 1, callback, "", "/srv/server.js", 11),
            node(3, 2, handle, "handle", "/srv/memo-cache.js", 19),
            node(4, 3, render, "render", "/srv/memo-cache.js", 5),
            node(5, 2, touch, "touch", "/srv/churn.js", 22),
            node(6, 2, internal, "stringify", "node:internal/json", 1),
        ]
    }

    #[test]
    fn a_leak_inlined_into_its_caller_is_named_by_the_leaking_callee() {
        let mut h = SiteHistory::new(8);
        h.capture(inlined(1_000, 10, 2_000, 500, 100), 0.0, 0);
        // The callback grew 37,700 (inlined render), its internal child 300; render's own stack
        // grew 26,700, handle's 40; the churn's touch 900 (under FOLD_MIN of anything above it).
        let sites = h.growth(inlined(38_700, 50, 28_700, 1_400, 400), 0.0, 5, 8);
        assert_eq!(sites[0].frame.function, "render");
        assert_eq!(sites[0].frame.line, 5);
        assert_eq!(sites[0].frames.iter().map(|f| f.function.as_str()).collect::<Vec<_>>(), ["render", "handle", "(anonymous)"]);
        // Everything its callers' program nodes grew is counted at render, and said to be so.
        assert_eq!(sites[0].bytes, 26_700 + 40 + 37_700 + 300);
        assert_eq!(sites[0].caller_bytes, 40 + 37_700 + 300);
        // The churn below the callback is its own, smaller site; nothing is counted twice.
        assert_eq!(sites.len(), 2);
        assert_eq!(sites[1].frame.function, "touch");
        assert_eq!(sites[1].bytes, 900);
        assert_eq!(sites[1].caller_bytes, 0);
    }

    #[test]
    fn a_caller_that_leaks_by_itself_keeps_its_name_over_a_callee_that_barely_grew() {
        let mut h = SiteHistory::new(8);
        h.capture(inlined(1_000, 0, 0, 0, 0), 0.0, 0);
        // The callback grew 50,000; handle below it 4,000 (8%): too little to take its bytes.
        let sites = h.growth(inlined(51_000, 0, 4_000, 0, 0), 0.0, 5, 8);
        assert_eq!(sites[0].frame.function, "(anonymous)");
        assert_eq!(sites[0].frame.line, 11);
        assert_eq!(sites[0].bytes, 50_000);
        assert_eq!(sites[0].caller_bytes, 0);
        assert_eq!(sites[1].frame.function, "render");
        assert_eq!(sites[1].bytes, 4_000);
    }

    #[test]
    fn a_caller_folds_into_the_callee_that_grew_most_and_chains_fold_to_the_deepest() {
        let mut h = SiteHistory::new(8);
        h.capture(inlined(0, 0, 0, 0, 0), 0.0, 0);
        // callback 10,000 -> handle 3,000 -> render 2,000; touch 2,500. The callback's best
        // callee is handle (3,000 > 2,500 > 2,000), and handle's is render (2,000 >= 300).
        let sites = h.growth(inlined(10_000, 3_000, 2_000, 2_500, 0), 0.0, 5, 8);
        assert_eq!(sites[0].frame.function, "render");
        assert_eq!(sites[0].bytes, 15_000);
        assert_eq!(sites[0].caller_bytes, 13_000);
        assert_eq!(sites[1].frame.function, "touch");
        assert_eq!(sites[1].bytes, 2_500);
        assert_eq!(sites.iter().map(|s| s.bytes).sum::<u64>(), 17_500);
    }

    #[test]
    fn sites_are_measured_over_two_minutes_at_least() {
        assert_eq!(base_ms(1_000_000.0, 1_013_000.0), 1_013_000.0 - 120_000.0);
        assert_eq!(base_ms(1_000_000.0, 1_300_000.0), 1_000_000.0);
    }

    #[test]
    fn reads_count_only_samples_that_have_been_through_a_full_gc() {
        let mut h = SiteHistory::new(4);
        // Before any read nothing is known to have survived.
        assert_eq!(h.cutoff(1), 0);
        h.note_read(1, 500);
        // After the next full GC, everything the first read saw has been through one.
        assert_eq!(h.cutoff(2), 500);
        h.note_read(2, 900);
        // A second read after the same GC (the 'leak' right after a capture) keeps its cutoff:
        // samples 501-900 are as young as they were.
        assert_eq!(h.cutoff(2), 500);
        h.note_read(2, 950);
        assert_eq!(h.cutoff(3), 950);
        // A GC count that jumps (GCs without reads) changes nothing about what is known.
        assert_eq!(h.cutoff(40), 950);
        h.clear();
        assert_eq!(h.cutoff(41), 0, "sample ids start over with the profiler");
    }

    /// A reading every 10 s from t = 0 to `last_s`, each after its own full GC (number i + 1);
    /// sample ids grow by 100 per 10 s.
    fn readings(last_s: u32) -> SiteHistory {
        let mut h = SiteHistory::new(64);
        for i in 0..=last_s / 10 {
            let max_id = u64::from(i) * 100 + 100;
            h.note_read(u64::from(i) + 1, max_id);
            h.capture(tree(0, 0, 0), f64::from(i) * 10_000.0, max_id);
        }
        h
    }

    #[test]
    fn over_two_minutes_or_more_only_samples_a_minute_old_count() {
        // A 'leak' at 300 s whose window began at 280 s: the sites are measured from 180 s (two
        // minutes before the end); samples newer than the reading at 240 s (id 2,500) do not count.
        assert_eq!(readings(300).episode_cutoff(280_000.0, 300_000.0, 31), 2_500);
        // The same at 100 s, when fewer than two minutes of readings exist: survivors only.
        let young = readings(100);
        assert_eq!(young.episode_cutoff(90_000.0, 100_000.0, 12), young.cutoff(12));
        assert_eq!(young.cutoff(12), 1_100);
        // Nothing captured yet: survivors only (nothing).
        assert_eq!(SiteHistory::new(4).episode_cutoff(0.0, 1.0, 1), 0);
    }

    #[test]
    fn hostile_trees_neither_loop_nor_panic() {
        let mut h = SiteHistory::new(2);
        let cyclic = vec![node(1, 2, 10, "a", "x.js", 1), node(2, 1, 10, "b", "x.js", 2), node(3, 3, 10, "", "", -5)];
        let sites = h.growth(cyclic, 0.0, 10, 4);
        assert_eq!(sites.len(), 3);
        assert!(sites.iter().all(|s| !s.frames.is_empty() && s.frames.len() <= 4));
        assert!(h.growth(Vec::new(), 0.0, 10, 4).is_empty());
        h.capture(tree(1, 1, 1), -100.0, 0); // time going backwards is ignored, not a panic
        h.clear();
        assert!(h.is_empty());
    }
}
