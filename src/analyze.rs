//! Glue for offline `.heapsnapshot` analysis: file in, report text or JSON out. The work is all
//! in `memwatch_core::snapshot`.

use std::fs::File;
use std::io::BufReader;

use memwatch_core::snapshot::{analyze, graph::HeapGraph, read_snapshot};
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// Reads and analyses a snapshot file; returns the report as JSON (`json`) or text.
#[napi]
pub fn analyze_snapshot(path: String, top: u32, json: bool) -> Result<String> {
    let fail = |why: String| Error::from_reason(format!("memwatch-rs: cannot analyze {path}: {why}"));
    let file = File::open(&path).map_err(|e| fail(e.to_string()))?;
    let size = file.metadata().map(|m| m.len()).ok();
    let raw = read_snapshot(BufReader::with_capacity(1 << 20, file), size).map_err(|e| fail(e.to_string()))?;
    let graph = HeapGraph::from_raw(raw).map_err(fail)?;
    let report = analyze(&graph, top.max(1) as usize);
    Ok(if json { report.to_json() } else { report.to_text() })
}
