//! Glue for heap snapshots on demand and snapshot comparisons: `writeSnapshot` (0600, written
//! under a temporary name and renamed, so no half-written file ever carries the final name),
//! HeapDiff's retainer paths (the live snapshot streamed into the core reader on a second
//! thread, never held as one string), and the `diff` / `leaks` commands over files.

use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use memwatch_core::output::AtomicFile;
use memwatch_core::snapshot::compare::{diff, leaks, IdTable};
use memwatch_core::snapshot::graph::HeapGraph;
use memwatch_core::snapshot::paths::samples_with_paths;
use memwatch_core::snapshot::roots::leak_roots;
use memwatch_core::snapshot::stacks::allocation_sites;
use memwatch_core::snapshot::progress::{Progress, Stop};
use memwatch_core::snapshot::{load, read_snapshot};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::heapdiff::HeapSummary;
use crate::monitor::{current_isolate, Monitor};

/// Writes a heap snapshot of this isolate to `path` (absolute, decided by the JS side) with
/// mode 0600, through the core's one writer (exclusive temp file, fsync, rename). Returns the
/// path. The file appears under its final name only when complete.
#[napi]
pub fn write_snapshot(env: Env, path: String) -> Result<String> {
    let target = PathBuf::from(&path);
    // The writer's errors read "cannot write <path>: why"; say what was being written.
    let prefix = format!("cannot write {}: ", target.display());
    let fail = |why: String| {
        let why = why.strip_prefix(&prefix).unwrap_or(&why);
        Error::from_reason(format!("memwatch-rs: cannot write a heap snapshot to {path}: {why}"))
    };
    let mut file = AtomicFile::create(&target, &[]).map_err(fail)?;
    let mut io_error: Option<io::Error> = None;
    let isolate = current_isolate()?;
    let monitor = Monitor::of(&env)?;
    let taken = {
        let mut out = BufWriter::with_capacity(1 << 20, file.file());
        let taken = monitor.suppressed(|| {
            let mut write = |chunk: &[u8]| match out.write_all(chunk) {
                Ok(()) => true,
                Err(e) => {
                    io_error = Some(e);
                    false
                }
            };
            isolate.heap_snapshot(0, None, Some(&mut write))
        });
        if io_error.is_none() {
            if let Err(e) = out.flush() {
                io_error = Some(e);
            }
        }
        taken
    };
    match (taken, io_error) {
        (_, Some(e)) => Err(fail(e.to_string())),
        (Err(e), None) => Err(fail(e)),
        (Ok(_), None) => file.commit().map_err(fail).map(|()| path),
    }
}

/// Writes `contents` to `path` through the core's one writer (0600, complete or not at all,
/// never through a planted link), refusing a `path` that is one of `inputs`.
#[napi]
pub fn write_file(path: String, contents: String, inputs: Vec<String>) -> Result<String> {
    let inputs: Vec<&Path> = inputs.iter().map(Path::new).collect();
    AtomicFile::write_all(Path::new(&path), &inputs, contents.as_bytes()).map_err(|e| Error::from_reason(format!("memwatch-rs: {e}")))?;
    Ok(path)
}

