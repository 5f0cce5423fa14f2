//! The trend detector against the recorded post-GC series of real programs (fixtures/series):
//! every injected leak rate caught within its claimed delay, and no false alarm on the controls
//! (warm-up, a cache filling, batch cycles, one step, bursts, a shrinking heap, steady noise).
//! The full table, with memwatch's rule beside it: `cargo run --release -p memwatch-core
//! --example detector_table`.
use memwatch_core::replay::{median_p95, run, Series, Which, RATES};
use memwatch_core::trend::TrendConfig;

fn fixtures() -> Vec<Series> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/series");
    let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    let series: Vec<Series> = paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .map(|p| Series::parse(&p.file_stem().unwrap().to_string_lossy(), &std::fs::read_to_string(p).unwrap()).unwrap())
        .collect();
    assert!(series.len() >= 8, "recorded series: {}", series.len());
    series
}

const TREND: Which = Which::Trend(TrendConfig {
    min_window_ms: 20_000,
    scales: 9,
    min_growth_percent: 3.0,
    reminder_ms: 30 * 60_000,
    warmup_ms: 180_000,
    min_growth_abs: 0.0,
});

#[test]
fn defaults_are_the_ones_measured_here() {
    assert_eq!(TREND, Which::Trend(TrendConfig::default()));
}

#[test]
fn no_false_alarm_on_any_control_with_all_or_few_of_its_full_gcs() {
    let hours = 8.0;
    let mut total_hours = 0.0;
    for s in fixtures() {
        for k in [1, 2, 4] {
            let points = s.thinned(k).extended(hours * 3_600_000.0);
            total_hours += hours;
            let (alarms, _) = run(TREND, &points, 0.0, None);
            assert_eq!(alarms, 0, "{} with 1/{k} of its full GCs", s.name);
        }
    }
    assert!(total_hours >= 200.0);
}

#[test]
fn every_leak_rate_is_caught_within_its_claimed_median_delay() {
    let series = fixtures();
    // (rate, claimed median delay in seconds): what the table measures, with a margin.
    let claims = [(RATES[0], 45.0), (RATES[1], 120.0), (RATES[2], 420.0), (RATES[3], 900.0), (RATES[4], 3.0 * 3600.0)];
    for (rate, claim) in claims {
        let mut delays = Vec::new();
        let mut total = 0;
        for s in &series {
            let reference = s.median_heap();
            for k in 0..3 {
                let at = 210_000.0 + k as f64 * 40_000.0;
                let horizon = if rate.per_ms > 60_000.0 { 4.0 * 3_600_000.0 } else { 3_600_000.0 };
                let points = s.extended(at + horizon);
                total += 1;
                let (alarms, delay) = run(TREND, &points, reference, Some((rate, at)));
                assert_eq!(alarms, 0, "{} before a {} leak", s.name, rate.label);
                delays.extend(delay);
            }
        }
        assert_eq!(delays.len(), total, "{}: caught {} of {total}", rate.label, delays.len());
        let (median, _) = median_p95(&mut delays).unwrap();
        assert!(median / 1000.0 <= claim, "{}: median delay {:.0} s, claimed {claim} s", rate.label, median / 1000.0);
    }
}

#[test]
fn shifted_starts_rebase_time_and_keep_the_samples_after_the_offset() {
    let s = Series::parse("s", "0 10\n1000 11\n2000 12\n3000 13\n4000 14\n").unwrap();
    let t = s.shifted(1500.0);
    assert_eq!(t.points, vec![(500.0, 12), (1500.0, 13), (2500.0, 14)]);
}

/// A live control run is judged on its first minutes after the warm-up; a recording played once
/// covers that moment once. Started every 15 s into each recording (and its thinned forms) and
/// run 12 minutes, no control raises a 'leak'.
#[test]
fn no_false_alarm_from_fresh_starts_anywhere_in_a_control() {
    let mut starts = 0;
    for s in fixtures() {
        for k in [1usize, 2, 4] {
            let thinned = s.thinned(k);
            for (offset, points) in thinned.fresh_starts() {
                starts += 1;
                let (alarms, _) = run(TREND, &points, 0.0, None);
                assert_eq!(alarms, 0, "{} started {:.0} s in: {alarms} false alarm(s)", thinned.name, offset / 1000.0);
            }
        }
    }
    assert!(starts > 200, "fresh starts: {starts}");
}
