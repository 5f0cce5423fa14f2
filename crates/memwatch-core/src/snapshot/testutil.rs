//! Test helper: real snapshots written by node (this project's runtime, on every dev and CI
//! machine), so the reader and the passes are tested on V8's actual output.

use std::path::PathBuf;

use super::reader::{read_snapshot, RawSnapshot};

/// Runs `setup` (JS that builds a heap) in a fresh node, writes a heap snapshot, reads it.
pub fn node_snapshot(tag: &str, setup: &str) -> RawSnapshot {
    let path: PathBuf = std::env::temp_dir().join(format!("memwatch-core-{tag}-{}.heapsnapshot", std::process::id()));
    let script = format!("{setup}\nrequire('v8').writeHeapSnapshot({:?});", path.to_string_lossy());
    let status = std::process::Command::new("node").arg("-e").arg(script).status().expect("node runs");
    assert!(status.success(), "node could not write the snapshot");
    let file = std::fs::File::open(&path).expect("snapshot written");
    let size = file.metadata().map(|m| m.len()).ok();
    let raw = read_snapshot(std::io::BufReader::new(file), size).expect("node's own snapshot reads");
    std::fs::remove_file(&path).ok();
    raw
}
