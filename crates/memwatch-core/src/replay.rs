//! The replay harness: runs a leak detector over recorded post-GC series, with and without
//! injected leaks, thousands of simulated hours in seconds.
//!
//! Series are recorded from real programs (`bench/scenarios/run-one.js --record`, kept under
//! `fixtures/series/`): one line per full GC, `<ms since start> <used heap after the GC>`,
//! `#` comments first. A control series is made as long as needed by playing the recording once
//! (warm-up included) and then its second half back and forth (forward, reversed, forward...),
//! which keeps its noise and its GC rhythm without adding jumps. A leak is injected by adding, from
//! a chosen moment, a linear ramp (`Rate`: a fraction of the series' median heap per minute) or
//! any other shape (`Shape`).
//! Not here: what a good detector is (see `trend`), or the live runs (`npm run scenarios`).

use crate::leak::{LeakConfig, LeakDetector};
use crate::trend::{TrendConfig, TrendDetector};

/// One recorded series.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    /// `(ms since start, post-GC heap bytes)`, time ascending.
    pub points: Vec<(f64, u64)>,
}

impl Series {
    /// Parses the fixture format; `Err` names the line that is wrong.
    pub fn parse(name: &str, text: &str) -> Result<Series, String> {
        let mut points = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            let t = parts.next().and_then(|x| x.parse::<f64>().ok());
            let v = parts.next().and_then(|x| x.parse::<u64>().ok());
            match (t, v) {
                (Some(t), Some(v)) if t.is_finite() => points.push((t, v)),
                _ => return Err(format!("{name}: line {}: expected '<ms> <bytes>', got {line:?}", i + 1)),
            }
        }
        if points.len() < 4 {
            return Err(format!("{name}: only {} samples", points.len()));
        }
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        Ok(Series { name: name.to_string(), points })
    }

    pub fn duration_ms(&self) -> f64 {
        self.points.last().map_or(0.0, |p| p.0) - self.points[0].0
    }

    /// Median heap of the recording: the reference a leak rate is a percentage of.
    pub fn median_heap(&self) -> f64 {
        let mut v: Vec<u64> = self.points.iter().map(|p| p.1).collect();
        v.sort_unstable();
        v[v.len() / 2] as f64
    }

    /// The same program seen by fewer full GCs: every `k`-th sample kept (a process that runs
    /// fewer full GCs a minute), on the same timeline, so warm-ups and leaks keep their pace.
    pub fn thinned(&self, k: usize) -> Series {
        Series { name: format!("{} 1/{k}", self.name), points: self.points.iter().step_by(k.max(1)).copied().collect() }
    }

    /// The same program started `offset_ms` into the recording: the samples from there on,
    /// with time counted from the offset. A live run is judged on its first minutes after the
    /// warm-up, and a recording started once covers that moment once; shifted starts put the
    /// detector's first tested windows on every part of the recording.
    pub fn shifted(&self, offset_ms: f64) -> Series {
        let t0 = self.points[0].0 + offset_ms;
        let points: Vec<(f64, u64)> = self.points.iter().filter(|p| p.0 >= t0).map(|&(t, v)| (t - t0, v)).collect();
        Series { name: format!("{} +{:.0}s", self.name, offset_ms / 1000.0), points }
    }

    /// Fresh starts of this recording: started every [`FRESH_START_STEP_MS`] into it (while a
    /// minute of it is left) and extended to [`FRESH_START_RUN_MS`] each, as `(offset_ms, points)`.
    pub fn fresh_starts(&self) -> Vec<(f64, Vec<(f64, u64)>)> {
        let mut out = Vec::new();
        let mut offset = 0.0;
        while offset + 60_000.0 < self.duration_ms() {
            let shifted = self.shifted(offset);
            if shifted.points.len() >= 4 {
                out.push((offset, shifted.extended(FRESH_START_RUN_MS)));
            }
            offset += FRESH_START_STEP_MS;
        }
        out
    }

    /// The recording once, then its second half back and forth until `duration_ms`.
    pub fn extended(&self, duration_ms: f64) -> Vec<(f64, u64)> {
        let mut out = self.points.clone();
        let half = &self.points[self.points.len() / 2..];
        if half.len() < 2 {
            return out;
        }
        let mut forward = false;
        while out.last().map_or(0.0, |p| p.0) < duration_ms {
            let last_t = out.last().unwrap().0;
            // Mirror the half: intervals in reverse order on reversed passes.
            let seq: Vec<(f64, u64)> = if forward { half.to_vec() } else { half.iter().rev().copied().collect() };
            let mut t = last_t;
            for w in 1..seq.len() {
                t += (seq[w].0 - seq[w - 1].0).abs().max(1.0);
                out.push((t, seq[w].1));
            }
            forward = !forward;
        }
        out.retain(|p| p.0 <= duration_ms);
        out
    }
}

