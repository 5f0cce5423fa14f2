//! Running short of memory anywhere in an analysis ends in an error, never in Rust's abort: the
//! test binary re-runs itself under `prlimit --as` at limits spread from what it uses before
//! the analysis to what the analysis peaks at (the early estimate turned off, so every pass is
//! reached), and each run must end in a report or a clean "not enough memory" error. Also: four
//! analyses at once under a limit one fits in, and a gzip file whose strings inflate past it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::compare::{diff, leaks, IdTable};
use super::memory::{Fallible, SKIP_ESTIMATE};
use super::progress::Progress;
use super::report::analyze_with;

const CHILD: &str = "MEMWATCH_SWEEP_CHILD";
const THIS_TEST: &str = "snapshot::sweep::child";

/// A service-shaped heap: a tree of objects of a dozen classes under a global, closures with
/// locations, cross edges, arrays, strings; `n` nodes, about 4 edges each. Deterministic.
fn service_snapshot(n: usize) -> String {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rand = move |m: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % m as u64) as usize
    };
    // Strings: "", the class names, edge names, then per-node strings (ids 0..n/8).
    let classes = ["Session", "Order", "Client", "Cache", "Entry", "Request", "Response", "Buffer", "Timer", "Socket", "Log", "Map"];
    let edge_names = ["next", "value", "owner", "items", "cache", "handler"];
    let mut strings: Vec<String> = vec![String::new(), "global".into(), "(GC roots)".into(), "app".into()];
    let class_at = strings.len();
    strings.extend(classes.iter().map(|s| s.to_string()));
    let edge_at = strings.len();
    strings.extend(edge_names.iter().map(|s| s.to_string()));
    let text_at = strings.len();
    strings.extend((0..n / 8).map(|i| format!("text number {i} of a service's strings")));
    // Node types: hidden array string object code closure regexp number native synthetic.
    let mut nodes = String::new();
    let mut edges = String::new();
    let mut locations = String::new();
    let mut edge_count = 0usize;
    for v in 0..n {
        let (t, name) = match v {
            0 => (9, 0),
            1 => (3, 1),
            _ if v % 7 == 0 => (5, class_at + v % classes.len()),
            _ if v % 5 == 0 => (2, text_at + v % (n / 8).max(1)),
            _ if v % 11 == 0 => (1, 0),
            _ => (3, class_at + rand(classes.len())),
        };
        let mut out: Vec<(usize, usize, usize)> = Vec::new(); // (type, name, to)
        if v == 0 {
            out.push((5, 1, 1)); // shortcut to the global
        } else if t != 2 {
            // Tree children, then a few cross edges.
            for c in [2 * v, 2 * v + 1] {
                if c < n {
                    out.push((2, edge_at + rand(edge_names.len()), c));
                }
            }
            for _ in 0..2 {
                let to = 1 + rand(n - 1);
                out.push(if rand(4) == 0 { (6, edge_at, to) } else { (1, rand(1000), to) });
            }
        }
        nodes.push_str(&format!("{t},{name},{},{},{},", 2 * v + 1, 16 + rand(200), out.len()));
        for (et, en, to) in &out {
            edges.push_str(&format!("{et},{en},{},", to * 5));
        }
        edge_count += out.len();
        if t == 5 {
            locations.push_str(&format!("{},{},{},{},", v * 5, 1 + v % 3, v % 500, v % 40));
        }
    }
    for s in [&mut nodes, &mut edges, &mut locations] {
        s.pop();
    }
    let quoted: Vec<String> = strings.iter().map(|s| format!("{s:?}")).collect();
    format!(
        r#"{{"snapshot":{{"meta":{{"node_fields":["type","name","id","self_size","edge_count"],"node_types":[["hidden","array","string","object","code","closure","regexp","number","native","synthetic"]],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["context","element","property","internal","hidden","shortcut","weak"]],"location_fields":["object_index","script_id","line","column"]}},"node_count":{n},"edge_count":{edge_count}}},"nodes":[{nodes}],"edges":[{edges}],"locations":[{locations}],"strings":[{}]}}"#,
        quoted.join(",")
    )
}

