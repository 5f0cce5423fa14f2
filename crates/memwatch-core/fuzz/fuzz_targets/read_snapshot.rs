//! Any bytes: the reader returns a snapshot or an error, never panics, never allocates beyond
//! what the input can back; a snapshot that reads goes through every analysis pass and the
//! comparisons against itself. The same bytes gzip-compressed go through the gzip path (and a
//! cut copy of that), and the one writer refuses to write over its own input.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use memwatch_core::output::AtomicFile;
use memwatch_core::snapshot::compare::{diff, leaks, IdTable};
use memwatch_core::snapshot::graph::HeapGraph;
use memwatch_core::snapshot::{analyze, read_snapshot};

fn exercise(data: &[u8], size: Option<u64>) {
    let Ok(raw) = read_snapshot(data, size) else { return };
    assert_eq!(raw.node_count() as u64, raw.meta.node_count);
    let Ok(g) = HeapGraph::from_raw(raw) else { return };
    let Ok(report) = analyze(&g, 5) else { return };
    let _ = report.to_text();
    let _ = report.to_json();
    let Ok(ids) = IdTable::new(&g) else { return };
    let _ = diff(&ids, &ids).map(|d| d.to_json(5, true));
    let _ = leaks(&ids, &ids, &g, 5).map(|l| l.to_text());
}

fuzz_target!(|data: &[u8]| {
    exercise(data, Some(data.len() as u64));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    let gz = gz.finish().unwrap();
    exercise(&gz, Some(gz.len() as u64));
    exercise(&gz[..gz.len() / 2], None);
    // Output equals input: refused, and the input is left as it was.
    let dir = std::env::temp_dir().join(format!("memwatch-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let input = dir.join("input.heapsnapshot");
    if std::fs::write(&input, data).is_ok() {
        assert!(AtomicFile::write_all(&input, &[&input], b"report").is_err());
        assert_eq!(std::fs::read(&input).unwrap(), data);
    }
});