/// How far apart the fresh starts of [`Series::fresh_starts`] are, and how long each runs.
pub const FRESH_START_STEP_MS: f64 = 15_000.0;
pub const FRESH_START_RUN_MS: f64 = 12.0 * 60_000.0;

/// Anything that reads a post-GC series and says "leak".
pub trait SeriesDetector {
    /// Feeds one sample; true when it reports a leak.
    fn feed(&mut self, value: u64, t_ms: f64) -> bool;
}

impl SeriesDetector for TrendDetector {
    fn feed(&mut self, value: u64, t_ms: f64) -> bool {
        self.observe(value, t_ms).is_some_and(|r| !r.reminder)
    }
}

impl SeriesDetector for LeakDetector {
    fn feed(&mut self, value: u64, t_ms: f64) -> bool {
        self.observe(value, t_ms).is_some()
    }
}

/// The detectors compared in the table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Which {
    Trend(TrendConfig),
    Memwatch(LeakConfig),
}

impl Which {
    pub fn build(self) -> Box<dyn SeriesDetector> {
        match self {
            Which::Trend(c) => Box::new(TrendDetector::new(c)),
            Which::Memwatch(c) => Box::new(LeakDetector::new(c)),
        }
    }
}

/// A leak rate: `fraction` of the median heap per `per_ms`.
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    pub label: &'static str,
    pub fraction: f64,
    pub per_ms: f64,
}

pub const RATES: [Rate; 5] = [
    Rate { label: "100%/min", fraction: 1.0, per_ms: 60_000.0 },
    Rate { label: "25%/min", fraction: 0.25, per_ms: 60_000.0 },
    Rate { label: "5%/min", fraction: 0.05, per_ms: 60_000.0 },
    Rate { label: "1%/min", fraction: 0.01, per_ms: 60_000.0 },
    Rate { label: "10%/hour", fraction: 0.10, per_ms: 3_600_000.0 },
];

/// A leak to inject into a series.
pub trait Leak {
    /// The bytes it has added `since_ms` after it started, to a series whose median heap is
    /// `reference`.
    fn leaked(&self, since_ms: f64, reference: f64) -> f64;
}

impl Leak for Rate {
    fn leaked(&self, since_ms: f64, reference: f64) -> f64 {
        self.fraction * reference * since_ms / self.per_ms
    }
}

/// A leak of any shape (steps, bursts, fading, speeding up): `fraction(seconds since its start)`
/// of the median heap.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub label: &'static str,
    pub fraction: fn(f64) -> f64,
}

impl Leak for Shape {
    fn leaked(&self, since_ms: f64, reference: f64) -> f64 {
        (self.fraction)(since_ms / 1000.0) * reference
    }
}

/// Runs `which` over `points` with `leak` starting at its time (None: no leak).
/// Returns (false alarms before the leak, ms from the leak's start to the first report after it).
pub fn run(which: Which, points: &[(f64, u64)], reference: f64, leak: Option<(&dyn Leak, f64)>) -> (u32, Option<f64>) {
    let mut d = which.build();
    let mut false_alarms = 0;
    for &(t, v) in points {
        let leaked = match leak {
            Some((l, at)) if t > at => l.leaked(t - at, reference) as u64,
            _ => 0,
        };
        if d.feed(v.saturating_add(leaked), t) {
            match leak {
                Some((_, at)) if t > at => return (false_alarms, Some(t - at)),
                _ => {
                    if std::env::var_os("REPLAY_VERBOSE").is_some() {
                        eprintln!("false alarm at {:.0} s (heap {v})", t / 1000.0);
                    }
                    false_alarms += 1
                }
            }
        }
    }
    (false_alarms, None)
}

/// Median and 95th percentile (nearest rank) of `values`; None when empty.
pub fn median_p95(values: &mut [f64]) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let rank = |q: f64| values[((q * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1];
    Some((rank(0.5), rank(0.95)))
}