/// `VmSize` or `VmPeak` of this process, bytes.
fn vm(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<u64>().ok()).unwrap_or(0) * 1024
}

/// Everything a user can run on one snapshot file: analyze, ids, diff, leaks.
fn everything(path: &Path) -> Fallible<usize> {
    let _slot = super::memory::exclusive();
    let mut progress = Progress::quiet();
    let g = super::load(path, &mut progress)?;
    let report = analyze_with(&g, 10, &mut progress)?;
    let ids = IdTable::new(&g)?;
    let d = diff(&ids, &ids)?;
    let l = leaks(&ids, &ids, &g, 10)?;
    Ok(report.to_text().len() + d.to_text(10, false).len() + l.to_text().len())
}

/// The child: runs under the limit its parent set, prints what happened on stdout.
#[test]
fn child() {
    let Ok(job) = std::env::var(CHILD) else { return };
    SKIP_ESTIMATE.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mode, path) = job.split_once(':').expect("mode:path");
    let path = PathBuf::from(path);
    let mut out = std::io::stdout().lock();
    writeln!(out, "START {}", vm("VmSize:")).unwrap();
    out.flush().unwrap();
    let results: Vec<Fallible<usize>> = if mode == "four" {
        std::thread::scope(|s| {
            let runs: Vec<_> = (0..4).map(|_| std::thread::Builder::new().spawn_scoped(s, || everything(&path))).collect();
            // A thread that cannot start (no room for its stack) is a refusal like the others.
            let no_thread = |e: std::io::Error| format!("not enough memory: a thread needed 2 MB more ({e})");
            runs.into_iter().map(|r| r.map_err(no_thread).and_then(|h| h.join().unwrap_or_else(|_| Err("panicked".into())))).collect()
        })
    } else {
        vec![everything(&path)]
    };
    for r in results {
        match r {
            Ok(n) => writeln!(out, "RESULT ok {n}").unwrap(),
            Err(e) => writeln!(out, "RESULT err {}", e.replace('\n', " ")).unwrap(),
        }
    }
    writeln!(out, "PEAK {}", vm("VmPeak:")).unwrap();
}

struct Run {
    ok: usize,
    clean_errors: usize,
    start: u64,
    peak: u64,
}

/// Runs the child test in a new process, under `limit` bytes of address space if given.
fn run_child(mode: &str, path: &Path, limit: Option<u64>) -> Run {
    run_child_if_it_starts(mode, path, limit).unwrap_or_else(|| panic!("the test binary did not start under {limit:?} bytes"))
}

