//! The leak-detector table: delays to detect injected leaks and false alarms on controls, for
//! the trend detector and memwatch's rule side by side, over the recorded series in
//! `fixtures/series` (see `memwatch_core::replay`).
//!
//!   cargo run --release -p memwatch-core --example detector_table -- [--hours 60] [--dir DIR]
//!        [--min-window-ms 20000] [--scales 9]   (to try other windows than the default's)
use std::time::Instant;

use memwatch_core::leak::{LeakConfig, LeakDetector};
use memwatch_core::trend::TrendDetector;
use memwatch_core::replay::{median_p95, run, Series, Shape, Which, RATES};
use memwatch_core::trend::TrendConfig;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn fmt_s(ms: f64) -> String {
    let s = ms / 1000.0;
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

fn main() {
    let dir = arg("--dir").unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/series").to_string());
    let hours: f64 = arg("--hours").and_then(|h| h.parse().ok()).unwrap_or(60.0);
    let mut series = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir).expect("fixtures dir").filter_map(|e| e.ok()).map(|e| e.path()).collect();
    names.sort();
    for path in names.iter().filter(|p| p.extension().is_some_and(|e| e == "txt")) {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).expect("read fixture");
        series.push(Series::parse(&name, &text).expect("fixture"));
    }
    let thinning = [1usize, 2, 4];
    let mut trend = TrendConfig::default();
    if let Some(ms) = arg("--min-window-ms").and_then(|x| x.parse().ok()) {
        trend.min_window_ms = ms;
    }
    if let Some(n) = arg("--scales").and_then(|x| x.parse().ok()) {
        trend.scales = n;
    }
    let detectors = [
        ("trend (default)", Which::Trend(trend)),
        ("memwatch rule + guard", Which::Memwatch(LeakConfig::default())),
        ("memwatch rule, bare", Which::Memwatch(LeakConfig { consecutive_growths: 5, high_water_window: 0 })),
    ];
    println!("{} recorded control series, each with all, 1/2 and 1/4 of its full GCs; leaks injected at 6 moments each\n", series.len());
    println!("| detector | leak rate | caught | median delay | p95 delay |");
    println!("|---|---|---|---|---|");
    for (label, which) in detectors {
        for rate in RATES {
            let horizon = if rate.per_ms > 60_000.0 { 6.0 * 3_600_000.0 } else { 3_600_000.0 };
            let mut delays = Vec::new();
            let mut total = 0;
            for s in &series {
                for &k in &thinning {
                    let scaled = s.thinned(k);
                    let reference = scaled.median_heap();
                    for k in 0..6 {
                        // Leaks start from 210 s (after the warm-up) to ~2 recordings in.
                        let at = 210_000.0 + k as f64 * scaled.duration_ms() * 0.35;
                        let points = scaled.extended(at + horizon);
                        total += 1;
                        if let (_, Some(d)) = run(which, &points, reference, Some((&rate, at))) {
                            delays.push(d);
                        }
                    }
                }
            }
            let caught = delays.len();
            let (m, p) = median_p95(&mut delays).map_or(("-".into(), "-".into()), |(m, p)| (fmt_s(m), fmt_s(p)));
            let p = if caught < total { format!("{p} (missed {} within {})", total - caught, fmt_s(horizon)) } else { p };
            println!("| {label} | {} | {caught}/{total} | {m} | {p} |", rate.label);
        }
    }
    // Leaks present from the start (a live run of a leaking service): they share the warm-up
    // with the program's own filling, so what the detector sees first is a fill and a leak
    // together. Delays from the start; the warm-up alone is 3 minutes. The trend detector only:
    // memwatch's rule has no warm-up and fires on the warm-up itself, which would count here as
    // a catch.
    println!("\nLeaks present from the start (delay from the start, warm-up included):\n");
    println!("| detector | leak rate | caught | median delay | p95 delay |");
    println!("|---|---|---|---|---|");
    for (label, which) in &detectors[..1] {
        for rate in &RATES[..4] {
            let horizon = 3_600_000.0;
            let mut delays = Vec::new();
            let mut total = 0;
            for s in &series {
                for &k in &thinning {
                    let scaled = s.thinned(k);
                    let points = scaled.extended(horizon);
                    total += 1;
                    if let (_, Some(d)) = run(*which, &points, scaled.median_heap(), Some((rate, 0.0))) {
                        delays.push(d);
                    }
                }
            }
            let caught = delays.len();
            let (m, p) = median_p95(&mut delays).map_or(("-".into(), "-".into()), |(m, p)| (fmt_s(m), fmt_s(p)));
            println!("| {label} | {} | {caught}/{total} | {m} | {p} |", rate.label);
        }
    }
    // Leaks of other shapes than a straight line, injected like the table's (from 210 s, and
    // 100 s and 200 s later): leaks in steps or bursts, one that fades, one that speeds up.
    // Delays from the leak's start, within an hour.
    println!("\nLeaks of other shapes (trend detector, delay from the leak's start):\n");
    println!("| leak shape (of the median heap) | caught | median | slowest |");
    println!("|---|---|---|---|");
    let shapes = [
        Shape { label: "a 5% step every 60 s", fraction: |t| 0.05 * (t / 60.0).floor() },
        Shape {
            label: "bursts: 10%/min for 20 s of every 60 s",
            fraction: |t| {
                let cycles = (t / 60.0).floor();
                0.10 / 3.0 * cycles + 0.10 / 60.0 * (t - cycles * 60.0).min(20.0)
            },
        },
        Shape {
            label: "20%/min, halving every 10 min",
            fraction: |t| {
                let half_life = 600.0 / std::f64::consts::LN_2;
                0.20 / 60.0 * half_life * (1.0 - (-t / half_life).exp())
            },
        },
        Shape { label: "1%/min, 10% faster every 2 min", fraction: |t| 0.01 / 60.0 * t * (1.0 + 0.1 * t / 120.0) },
    ];
    for shape in &shapes {
        let mut delays = Vec::new();
        let mut total = 0;
        for s in &series {
            for k in 0..3 {
                let at = 210_000.0 + k as f64 * 100_000.0;
                total += 1;
                let points = s.extended(at + 3_600_000.0);
                if let (_, Some(d)) = run(Which::Trend(trend), &points, s.median_heap(), Some((shape, at))) {
                    delays.push(d);
                }
            }
        }
        delays.sort_by(|a, b| a.total_cmp(b));
        let (m, slowest) = match (delays.get(delays.len() / 2), delays.last()) {
            (Some(&m), Some(&l)) => (fmt_s(m), fmt_s(l)),
            _ => ("-".into(), "-".into()),
        };
        println!("| {} | {}/{total} | {m} | {slowest} |", shape.label, delays.len());
    }
    // Cost per observation, the detector alone (series built beforehand), median of 5 passes.
    let long: Vec<(f64, u64)> = series.iter().flat_map(|s| s.extended(4.0 * 3_600_000.0)).enumerate().map(|(i, (_, v))| (i as f64 * 400.0, v)).collect();
    let time = |f: &mut dyn FnMut(u64, f64) -> bool| {
        let mut runs: Vec<f64> = (0..5)
            .map(|_| {
                let started = Instant::now();
                let mut n = 0u32;
                for &(t, v) in &long {
                    n += u32::from(f(v, t));
                }
                std::hint::black_box(n);
                started.elapsed().as_nanos() as f64 / long.len() as f64
            })
            .collect();
        runs.sort_by(|a, b| a.total_cmp(b));
        runs[2]
    };
    let trend_ns = time(&mut {
        let mut d = TrendDetector::new(TrendConfig::default());
        move |v, t| d.observe(v, t).is_some()
    });
    let memwatch_ns = time(&mut {
        let mut d = LeakDetector::new(LeakConfig::default());
        move |v, t| d.observe(v, t).is_some()
    });
    println!(
        "\ncost per full GC ({} observations, median of 5 passes): trend {trend_ns:.0} ns, memwatch rule {memwatch_ns:.0} ns",
        long.len()
    );
    println!("\n| detector | control hours | false alarms | per 100 h | by series |");
    println!("|---|---|---|---|---|");
    for (label, which) in detectors {
        let mut alarms = 0u32;
        let mut by: Vec<String> = Vec::new();
        let mut ran_hours = 0.0;
        for s in &series {
            let mut here = 0;
            for &k in &thinning {
                let points = s.thinned(k).extended(hours * 3_600_000.0);
                ran_hours += points.last().unwrap().0 / 3_600_000.0;
                here += run(which, &points, 0.0, None).0;
            }
            alarms += here;
            if here > 0 {
                by.push(format!("{} {here}", s.name));
            }
        }
        println!(
            "| {label} | {ran_hours:.0} | {alarms} | {:.2} | {} |",
            100.0 * f64::from(alarms) / ran_hours,
            if by.is_empty() { "-".to_string() } else { by.join(", ") }
        );
    }
    // Fresh starts: a live control run is judged on its first minutes after the warm-up, which a
    // recording played once from its start covers once. Here each recording (and its thinned
    // forms) is started every 15 s into it and run 12 minutes: the first tested windows then fall
    // on every part of it.
    println!("\n| detector | fresh starts (12 min each) | with a false alarm | share | by series |");
    println!("|---|---|---|---|---|");
    for (label, which) in detectors {
        let (mut starts, mut alarmed) = (0u32, 0u32);
        let mut by: Vec<String> = Vec::new();
        for s in &series {
            let mut here = 0;
            for &k in &thinning {
                for (_, points) in s.thinned(k).fresh_starts() {
                    starts += 1;
                    if run(which, &points, 0.0, None).0 > 0 {
                        here += 1;
                    }
                }
            }
            alarmed += here;
            if here > 0 {
                by.push(format!("{} {here}", s.name));
            }
        }
        println!(
            "| {label} | {starts} | {alarmed} | {:.1}% | {} |",
            100.0 * f64::from(alarmed) / f64::from(starts.max(1)),
            if by.is_empty() { "-".to_string() } else { by.join(", ") }
        );
    }
}