/// `Read` over chunks arriving on a channel (the end of the channel is the end of input).
struct ChunkReader {
    rx: mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.chunk.len() {
            match self.rx.recv() {
                Ok(next) => {
                    self.chunk = next;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Takes a heap snapshot like `takeHeapSummary`, and also reads the same snapshot into the
/// analysis graph (streamed to a reader thread as V8 serializes it), kept on the summary for
/// [`heap_diff_retainers`].
#[napi]
pub fn take_heap_summary_with_graph(env: Env) -> Result<HeapSummary> {
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(8);
    let reader = std::thread::Builder::new()
        .name("memwatch-rs snapshot reader".into())
        .spawn(move || {
            read_snapshot(ChunkReader { rx, chunk: Vec::new(), pos: 0 }, None)
                .map_err(|e| e.to_string())
                .and_then(HeapGraph::from_raw)
                .map(|mut g| {
                    // This process's own heap: full paths, which node's source maps know.
                    g.show_absolute_scripts();
                    g
                })
        })
        .map_err(|e| Error::from_reason(format!("memwatch-rs: HeapDiff failed: {e}")))?;
    let mut sender = Some(tx);
    let mut write = |chunk: &[u8]| sender.as_ref().is_some_and(|tx| tx.send(chunk.to_vec()).is_ok());
    let summary = crate::heapdiff::take_summary(&env, Some(&mut write));
    sender.take();
    let graph = reader.join().map_err(|_| Error::from_reason("memwatch-rs: HeapDiff failed: the snapshot reader crashed"))?;
    // A reader that gave up stops the writing too: its reason is the one worth telling.
    let graph = graph.map_err(|e| Error::from_reason(format!("memwatch-rs: HeapDiff could not read its own snapshot: {e}")))?;
    let mut summary = summary?;
    summary.attach_graph(&env, graph)?;
    Ok(summary)
}

#[napi(object)]
pub struct RetainerStep {
    pub edge: String,
    pub class_name: String,
    pub id: f64,
}

#[napi(object)]
pub struct RetainerSample {
    pub what: String,
    pub id: f64,
    pub path: String,
    pub steps: Vec<RetainerStep>,
    /// `file:line:col` of the sample's constructor or function; null when V8 recorded none.
    pub location: Either<String, Null>,
}

/// For each class in `classes`: the newest instance in `after` allocated since `before`, and
/// its shortest retainer path. Frees `after`'s graph.
#[napi]
pub fn heap_diff_retainers(env: Env, before: &HeapSummary, after: &mut HeapSummary, classes: Vec<String>) -> Result<Vec<RetainerSample>> {
    let graph = after
        .take_graph(&env)?
        .ok_or_else(|| Error::from_reason("memwatch-rs: this HeapDiff's end snapshot kept no graph"))?;
    let before_ids = before.ids();
    let is_new = |id: u64| u32::try_from(id).map_or(true, |id| before_ids.binary_search(&id).is_err());
    let samples = samples_with_paths(&graph, is_new, &classes).map_err(|e| Error::from_reason(format!("memwatch-rs: HeapDiff retainers: {e}")))?;
    Ok(samples
        .into_iter()
        .map(|s| RetainerSample {
            what: s.what,
            id: s.id as f64,
            path: s.path,
            steps: s.steps.into_iter().map(|(edge, class_name, id)| RetainerStep { edge, class_name, id: id as f64 }).collect(),
            location: s.location.map_or(Either::B(Null), |l| Either::A(l.to_string())),
        })
        .collect())
}

#[napi(object)]
pub struct SourcePosition {
    pub script: String,
    pub line: u32,
    pub column: u32,
}

#[napi(object)]
pub struct CodeLocation {
    pub script: String,
    pub line: u32,
    pub column: u32,
    /// Where the generated code is, when the location came through a source map.
    pub generated: Option<SourcePosition>,
}

fn code_location(l: memwatch_core::snapshot::graph::Location) -> CodeLocation {
    CodeLocation {
        generated: l.generated.map(|g| SourcePosition { script: g.script, line: g.line, column: g.column }),
        script: l.script,
        line: l.line,
        column: l.column,
    }
}

#[napi(object)]
pub struct LeakPart {
    pub what: String,
    pub count: f64,
}

#[napi(object)]
pub struct LeakRoot {
    /// memwatch's name (matches HeapDiff's `what`).
    pub what: String,
    /// As a person names it: `onTick()` for a closure, else the class.
    pub label: String,
    pub count: f64,
    /// The roots and all their parts, bytes.
    pub bytes: f64,
    /// What the parts are, the program's own names first.
    pub parts: Vec<LeakPart>,
    pub location: Option<CodeLocation>,
    pub id: f64,
}

/// The roots of what is new in `after` since `before`: new objects no other new object holds,
/// grouped, each with what it holds (see `memwatch_core::snapshot::roots`). Keeps `after`'s graph.
#[napi]
pub fn heap_diff_roots(before: &HeapSummary, after: &HeapSummary, top: u32) -> Result<Vec<LeakRoot>> {
    let graph = after.graph().ok_or_else(|| Error::from_reason("memwatch-rs: this HeapDiff's end snapshot kept no graph"))?;
    let before_ids = before.ids();
    let is_new = |id: u64| u32::try_from(id).map_or(true, |id| before_ids.binary_search(&id).is_err());
    let roots = leak_roots(graph, is_new, top.max(1) as usize).map_err(|e| Error::from_reason(format!("memwatch-rs: HeapDiff roots: {e}")))?;
    Ok(roots
        .into_iter()
        .map(|r| LeakRoot {
            what: r.what,
            label: r.label,
            count: r.count as f64,
            bytes: r.bytes as f64,
            parts: r.parts.into_iter().map(|(what, count)| LeakPart { what, count: count as f64 }).collect(),
            location: r.location.map(code_location),
            id: r.sample_id as f64,
        })
        .collect())
}

#[napi(object)]
pub struct StackFrame {
    pub function: String,
    /// The script (relative to the scripts' common root), null when V8 knows none.
    pub script: Either<String, Null>,
    /// 1-based; 0 when unknown.
    pub line: u32,
    pub column: u32,
}

#[napi(object)]
pub struct AllocationStack {
    pub what: String,
    pub count: f64,
    pub bytes: f64,
    /// Innermost first.
    pub frames: Vec<StackFrame>,
    /// `+10000 LeakingClass allocated at handleRequest (app.js:42:3) <- route (app.js:80:1)`.
    pub text: String,
}

/// For each class in `classes`: the `top` allocation stacks of its objects in `after` that are
/// new since `before`, `depth` frames each. Needs `after` taken with its graph while V8's
/// allocation tracker ran; with `release`, the graph is freed afterwards.
#[napi]
pub fn heap_diff_stacks(
    env: Env,
    before: &HeapSummary,
    after: &mut HeapSummary,
    classes: Vec<String>,
    top: u32,
    depth: u32,
    release: bool,
) -> Result<Vec<AllocationStack>> {
    let graph = after.graph().ok_or_else(|| Error::from_reason("memwatch-rs: this HeapDiff's end snapshot kept no graph"))?;
    let before_ids = before.ids();
    let is_new = |id: u64| u32::try_from(id).map_or(true, |id| before_ids.binary_search(&id).is_err());
    let sites = allocation_sites(graph, is_new, &classes, top.max(1) as usize, depth.clamp(1, 64) as usize)
        .map_err(|e| Error::from_reason(format!("memwatch-rs: HeapDiff stacks: {e}")))?;
    let out = sites
        .into_iter()
        .map(|s| AllocationStack {
            text: s.describe(),
            what: s.what,
            count: s.count as f64,
            bytes: s.bytes as f64,
            frames: s
                .frames
                .into_iter()
                .map(|f| {
                    let (script, line, column) = match f.location {
                        Some(l) => (Either::A(l.script), l.line, l.column),
                        None => (Either::B(Null), 0, 0),
                    };
                    StackFrame { function: f.function, script, line, column }
                })
                .collect(),
        })
        .collect();
    if release {
        after.take_graph(&env)?;
    }
    Ok(out)
}

#[napi(object)]
pub struct CompareOptions {
    pub top: u32,
    pub json: bool,
    pub progress: bool,
    /// Also the classes whose new and deleted objects cancel out (diff).
    pub all: Option<bool>,
    /// Locations through the scripts' source maps (default true).
    pub source_maps: Option<bool>,
    /// Give up after this many milliseconds (none: no limit).
    pub timeout_ms: Option<u32>,
}

fn load_ids(path: &str, progress: &mut Progress, source_maps: bool) -> std::result::Result<IdTable, String> {
    let mut g = load(Path::new(path), progress).map_err(|e| format!("{path}: {e}"))?;
    g.set_source_maps(source_maps);
    IdTable::new(&g).map_err(|e| format!("{path}: {e}"))
}

/// A progress with the options' time limit.
fn progress_for(options: &CompareOptions) -> Progress {
    let mut progress = Progress::new(options.progress);
    if let Some(ms) = options.timeout_ms {
        progress.stop = Stop::after(std::time::Duration::from_millis(u64::from(ms)));
    }
    progress
}

/// `memwatch-rs diff before after`: per-class added/removed counts and sizes by node id.
#[napi]
pub fn diff_snapshots(before: String, after: String, options: CompareOptions) -> Result<String> {
    let mut progress = progress_for(&options);
    let _slot = memwatch_core::snapshot::memory::exclusive();
    let maps = options.source_maps.unwrap_or(true);
    let top = options.top.max(1) as usize;
    let result = load_ids(&before, &mut progress, maps).and_then(|b| {
        // The after snapshot as a graph too: what is new at the top (roots) needs its edges.
        let mut g = load(Path::new(&after), &mut progress).map_err(|e| format!("{after}: {e}"))?;
        g.set_source_maps(maps);
        let a = IdTable::new(&g).map_err(|e| format!("{after}: {e}"))?;
        progress.phase("comparing")?;
        let mut report = diff(&b, &a)?;
        drop(a);
        report.roots = leak_roots(&g, |id| !b.contains(id), top.min(10))?;
        Ok(report)
    });
    progress.finish();
    let report = result.map_err(|e| Error::from_reason(format!("memwatch-rs: cannot diff: {e}")))?;
    let top = options.top.max(1) as usize;
    let all = options.all.unwrap_or(false);
    Ok(if options.json { report.to_json(top, all) } else { report.to_text(top, all) })
}

/// `memwatch-rs leaks base target final`: the three-snapshot technique.
#[napi]
pub fn find_leaks(base: String, target: String, last: String, options: CompareOptions) -> Result<String> {
    let mut progress = progress_for(&options);
    let _slot = memwatch_core::snapshot::memory::exclusive();
    let result = (|| {
        let maps = options.source_maps.unwrap_or(true);
        let b = load_ids(&base, &mut progress, maps)?;
        let t = load_ids(&target, &mut progress, maps)?;
        let mut g = load(Path::new(&last), &mut progress).map_err(|e| format!("{last}: {e}"))?;
        g.set_source_maps(maps);
        progress.phase("finding leaks")?;
        leaks(&b, &t, &g, options.top.max(1) as usize)
    })();
    progress.finish();
    let report = result.map_err(|e| Error::from_reason(format!("memwatch-rs: cannot look for leaks: {e}")))?;
    Ok(if options.json { report.to_json() } else { report.to_text() })
}
