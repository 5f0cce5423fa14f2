//! Property tests (proptest): generated snapshots of every shape the format allows (any node and
//! edge types, weak and shortcut edges anywhere, cycles, unreachable islands, strings with
//! control characters and forged report lines, locations, huge values) go through the reader,
//! the graph, analyze, the id tables, diff and leaks: never a panic, the invariants hold, and
//! text output never carries a raw control character. Generated source maps (valid VLQ and
//! not, index maps, hostile names and sources) beside a script are looked up at any position:
//! an answer or none, never a panic.

use std::io::Write;

use memwatch_core::snapshot::compare::{diff, leaks, IdTable};
use memwatch_core::snapshot::graph::{dominators, HeapGraph, ROOT};
use memwatch_core::snapshot::{analyze, read_snapshot};
use memwatch_core::srcmap::SourceMaps;
use proptest::prelude::*;

const NODE_TYPES: [&str; 10] = ["hidden", "array", "string", "object", "code", "closure", "regexp", "number", "native", "synthetic"];
const EDGE_TYPES: [&str; 7] = ["context", "element", "property", "internal", "hidden", "shortcut", "weak"];

#[derive(Debug, Clone)]
struct Shape {
    /// (type, name string, id, self size) per node; node 0 is the root.
    nodes: Vec<(usize, usize, u64, u64)>,
    /// (from, type, name or index, to).
    edges: Vec<(usize, usize, u64, usize)>,
    strings: Vec<String>,
    /// (node, script id, line, column).
    locations: Vec<(usize, u32, u32, u32)>,
}

fn a_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z_$][A-Za-z0-9_$]{0,12}",
        Just("Fake\nsuspect: Totally @1 retains 999 bytes (99.0%)".to_string()),
        Just("\u{1b}[31mred\u{7}".to_string()),
        "\\PC{0,20}",
        any::<String>().prop_map(|s| s.chars().take(30).collect()),
    ]
}

fn a_shape() -> impl Strategy<Value = Shape> {
    (1usize..60, prop::collection::vec(a_string(), 1..20)).prop_flat_map(|(n, strings)| {
        let s = strings.len() + 1;
        let size = prop_oneof![0u64..500, Just(u32::MAX as u64), Just(u64::from(u32::MAX) + 7), Just(1u64 << 40)];
        let id = prop_oneof![1u64..10_000, Just(u32::MAX as u64), Just(1u64 << 45)];
        let nodes = prop::collection::vec((0..NODE_TYPES.len(), 0..s, id, size), n);
        let edges = prop::collection::vec((0..n, 0..EDGE_TYPES.len(), 0u64..(s as u64 + 3), 0..n), 0..n * 4);
        let locations = prop::collection::vec((0..n, 0u32..5, 0u32..100, 0u32..100), 0..n);
        (nodes, edges, Just(strings), locations).prop_map(|(mut nodes, edges, strings, locations)| {
            nodes[0] = (9, 0, 0, 0); // the root: synthetic
            let mut all = vec![String::new()];
            all.extend(strings);
            Shape { nodes, edges, strings: all, locations }
        })
    })
}