/// [`run_child`]; `None` when the limit is too low for the process to reach the analysis.
fn run_child_if_it_starts(mode: &str, path: &Path, limit: Option<u64>) -> Option<Run> {
    let exe = std::env::current_exe().expect("test binary");
    let mut cmd = match limit {
        Some(bytes) => {
            let mut c = Command::new("prlimit");
            c.arg(format!("--as={bytes}")).arg("--").arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    let out = cmd
        .args([THIS_TEST, "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env(CHILD, format!("{mode}:{}", path.display()))
        .env("RUST_BACKTRACE", "0")
        // glibc retries a thread arena (a 64 MB mapping) on every allocation of a thread that
        // has none when the limit refuses it: 600,000 failed mmaps a run. One arena keeps the
        // sweep fast; it changes where small blocks come from, not which allocations are checked.
        .env("MALLOC_ARENA_MAX", "1")
        .output()
        .expect("prlimit and the test binary run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let context = format!("limit {limit:?}, {mode}: status {:?}\nstdout: {stdout}\nstderr: {stderr}", out.status);
    if !stdout.contains("START ") {
        return None;
    }
    // An abort is a signal (SIGABRT); a panic in the harness is exit 101. Neither is allowed.
    assert!(out.status.success(), "the analysis did not end cleanly: {context}");
    let field = |key: &str| stdout.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.trim().parse::<u64>().ok());
    let mut run = Run { ok: 0, clean_errors: 0, start: field("START ").unwrap_or(0), peak: field("PEAK ").unwrap_or(0) };
    for line in stdout.lines().filter_map(|l| l.strip_prefix("RESULT ")) {
        if line.starts_with("ok ") {
            run.ok += 1;
        } else {
            assert!(line.starts_with("err not enough memory: ") && line.contains(" needed "), "an error other than running short, or one that does not say what it needed: {line}\n{context}");
            run.clean_errors += 1;
        }
    }
    assert_eq!(run.ok + run.clean_errors, if mode == "four" { 4 } else { 1 }, "{context}");
    Some(run)
}

fn prlimit_works() -> bool {
    Command::new("prlimit").args(["--as=1000000000", "--", "true"]).status().is_ok_and(|s| s.success())
}

#[test]
fn every_address_space_limit_ends_in_a_report_or_a_clean_error() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    assert!(prlimit_works(), "prlimit (util-linux) is needed to run this test");
    let dir = std::env::temp_dir().join(format!("memwatch-core-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("service.heapsnapshot");
    std::fs::write(&path, service_snapshot(60_000)).unwrap();

    // Under a limit, the C library reserves less up front (no 64 MB arena per thread), so the
    // address space at the start is measured under one, and the least limit the analysis
    // succeeds in is found by bisection.
    let roomy = run_child("one", &path, Some(1 << 30));
    assert_eq!(roomy.ok, 1);
    let (mut lo, mut hi) = (1 << 20, roomy.peak + (8 << 20));
    while hi - lo > 1 << 20 {
        let mid = lo + (hi - lo) / 2;
        if run_child_if_it_starts("one", &path, Some(mid)).is_some_and(|r| r.ok == 1) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let least = hi;
    let start = run_child("one", &path, Some(least)).start;
    assert!(least > start + (8 << 20), "the analysis should need some memory: start {start}, least {least}");
    // 40 limits from just above the start to past that least limit: every phase is cut short
    // somewhere, at its big allocations and between them.
    let (from, to) = (start + (1 << 20), least + (8 << 20));
    let steps = 40u64;
    let (mut ok, mut refused) = (0, 0);
    for i in 0..=steps {
        let limit = from + (to - from) * i / steps;
        let r = run_child("one", &path, Some(limit));
        ok += r.ok;
        refused += r.clean_errors;
    }
    assert!(ok > 0 && refused > 5, "the sweep should span both outcomes: {ok} reports, {refused} refusals");

    // Four at once (four threads) under a limit one analysis fits in: they take turns, as the
    // addon's analyses do, so each ends in a report; a limit below that ends each in a refusal.
    // (room for the three more threads' stacks: 2 MB each, and their first allocations)
    let four = run_child("four", &path, Some(least + (16 << 20)));
    assert_eq!(four.ok, 4, "four analyses taking turns where one fits");
    let four = run_child("four", &path, Some(start + (least - start) / 2));
    assert_eq!(four.clean_errors, 4, "four analyses where none fits");

    // 128 MB of strings in a gzip file of a few hundred KB, under 64 MB more than the start.
    let bomb = dir.join("strings.heapsnapshot.gz");
    {
        let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&bomb).unwrap(), flate2::Compression::fast());
        gz.write_all(br#"{"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count"],"node_types":[["synthetic"]],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["property"]]},"node_count":1,"edge_count":0},"nodes":[0,0,1,0,0],"edges":[],"strings":["#).unwrap();
        let chunk = vec![b'a'; 1 << 20];
        for i in 0..8 {
            gz.write_all(if i == 0 { b"\"" } else { b"\",\"" }).unwrap();
            for _ in 0..16 {
                gz.write_all(&chunk).unwrap();
            }
        }
        gz.write_all(b"\"]}").unwrap();
        gz.finish().unwrap();
    }
    assert!(std::fs::metadata(&bomb).unwrap().len() < 2 << 20);
    let r = run_child("one", &bomb, Some(start + (64 << 20)));
    assert_eq!((r.ok, r.clean_errors), (0, 1));
    std::fs::remove_dir_all(&dir).ok();
}
