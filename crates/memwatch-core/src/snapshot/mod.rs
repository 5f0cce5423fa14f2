//! Offline analysis of V8 `.heapsnapshot` files.
//!
//! `reader` streams a snapshot file into flat arrays (never the whole JSON as a tree or as one
//! string), driven by the file's own `snapshot.meta` field lists. The analysis passes
//! (retainers, distances, dominators, retained sizes, aggregates) build on its output.

pub mod graph;
pub mod reader;
pub mod report;
#[cfg(test)]
mod testutil;

pub use reader::{read_snapshot, ReadError, RawSnapshot, SnapshotMeta};
pub use report::{analyze, Report};
