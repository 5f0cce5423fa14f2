//! Any bytes: the reader returns a snapshot or an error, never panics, never allocates beyond
//! what the input can back; a snapshot that reads goes through every analysis pass and the
//! comparisons against itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use memwatch_core::snapshot::compare::{diff, leaks, IdTable};
use memwatch_core::snapshot::graph::HeapGraph;
use memwatch_core::snapshot::{analyze, read_snapshot};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = read_snapshot(data, Some(data.len() as u64)) else { return };
    assert_eq!(raw.node_count() as u64, raw.meta.node_count);
    let Ok(g) = HeapGraph::from_raw(raw) else { return };
    let report = analyze(&g, 5);
    let _ = report.to_text();
    let _ = report.to_json();
    let ids = IdTable::new(&g);
    let _ = diff(&ids, &ids).to_json(5);
    let _ = leaks(&ids, &ids, &g, 5).to_text();
});
