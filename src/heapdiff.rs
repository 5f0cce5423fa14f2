//! HeapDiff glue: turns a live V8 heap snapshot into a core `HeapSummary` and a core diff into
//! memwatch's result object.
//!
//! The snapshot is walked by index (no recursion, whatever the heap's depth), summarised, and
//! deleted before `takeHeapSummary` returns; only the compact summary outlives the call.

use memwatch_core::snapshot::graph::HeapGraph;
use memwatch_core::summary::{self, DiffResult, SummaryBuilder};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::monitor::{current_isolate, Monitor};

/// A heap snapshot reduced to (id, what, shallow size) per node. Opaque to JS.
///
/// Its native memory is reported to V8 as external memory, so a program that drops many
/// unended HeapDiffs gets them collected as promptly as if the tables lived on the JS heap.
#[napi(custom_finalize)]
pub struct HeapSummary {
    inner: summary::HeapSummary,
    external_bytes: i64,
    /// The whole snapshot as a graph, kept only for HeapDiff's `retainers` option.
    graph: Option<HeapGraph>,
    graph_bytes: i64,
}

impl HeapSummary {
    pub(crate) fn ids(&self) -> Vec<u32> {
        self.inner.ids()
    }

    pub(crate) fn attach_graph(&mut self, env: &Env, graph: HeapGraph) -> Result<()> {
        self.graph_bytes = graph.memory_footprint() as i64;
        env.adjust_external_memory(self.graph_bytes)?;
        self.graph = Some(graph);
        Ok(())
    }

    pub(crate) fn graph(&self) -> Option<&HeapGraph> {
        self.graph.as_ref()
    }

    pub(crate) fn take_graph(&mut self, env: &Env) -> Result<Option<HeapGraph>> {
        if self.graph.is_some() {
            env.adjust_external_memory(-self.graph_bytes)?;
            self.graph_bytes = 0;
        }
        Ok(self.graph.take())
    }
}

impl ObjectFinalize for HeapSummary {
    fn finalize(self, env: Env) -> Result<()> {
        env.adjust_external_memory(-self.external_bytes - self.graph_bytes)?;
        Ok(())
    }
}

#[napi]
impl HeapSummary {
    /// Nodes in the snapshot.
    #[napi(getter)]
    pub fn nodes(&self) -> f64 {
        self.inner.nodes() as f64
    }

    /// Sum of the shallow sizes of all nodes, in bytes.
    #[napi(getter)]
    pub fn size_bytes(&self) -> f64 {
        self.inner.size_bytes() as f64
    }
}

/// Takes a heap snapshot (V8 runs a full GC first), summarises it and deletes it. Stats events
/// and leak counting are suppressed meanwhile.
#[napi]
pub fn take_heap_summary(env: Env) -> Result<HeapSummary> {
    take_summary(&env, None)
}

/// [`take_heap_summary`], also streaming the snapshot's JSON to `write` before it is deleted.
pub(crate) fn take_summary(env: &Env, write: Option<crate::v8::WriteChunk<'_>>) -> Result<HeapSummary> {
    let isolate = current_isolate()?;
    let monitor = Monitor::of(env)?;
    let name_mask = (0..32).filter(|&t| summary::needs_name(t)).fold(0u32, |m, t| m | (1 << t));
    let walked = monitor.suppressed(|| {
        let mut builder = SummaryBuilder::default();
        let mut visit = |id, node_type, size, name: &str| builder.push(id, node_type, name, size);
        isolate.heap_snapshot(name_mask, Some(&mut visit), write).map(|_| builder.finish())
    });
    let inner = walked.map_err(|e| Error::from_reason(format!("memwatch-rs: HeapDiff failed: {e}")))?;
    let external_bytes = inner.memory_footprint() as i64;
    env.adjust_external_memory(external_bytes)?;
    Ok(HeapSummary { inner, external_bytes, graph: None, graph_bytes: 0 })
}

/// Starts or stops V8's allocation tracker for this isolate (HeapDiff's and leakTest's
/// `stacks` option): while it runs every allocation records its stack, and snapshots carry them.
#[napi]
pub fn allocation_tracking(on: bool) -> Result<()> {
    current_isolate()?.allocation_tracking(on);
    Ok(())
}

/// For bench/heapdiff.js: one heap snapshot taken exactly as `takeHeapSummary` takes it, then
/// deleted unread (the floor a HeapDiff cannot beat). Returns the node count.
#[napi(js_name = "_bareHeapSnapshot")]
pub fn bare_heap_snapshot(env: Env) -> Result<f64> {
    let isolate = current_isolate()?;
    let monitor = Monitor::of(&env)?;
    let nodes = monitor.suppressed(|| isolate.bare_heap_snapshot()).map_err(Error::from_reason)?;
    Ok(nodes as f64)
}

#[napi(object)]
pub struct DiffTotals {
    pub nodes: f64,
    #[napi(js_name = "size_bytes")]
    pub size_bytes: f64,
    pub size: String,
}

#[napi(object)]
pub struct DiffDetail {
    pub what: String,
    #[napi(js_name = "size_bytes")]
    pub size_bytes: f64,
    pub size: String,
    #[napi(js_name = "+")]
    pub added: f64,
    #[napi(js_name = "-")]
    pub removed: f64,
}

#[napi(object)]
pub struct DiffChange {
    #[napi(js_name = "size_bytes")]
    pub size_bytes: f64,
    pub size: String,
    #[napi(js_name = "freed_nodes")]
    pub freed_nodes: f64,
    #[napi(js_name = "allocated_nodes")]
    pub allocated_nodes: f64,
    pub details: Vec<DiffDetail>,
}

#[napi(object)]
pub struct HeapDiffResult {
    pub before: DiffTotals,
    pub after: DiffTotals,
    pub change: DiffChange,
}

/// memwatch's `HeapDiff.end()` result for two summaries.
#[napi]
pub fn diff_heap_summaries(before: &HeapSummary, after: &HeapSummary) -> HeapDiffResult {
    let d: DiffResult = before.inner.diff(&after.inner);
    let totals = |t: summary::Totals| DiffTotals { nodes: t.nodes as f64, size_bytes: t.size_bytes as f64, size: t.size };
    HeapDiffResult {
        before: totals(d.before),
        after: totals(d.after),
        change: DiffChange {
            size_bytes: d.size_bytes as f64,
            size: d.size,
            freed_nodes: d.freed_nodes as f64,
            allocated_nodes: d.allocated_nodes as f64,
            details: d
                .details
                .into_iter()
                .map(|x| DiffDetail {
                    what: x.what,
                    size_bytes: x.size_bytes as f64,
                    size: x.size,
                    added: x.added as f64,
                    removed: x.removed as f64,
                })
                .collect(),
        },
    }
}