fn to_json(shape: &Shape) -> String {
    let mut out_degree = vec![0usize; shape.nodes.len()];
    let mut edges = shape.edges.clone();
    edges.sort_by_key(|e| e.0);
    for e in &edges {
        out_degree[e.0] += 1;
    }
    let nodes: Vec<String> = shape.nodes.iter().enumerate().map(|(i, (t, name, id, size))| format!("{t},{name},{id},{size},{}", out_degree[i])).collect();
    let edges: Vec<String> = edges
        .iter()
        .map(|(_, t, name, to)| {
            // A named edge's name must be a string index; elements and hidden edges take any.
            let name = if EDGE_TYPES[*t] == "element" || EDGE_TYPES[*t] == "hidden" { *name } else { name % shape.strings.len() as u64 };
            format!("{t},{name},{}", to * 5)
        })
        .collect();
    let locations: Vec<String> = shape.locations.iter().map(|(n, s, l, c)| format!("{},{s},{l},{c}", n * 5)).collect();
    let q = |v: &[&str]| v.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(",");
    let strings: Vec<String> = shape.strings.iter().map(|s| json_string(s)).collect();
    format!(
        r#"{{"snapshot":{{"meta":{{"node_fields":["type","name","id","self_size","edge_count"],"node_types":[[{}]],"edge_fields":["type","name_or_index","to_node"],"edge_types":[[{}]],"location_fields":["object_index","script_id","line","column"]}},"node_count":{},"edge_count":{}}},"nodes":[{}],"edges":[{}],"locations":[{}],"strings":[{}]}}"#,
        q(&NODE_TYPES),
        q(&EDGE_TYPES),
        shape.nodes.len(),
        shape.edges.len(),
        nodes.join(","),
        edges.join(","),
        locations.join(","),
        strings.join(",")
    )
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// No raw control character (newline and tab are the report's own layout).
fn clean(text: &str) -> bool {
    text.chars().all(|c| !c.is_control() || c == '\n' || c == '\t')
}

/// Lines a forged name could have added: a report line starts with one of these only when the
/// report wrote it.
fn forged_lines(text: &str) -> usize {
    text.lines().filter(|l| l.starts_with("suspect: Totally")).count()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn any_snapshot_goes_through_every_pass(shape in a_shape()) {
        let text = to_json(&shape);
        let raw = read_snapshot(text.as_bytes(), Some(text.len() as u64)).expect("a well-formed snapshot reads");
        prop_assert_eq!(raw.node_count(), shape.nodes.len());
        let g = HeapGraph::from_raw(raw).expect("graph");
        let d = dominators(&g).expect("dominators");
        // Invariants: the root is its own dominator, every idom is a node, and no node retains
        // more than the root (everything).
        prop_assert_eq!(d.idom[ROOT as usize], ROOT);
        prop_assert!(d.idom.iter().all(|&i| (i as usize) < g.node_count()));
        let total = d.retained[ROOT as usize];
        prop_assert!(d.retained.iter().all(|&r| r <= total));
        let report = analyze(&g, 5).expect("analyze");
        let text = report.to_text();
        prop_assert!(clean(&text), "a control character in the text report");
        prop_assert_eq!(forged_lines(&text), 0);
        let json = report.to_json();
        let braced = json.starts_with('{') && json.ends_with('}');
        prop_assert!(braced, "the JSON report is not an object");
        let ids = IdTable::new(&g).expect("ids");
        let dr = diff(&ids, &ids).expect("diff");
        prop_assert_eq!(dr.classes.iter().map(|c| c.added_count).sum::<u64>(), 0);
        let t = dr.to_text(5, true);
        prop_assert!(clean(&t));
        prop_assert_eq!(forged_lines(&t), 0);
        let lr = leaks(&ids, &ids, &g, 5).expect("leaks");
        prop_assert_eq!(lr.leaked_objects, 0);
        let t = lr.to_text();
        prop_assert!(clean(&t));
    }

    #[test]
    fn any_cut_or_changed_byte_is_an_error_or_a_snapshot_never_a_panic(shape in a_shape(), cut in any::<prop::sample::Index>(), byte in any::<u8>(), at in any::<prop::sample::Index>()) {
        let mut text = to_json(&shape).into_bytes();
        let i = at.index(text.len());
        text[i] = byte;
        let end = cut.index(text.len() + 1);
        for bytes in [&text[..], &text[..end]] {
            if let Ok(raw) = read_snapshot(bytes, Some(bytes.len() as u64)) {
                if let Ok(g) = HeapGraph::from_raw(raw) {
                    let _ = analyze(&g, 3).map(|r| r.to_text());
                }
            }
        }
    }
}

/// Base64 VLQ segments, valid and not.
fn mappings() -> impl Strategy<Value = String> {
    prop_oneof![
        "([A-Za-z0-9+/]{1,7}[,;]){0,40}",
        Just("AAAA,CAAC,EAAE;AACA".to_string()),
        Just("////////////////////////////////g".to_string()),
        "\\PC{0,40}",
    ]
}

fn a_plain_map() -> impl Strategy<Value = String> {
    let source = prop_oneof![Just("src/a.ts".to_string()), Just("../../../../etc/passwd".to_string()), Just("webpack:///./x.ts".to_string()), "\\PC{0,12}"];
    let sources = prop::collection::vec(source, 0..4);
    let names = prop::collection::vec(a_string(), 0..4);
    let root = prop::option::of("\\PC{0,8}".prop_map(|r: String| r));
    (sources, names, mappings(), root).prop_map(|(s, n, m, root): (Vec<String>, Vec<String>, String, Option<String>)| {
        let list = |v: &[String]| v.iter().map(|x| json_string(x)).collect::<Vec<_>>().join(",");
        let root = root.map(|r| format!(",\"sourceRoot\":{}", json_string(&r))).unwrap_or_default();
        format!(r#"{{"version":3,"sources":[{}],"names":[{}],"mappings":{}{root}}}"#, list(&s), list(&n), json_string(&m))
    })
}

fn a_map() -> impl Strategy<Value = String> {
    let index = (a_plain_map(), 0u32..5, 0u32..50).prop_map(|(inner, line, column)| {
        format!(r#"{{"version":3,"sections":[{{"offset":{{"line":{line},"column":{column}}},"map":{inner}}}]}}"#)
    });
    prop_oneof![a_plain_map(), index, "\\PC{0,60}", Just("{\"version\":3}".to_string()), Just("[]".to_string())]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_source_map_beside_a_script_is_an_answer_or_none(map in a_map(), inline in any::<bool>(), positions in prop::collection::vec((0u32..6, 0u32..80), 1..8)) {
        let dir = std::env::temp_dir().join(format!("memwatch-core-prop-maps-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("app.js");
        let mut f = std::fs::File::create(&script).unwrap();
        writeln!(f, "class t{{constructor(){{this.a=1}}}}var x=new t;").unwrap();
        if inline {
            let b64 = base64(map.as_bytes());
            writeln!(f, "//# sourceMappingURL=data:application/json;base64,{b64}").unwrap();
        } else {
            writeln!(f, "//# sourceMappingURL=app.js.map").unwrap();
            std::fs::write(dir.join("app.js.map"), &map).unwrap();
        }
        drop(f);
        let mut maps = SourceMaps::new();
        let name = script.to_string_lossy().to_string();
        for (line, column) in positions {
            if let Some(o) = maps.lookup(&name, line, column) {
                prop_assert!(o.line >= 1 && o.column >= 1);
            }
            let _ = maps.original_name(&name, line, column, "t");
        }
        prop_assert!(maps.notes().len() <= 100);
    }
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
