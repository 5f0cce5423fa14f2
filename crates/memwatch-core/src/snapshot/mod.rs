//! Offline analysis of V8 `.heapsnapshot` files.
//!
//! `reader` streams a snapshot file into flat arrays (never the whole JSON as a tree or as one
//! string), driven by the file's own `snapshot.meta` field lists. The analysis passes
//! (retainers, distances, dominators, retained sizes, aggregates) build on its output.

pub mod compare;
pub mod graph;
pub mod memory;
pub mod paths;
pub mod progress;
pub mod reader;
pub mod report;
pub mod roots;
pub mod stacks;
#[cfg(test)]
mod sweep;
#[cfg(test)]
mod testutil;

pub use reader::{read_snapshot, ReadError, RawSnapshot, SnapshotMeta};
pub use report::{analyze, Report};

use std::path::Path;

use graph::HeapGraph;
use progress::Progress;

/// Reads a snapshot file into the graph, reporting progress. Errors name the file's problem
/// and, for bad content, the byte offset.
pub fn load(path: &Path, progress: &mut Progress) -> Result<HeapGraph, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let size = file.metadata().map(|m| m.len()).ok();
    progress.phase("reading")?;
    let total = size.unwrap_or(0).max(1) as f64;
    // A gzip file decompresses to several times its size: its share read is a guess, capped.
    let raw = reader::read_snapshot_with_progress(file, size, &mut |done| progress.fraction((done as f64 / total).min(0.99)))
        .map_err(|e| e.to_string())?;
    progress.phase("building the graph")?;
    HeapGraph::from_raw(raw)
}
