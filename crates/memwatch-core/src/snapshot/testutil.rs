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

/// Writes `source` to `<tmp>/<tag>/app.js`, runs it with node (it ends by writing a snapshot),
/// and reads the snapshot: for checking source locations against a real file.
pub fn node_snapshot_of_file(tag: &str, source: &str) -> (RawSnapshot, PathBuf) {
    node_snapshot_of_file_with(tag, source, &[])
}

/// [`node_snapshot_of_file`], with node flags (`--track-heap-objects`, say).
pub fn node_snapshot_of_file_with(tag: &str, source: &str, flags: &[&str]) -> (RawSnapshot, PathBuf) {
    let dir = std::env::temp_dir().join(format!("memwatch-core-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let app = dir.join("app.js");
    let snap = dir.join("app.heapsnapshot");
    std::fs::write(&app, format!("{source}\nrequire('v8').writeHeapSnapshot({:?});\n", snap.to_string_lossy())).expect("write app.js");
    let status = std::process::Command::new("node").args(flags).arg(&app).status().expect("node runs");
    assert!(status.success(), "node could not run {}", app.display());
    let file = std::fs::File::open(&snap).expect("snapshot written");
    let size = file.metadata().map(|m| m.len()).ok();
    let raw = read_snapshot(std::io::BufReader::new(file), size).expect("node's own snapshot reads");
    std::fs::remove_dir_all(&dir).ok();
    (raw, app)
}

/// A snapshot from (type, name, self size, id) nodes and (from, edge type, edge name, to) edges,
/// as V8 would write it (node 0 is the root; element/hidden edge names are indices), read
/// through the reader and built into the graph.
pub fn synthetic(nodes: &[(&str, &str, u64, u64)], edges: &[(usize, &str, &str, usize)]) -> super::graph::HeapGraph {
    synthetic_with_locations(nodes, edges, &[])
}

/// [`synthetic`] with a `locations` section: (node index, script id, line, column), 0-based.
pub fn synthetic_with_locations(nodes: &[(&str, &str, u64, u64)], edges: &[(usize, &str, &str, usize)], locations: &[(usize, u32, u32, u32)]) -> super::graph::HeapGraph {
    const NODE_TYPES: [&str; 7] = ["hidden", "array", "object", "closure", "native", "synthetic", "string"];
    const EDGE_TYPES: [&str; 7] = ["context", "element", "property", "internal", "hidden", "shortcut", "weak"];
    let mut strings: Vec<String> = vec![String::new()];
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut intern = |s: &str| {
        *index.entry(s.to_string()).or_insert_with(|| {
            strings.push(s.to_string());
            strings.len() - 1
        })
    };
    let mut out_degree = vec![0u32; nodes.len()];
    for e in edges {
        out_degree[e.0] += 1;
    }
    let node_values: Vec<String> = nodes
        .iter()
        .enumerate()
        .map(|(i, &(t, name, size, id))| {
            let t = NODE_TYPES.iter().position(|x| *x == t).expect("known node type");
            format!("{t},{},{id},{size},{}", intern(name), out_degree[i])
        })
        .collect();
    let mut sorted: Vec<_> = edges.to_vec();
    sorted.sort_by_key(|e| e.0);
    let edge_values: Vec<String> = sorted
        .iter()
        .map(|&(_, t, name, to)| {
            let ti = EDGE_TYPES.iter().position(|x| *x == t).expect("known edge type");
            let name = if t == "element" || t == "hidden" { name.parse::<usize>().expect("index") } else { intern(name) };
            format!("{ti},{name},{}", to * 5)
        })
        .collect();
    let quote = |v: &[&str]| v.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(",");
    let location_values: Vec<String> = locations.iter().map(|&(node, script, line, column)| format!("{},{script},{line},{column}", node * 5)).collect();
    let text = format!(
        r#"{{"snapshot":{{"meta":{{"node_fields":["type","name","id","self_size","edge_count"],"node_types":[[{}]],"edge_fields":["type","name_or_index","to_node"],"edge_types":[[{}]],"location_fields":["object_index","script_id","line","column"]}},"node_count":{},"edge_count":{}}},"nodes":[{}],"edges":[{}],"locations":[{}],"strings":[{}]}}"#,
        quote(&NODE_TYPES),
        quote(&EDGE_TYPES),
        nodes.len(),
        edges.len(),
        node_values.join(","),
        edge_values.join(","),
        location_values.join(","),
        strings.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(",")
    );
    super::graph::HeapGraph::from_raw(read_snapshot(text.as_bytes(), None).expect("valid synthetic snapshot")).expect("graph")
}
