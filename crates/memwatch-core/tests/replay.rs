//! The trend detector against the recorded post-GC series of real programs (fixtures/series):
//! every injected leak rate caught within its claimed delay, and no false alarm on the controls
//! (warm-up, a cache filling, batch cycles, one step, bursts, a shrinking heap, steady noise).
//! The full table, with memwatch's rule beside it: `cargo run --release -p memwatch-core
//! --example detector_table`.
use memwatch_core::replay::{median_p95, run, Series, Which, RATES};
use memwatch_core::trend::{TrendConfig, TrendDetector};

fn fixtures() -> Vec<Series> {
    let series = fixtures_in(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/series"));
    assert!(series.len() >= 8, "recorded series: {}", series.len());
    series
}

fn fixtures_in(dir: &str) -> Vec<Series> {
    let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .map(|p| Series::parse(&p.file_stem().unwrap().to_string_lossy(), &std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

const TREND: Which = Which::Trend(TrendConfig {
    min_window_ms: 20_000,
    scales: 9,
    min_growth_percent: 3.0,
    reminder_ms: 30 * 60_000,
    warmup_ms: 180_000,
    min_growth_abs: 0.0,
    noise_factor: memwatch_core::trend::NOISE_FACTOR,
    min_concordance: memwatch_core::trend::MIN_CONCORDANCE,
    new_share: 0.5,
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
                let (alarms, delay) = run(TREND, &points, reference, Some((&rate, at)));
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

/// The known hard case (fixtures/open): a session store that, with four copies of the service
/// on two cores, serves a sixth of its usual requests and so is still filling, ever slower, well
/// after the warm-up. All four runs raised a 'leak' live with the detector before the "not
/// slowing" test. Replayed as they happened (once, from the start, 12 minutes), only the fourth
/// still does: besides the slow fill it has a 6% step in 20 s (169-211 s) after a flat minute,
/// which its 20-s window takes for a leak. Started at other moments some raise one too (see the
/// README), which is why they stay apart from the passing fixtures.
#[test]
fn the_contended_session_store_runs_as_recorded_raise_nothing_but_for_one_step() {
    let open = fixtures_in(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/open"));
    let mut raised = Vec::new();
    for s in &open {
        let points = s.extended(12.0 * 60_000.0);
        if run(TREND, &points, 0.0, None).0 > 0 {
            raised.push(s.name.as_str());
        }
    }
    assert!(open.len() == 4 && raised.iter().all(|&n| n == "sessions-contended-4"), "raised a 'leak': {raised:?}");
}

/// A real leak that slows down (fixtures/leaks/memo-cache.txt, recorded live): the service slows
/// as its heap grows from 5 to 670 MB, and so does its leak. The "not slowing" test must not take
/// that for a fill levelling off: caught within a minute of the warm-up (at 224 s; with the test
/// at 1.0 instead of 0.8, at 271 s).
#[test]
fn a_leak_that_slows_with_its_service_is_caught_soon_after_the_warm_up() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/leaks/memo-cache.txt");
    let s = Series::parse("memo-cache", &std::fs::read_to_string(path).unwrap()).unwrap();
    let mut d = TrendDetector::new(TrendConfig::default());
    let first = s.points.iter().find(|&&(t, v)| d.observe(v, 1.7e12 + t).is_some()).map(|p| p.0 / 1000.0);
    assert!(first.is_some_and(|t| (180.0..=240.0).contains(&t)), "first 'leak' at {first:?} s");
}
