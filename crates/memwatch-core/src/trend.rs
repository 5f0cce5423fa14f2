//! The default 'leak' detector: a robust trend test on the floor of the post-GC heap, at several
//! time scales at once, calibrated against the noise of the same series.
//!
//! Why not memwatch's "5 rises in a row": a service with medium-lived data (in-flight requests,
//! TTL caches, buffers) has post-GC bases that jitter by 5-10% from one full GC to the next, so a
//! steadily leaking heap practically never rises five times in a row, while a noisy steady one
//! sometimes does. What a leak does change is the *floor* of the series: the least the heap falls
//! back to after a GC rises and keeps rising.
//!
//! How it decides, per time scale `W` (20 s, 40 s, 80 s, 160 s, then three per doubling up to
//! ~85 min: 202 s, 254 s, 320 s, ...), once the warm-up (the
//! first three minutes, when a service's caches, pools and sessions fill) is over:
//! - Full GCs are grouped into time buckets of `W / 8`; each bucket keeps its floor (the least
//!   base seen), how many GCs it saw, and when. Jitter from medium-lived data sits on top of the
//!   floor; a cycle shorter than a bucket vanishes into it.
//! - When a bucket closes, the last 8 buckets are tested. It fires only if all of these hold:
//!   1. *monotone*: Mann-Kendall's S over the floors is at least [`MIN_CONCORDANCE`] of its
//!      maximum (pairs of buckets that rise, minus pairs that fall): a wandering or cycling heap
//!      is not;
//!   2. *steady*: each half of the window rose by at least half of what the Theil-Sen slope of the
//!      whole predicts for it, and the second half by at least 0.4 times the first: one step (a
//!      config reload) rises in one half only, a warm-up or a cache that levels off mostly in the
//!      first;
//!   3. *large*: the trend's rise over the window is at least `min_growth_percent` of the heap,
//!      and at least [`NOISE_FACTOR`] times the noise (the median absolute deviation of the
//!      floors from the trend line): calibrated against the series itself;
//!   4. *new*: the heap ends above every bucket floor of the three windows (at least ten
//!      minutes) before this one, by at least half the window's rise: a batch job's heap that returns to the
//!      level of its previous cycle, or recovers after a dip, is not a new leak.
//!   5. *not slowing*: the window rises at least [`NOT_SLOWING`] (0.8) times as fast as the
//!      floors of the three windows (at least 160 s) before it, at the same scale (Theil-Sen
//!      slopes): a cache or session store whose fill slows down as it nears its bound is not a
//!      leak yet, while a leak keeps its pace, and one that has just started outpaces what came
//!      before. (The forced-GC path skips this test: a harness's samples start with the leak.)
//! - A second path catches a test harness that leaks between `gc()` calls within 10 calls: the
//!   last [`QUIET_SAMPLES`] samples, each from a forced GC (confirmed by the back-to-back GC that
//!   `gc()` runs after it), pass the same four tests and, in call order, lie on a straight line
//!   to within a tenth of the per-call rise (a harness leaks per call; its calls slow down as
//!   the heap grows, so in time the same samples bend). Natural GCs never take this path: a natural
//!   series can be smooth for a while (a batch filling up, a warm-up) without being a leak.
//!
//! One report per leak episode; while the heap keeps growing the episode goes on and is reported
//! again at most once per `reminder_ms`; it ends (re-arms) once no scale has seen growth for
//! twice the window that first reported it, and the next episode must be growth seen wholly
//! after that. State is bounded: a fixed number of buckets per scale.

use crate::format::{nice_duration_short, nice_size};

/// Buckets in a test window.
pub const WINDOW_BUCKETS: usize = 8;
/// Time scales per doubling of the window, from 160 s on. A leak is seen once it fills most of a
/// window, so with one window per doubling a leak just too slow for one window waits for the
/// next, twice as long: measured on the replay table, three per doubling took 1%/min from 10.4
/// to 9.1 min (median; p95 22.1 to 15.0 min) and 5%/min from 4.9 to 4.5 min, with still no
/// false alarm over 2,340 control hours, for ~75 ns per full GC instead of ~40 ns.
pub const SCALES_PER_OCTAVE: u32 = 3;
/// The denser scales start at `min_window_ms * 2^DENSE_FROM_OCTAVE` (160 s): the short windows
/// are the ones a burst (a TTL cache filling over half a minute) can fool, and with extra short
/// windows a live ttl-burst control raised a false alarm; slow leaks gain from the long ones.
const DENSE_FROM_OCTAVE: u32 = 3;
/// Windows of history kept before the test window, for the "new" check (at least
/// LOOKBACK_MIN_MS of it, from larger scales: longer than the cycle of most batch jobs).
const LOOKBACK_WINDOWS: usize = 3;
const LOOKBACK_MIN_MS: f64 = 10.0 * 60_000.0;
/// Mann-Kendall S / its maximum that counts as monotone.
pub const MIN_CONCORDANCE: f64 = 0.70;
/// The window's rise must be this many times the noise of the floors around the trend.
pub const NOISE_FACTOR: f64 = 4.0;
/// Each half of a window must rise by at least this share of what the trend predicts for it.
pub const STEADY_SHARE: f64 = 0.5;
/// Samples in the quiet (forced-GC) path.
pub const QUIET_SAMPLES: usize = 8;
/// A window's slope must be at least this share of the slope of the history just before it: a
/// cache, a session store or a warm-up that fills ever slower is not a leak (yet), while a leak
/// keeps its pace (or, started in this window, outpaces a flat history). Not 1: a leak slows a
/// little too as its service slows under the growing heap (a live memo-cache leak from 5 to
/// 670 MB grew at 0.8-1.0 times its previous pace, and at 1 was caught 47 s later), while the
/// fills seen slow to about half; 0.8 halved the false alarms on the contended session store
/// (34 to 17 of 192 fresh starts) and changed no row of the main table by more than 0.1 min but
/// one (5%/min from the start, 7.4 to 8.4 min).
pub const NOT_SLOWING: f64 = 0.8;
/// What the window is compared with for [`NOT_SLOWING`]: the history of its scale just before
/// it, this many windows and at least [`NOT_SLOWING_MIN_MS`] (as much as there is, early on).
/// Over one window alone the slopes are too noisy to tell a fill from a leak.
const NOT_SLOWING_WINDOWS: usize = 3;
const NOT_SLOWING_MIN_MS: f64 = 160_000.0;
/// Buckets of a window that must hold at least one GC.
const MIN_FILLED_BUCKETS: usize = 6;

/// Tunables of the trend detector.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrendConfig {
    /// The shortest window, ms (the others double it).
    pub min_window_ms: u64,
    /// How many doublings of `min_window_ms` the windows span, counting the first: windows
    /// `min_window_ms * 2^(k / SCALES_PER_OCTAVE)` for k up to `SCALES_PER_OCTAVE * (scales - 1)`
    /// (9: 20 s to ~85 min).
    pub scales: u32,
    /// A window's rise must be at least this percent of the heap at its start.
    pub min_growth_percent: f64,
    /// While one leak episode goes on, report it again at most this often (0: never again).
    pub reminder_ms: u64,
    /// Warm-up: windows that begin within this long of the first sample are not tested (they
    /// still serve as history). A service's heap climbs for its first tens of seconds while
    /// caches, pools and TTL'd data fill to their steady level, and from the series alone that
    /// is a leak. The forced-GC path is exempt: a harness's samples are exact.
    pub warmup_ms: u64,
    /// A window's rise must also be at least this much, in the series' own unit (0: no floor).
    /// For small counts (file descriptors, timers) a percentage alone is too little: 4 fds
    /// becoming 5 is 25%.
    pub min_growth_abs: f64,
    /// The window's rise must be at least this many times the noise ([`NOISE_FACTOR`]).
    pub noise_factor: f64,
    /// Mann-Kendall S / its maximum that counts as monotone ([`MIN_CONCORDANCE`]).
    pub min_concordance: f64,
    /// How far above every floor of the lookback the window must end, as a share of its rise
    /// (0.5: the "new" test).
    pub new_share: f64,
}

impl Default for TrendConfig {
    fn default() -> Self {
        TrendConfig {
            min_window_ms: 20_000,
            scales: 9,
            min_growth_percent: 3.0,
            reminder_ms: 30 * 60_000,
            warmup_ms: 180_000,
            min_growth_abs: 0.0,
            noise_factor: NOISE_FACTOR,
            min_concordance: MIN_CONCORDANCE,
            new_share: 0.5,
        }
    }
}

/// A leak as the trend detector reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct TrendReport {
    /// Start of the episode (ms since the epoch): the start of the first window that showed it.
    pub start_ms: f64,
    pub end_ms: f64,
    /// Growth of the trend from `start_ms` to `end_ms`, bytes.
    pub growth: u64,
    /// Slope of the trend, bytes per second.
    pub rate: f64,
    /// Full GCs in the window that decided.
    pub gcs: u64,
    /// The heap (floor) now, on the trend line, bytes.
    pub current: f64,
    /// Whether this is a reminder of an episode already reported.
    pub reminder: bool,
}

#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    /// Least base in the bucket (u64::MAX when empty).
    floor: u64,
    gcs: u32,
    /// Time of the floor sample, ms.
    t_ms: f64,
}

impl Bucket {
    const EMPTY: Bucket = Bucket { floor: u64::MAX, gcs: 0, t_ms: 0.0 };
    fn add(&mut self, base: u64, t_ms: f64) {
        if base < self.floor {
            self.floor = base;
            self.t_ms = t_ms;
        }
        self.gcs += 1;
    }
    fn filled(&self) -> bool {
        self.gcs > 0
    }
}

/// One time scale: a fixed-size ring of closed buckets, oldest first, plus the open one. It
/// keeps the test window and, before it, enough history for the "new" check at its own
/// resolution (floors of equal-sized buckets compare like with like).
#[derive(Clone, Debug)]
struct Scale {
    bucket_ms: f64,
    /// Index of the open bucket since the origin.
    open_index: i64,
    open: Bucket,
    closed: Vec<Bucket>,
    /// Valid closed buckets at the end of `closed` (it fills up from the right).
    len: usize,
}

impl Scale {
    fn new(bucket_ms: f64) -> Self {
        let window_ms = bucket_ms * WINDOW_BUCKETS as f64;
        let lookback = (LOOKBACK_WINDOWS as f64 * window_ms).max(LOOKBACK_MIN_MS);
        let kept = WINDOW_BUCKETS + (lookback / bucket_ms).ceil() as usize;
        Scale { bucket_ms, open_index: 0, open: Bucket::EMPTY, closed: vec![Bucket::EMPTY; kept], len: 0 }
    }

    fn push_closed(&mut self, b: Bucket) {
        let kept = self.closed.len();
        self.closed.rotate_left(1);
        self.closed[kept - 1] = b;
        self.len = (self.len + 1).min(kept);
    }

    /// Moves time to `rel_ms`; returns whether at least one bucket closed.
    fn advance(&mut self, rel_ms: f64) -> bool {
        let index = (rel_ms / self.bucket_ms).floor() as i64;
        if index <= self.open_index {
            return false;
        }
        let gap = (index - self.open_index).min(self.closed.len() as i64 + 1);
        let open = std::mem::replace(&mut self.open, Bucket::EMPTY);
        self.push_closed(open);
        for _ in 1..gap {
            self.push_closed(Bucket::EMPTY);
        }
        self.open_index = index;
        true
    }

    /// When the test window (the last WINDOW_BUCKETS closed buckets) begins, ms since the origin.
    fn window_start_ms(&self) -> f64 {
        (self.open_index - WINDOW_BUCKETS as i64) as f64 * self.bucket_ms
    }

    fn window(&self) -> &[Bucket] {
        &self.closed[self.closed.len() - WINDOW_BUCKETS..]
    }

    /// The filled buckets just before the test window that the "not slowing" test compares it
    /// with, as `(t_ms, floor)`: [`NOT_SLOWING_WINDOWS`] windows, at least
    /// [`NOT_SLOWING_MIN_MS`], or what history there is.
    fn before_window(&self) -> Vec<(f64, f64)> {
        let kept = self.closed.len();
        let wanted = (NOT_SLOWING_WINDOWS * WINDOW_BUCKETS).max((NOT_SLOWING_MIN_MS / self.bucket_ms).ceil() as usize);
        let span = wanted.min(self.len.saturating_sub(WINDOW_BUCKETS));
        self.closed[kept - WINDOW_BUCKETS - span..kept - WINDOW_BUCKETS]
            .iter()
            .filter(|b| b.filled())
            .map(|b| (b.t_ms, b.floor as f64))
            .collect()
    }

    /// Floors of the filled buckets before the window.
    fn lookback(&self) -> impl Iterator<Item = f64> + '_ {
        let kept = self.closed.len();
        let have = self.len.saturating_sub(WINDOW_BUCKETS);
        self.closed[kept - WINDOW_BUCKETS - have..kept - WINDOW_BUCKETS].iter().filter(|b| b.filled()).map(|b| b.floor as f64)
    }
}

/// What the four tests found in one window.
#[derive(Clone, Copy, Debug)]
struct Trend {
    slope_per_ms: f64,
    start_ms: f64,
    end_ms: f64,
    start_value: f64,
    end_value: f64,
    gcs: u64,
}

/// Mann-Kendall S over `ys` (in time order): concordant minus discordant pairs.
fn mann_kendall(ys: &[f64]) -> i64 {
    let mut s = 0i64;
    for i in 0..ys.len() {
        for j in i + 1..ys.len() {
            s += (ys[j] - ys[i]).partial_cmp(&0.0).map_or(0, |o| o as i64);
        }
    }
    s
}

pub(crate) fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Theil-Sen line through `(xs, ys)`: (slope, intercept), robust to a few outliers.
pub(crate) fn theil_sen(xs: &[f64], ys: &[f64]) -> (f64, f64) {
    let mut slopes = Vec::with_capacity(xs.len() * xs.len() / 2);
    for i in 0..xs.len() {
        for j in i + 1..xs.len() {
            let dx = xs[j] - xs[i];
            if dx > 0.0 {
                slopes.push((ys[j] - ys[i]) / dx);
            }
        }
    }
    let slope = median(&mut slopes);
    let mut intercepts: Vec<f64> = xs.iter().zip(ys).map(|(x, y)| y - slope * x).collect();
    (slope, median(&mut intercepts))
}

/// The four tests of the module doc over points `(t_ms, floor, gcs)`; `before` are the floors of
/// the lookback. `Some` when the window shows a steady, large, new rise.
fn steady_rise(points: &[(f64, f64, u32)], before: &[f64], config: &TrendConfig, quiet: bool) -> Option<Trend> {
    let min_growth_percent = config.min_growth_percent;
    let n = points.len();
    if n < MIN_FILLED_BUCKETS.min(QUIET_SAMPLES) {
        return None;
    }
    let t0 = points[0].0;
    let xs: Vec<f64> = points.iter().map(|p| p.0 - t0).collect();
    let ys: Vec<f64> = points.iter().map(|p| p.1).collect();
    // 1. monotone
    let max_s = (n * (n - 1) / 2) as f64;
    if (mann_kendall(&ys) as f64) < config.min_concordance * max_s {
        return None;
    }
    let (slope, intercept) = theil_sen(&xs, &ys);
    if slope <= 0.0 {
        return None;
    }
    let span = xs[n - 1];
    let rise = slope * span;
    let start_value = intercept;
    let end_value = intercept + rise;
    // 2. steady: each half rose by at least a quarter of its share of the trend.
    let half = n / 2;
    let half_rise = |a: usize, b: usize| {
        let (s, _) = theil_sen(&xs[a..b], &ys[a..b]);
        s * (xs[b - 1] - xs[a])
    };
    let first = half_rise(0, half);
    let second = half_rise(n - half, n);
    let share = |a: usize, b: usize| slope * (xs[b - 1] - xs[a]);
    if first < STEADY_SHARE * share(0, half) || second < STEADY_SHARE * share(n - half, n) || second < 0.4 * first {
        return None;
    }
    // 3. large, against the heap and against the noise of this very series.
    // (A count may start at zero: then the absolute floor alone sizes the rise.)
    let no_scale = start_value <= 0.0 && config.min_growth_abs <= 0.0;
    if no_scale || rise < min_growth_percent / 100.0 * start_value.max(0.0) || rise < config.min_growth_abs {
        return None;
    }
    let mut residuals: Vec<f64> = xs.iter().zip(&ys).map(|(x, y)| (y - (intercept + slope * x)).abs()).collect();
    let noise = 1.4826 * median(&mut residuals);
    if rise < config.noise_factor * noise {
        return None;
    }
    if quiet && noise > 0.1 * rise / (n - 1) as f64 {
        // The forced-GC path: every sample on the line within a tenth of one step.
        return None;
    }
    // 4. new: above everything of the lookback by half the rise.
    let high = before.iter().copied().fold(f64::MIN, f64::max);
    if before.is_empty() || end_value - high >= config.new_share * rise {
        let gcs = points.iter().map(|p| u64::from(p.2)).sum();
        return Some(Trend { slope_per_ms: slope, start_ms: t0, end_ms: points[n - 1].0, start_value, end_value, gcs });
    }
    None
}

#[derive(Clone, Copy, Debug)]
struct Episode {
    start_ms: f64,
    start_value: f64,
    last_report_ms: f64,
    last_growth_ms: f64,
    window_ms: f64,
}

/// The trend detector of one series (the heap's post-GC base, or any resource count).
#[derive(Clone, Debug)]
pub struct TrendDetector {
    config: TrendConfig,
    origin_ms: Option<f64>,
    scales: Vec<Scale>,
    /// The last sample observed: (t_ms, value).
    last: Option<(f64, u64)>,
    /// The last forced samples (confirmed by a back-to-back GC), for the forced-GC path:
    /// (t_ms of the sample, least value of the pair), oldest first. Natural GCs in between
    /// (V8's own, or the sampling's) are not in it.
    forced: [(f64, u64); QUIET_SAMPLES + WINDOW_BUCKETS],
    forced_len: usize,
    episode: Option<Episode>,
    /// When the last episode stopped growing (ms): only growth seen entirely after it starts a
    /// new one, so a long window that still holds the old growth does not report it again.
    rearm_after_ms: f64,
}

impl TrendDetector {
    pub fn new(config: TrendConfig) -> Self {
        let octaves = config.scales.clamp(1, 24) - 1;
        // One window per doubling up to DENSE_FROM_OCTAVE, SCALES_PER_OCTAVE beyond.
        let sparse = octaves.min(DENSE_FROM_OCTAVE);
        let factors = (0..=sparse)
            .map(|k| 2f64.powi(k as i32))
            .chain((1..=(octaves - sparse) * SCALES_PER_OCTAVE).map(|j| {
                2f64.powi(sparse as i32) * 2f64.powf(f64::from(j) / f64::from(SCALES_PER_OCTAVE))
            }));
        let scales = factors
            .map(|factor| Scale::new(config.min_window_ms.max(8) as f64 * factor / WINDOW_BUCKETS as f64))
            .collect();
        TrendDetector {
            config,
            origin_ms: None,
            scales,
            last: None,
            forced: [(0.0, 0); QUIET_SAMPLES + WINDOW_BUCKETS],
            forced_len: 0,
            episode: None,
            rearm_after_ms: f64::MIN,
        }
    }

    pub fn config(&self) -> TrendConfig {
        self.config
    }

    /// Whether a leak episode is going on (reported and still growing).
    pub fn in_episode(&self) -> bool {
        self.episode.is_some()
    }

    /// Feeds one post-GC value at `t_ms` (ms since the epoch).
    pub fn observe(&mut self, value: u64, t_ms: f64) -> Option<TrendReport> {
        let origin = *self.origin_ms.get_or_insert(t_ms);
        let rel = (t_ms - origin).max(0.0);
        let mut found: Option<(Trend, f64)> = None;
        for k in 0..self.scales.len() {
            let scale = &mut self.scales[k];
            // A closed bucket is a new window to test, unless it begins in the warm-up.
            if scale.advance(rel) && scale.window_start_ms() >= self.config.warmup_ms as f64 {
                let window_ms = scale.bucket_ms * WINDOW_BUCKETS as f64;
                if let Some(trend) = self.evaluate(k) {
                    // The largest scale that sees it decides: its figures are the steadiest.
                    found = Some((trend, window_ms));
                }
            }
            self.scales[k].open.add(value, t_ms);
        }
        self.last = Some((t_ms, value));
        self.decide(found, t_ms)
    }

    /// A back-to-back GC (no allocation since the previous one) at `t_ms`: a better reading of
    /// the same moment, so it only lowers the open buckets' floors. It also confirms the last
    /// sample as a forced one, which is when the forced-GC path can decide.
    pub fn refine_last(&mut self, value: u64, t_ms: f64) -> Option<TrendReport> {
        for scale in &mut self.scales {
            if scale.open.filled() && value < scale.open.floor {
                scale.open.floor = value;
            }
        }
        let Some((sample_ms, sample)) = self.last else {
            return None;
        };
        let value = value.min(sample);
        match self.forced[..self.forced_len].last_mut() {
            // Another back-to-back GC of the same sample (snapshots run several).
            Some(last) if last.0 == sample_ms => last.1 = last.1.min(value),
            _ => {
                if self.forced_len == self.forced.len() {
                    self.forced.rotate_left(1);
                    self.forced_len -= 1;
                }
                self.forced[self.forced_len] = (sample_ms, value);
                self.forced_len += 1;
            }
        }
        let found = self.evaluate_quiet().map(|t| (t, t.end_ms - t.start_ms));
        self.decide(found, t_ms)
    }

    fn evaluate(&self, k: usize) -> Option<Trend> {
        let scale = &self.scales[k];
        if scale.len < WINDOW_BUCKETS {
            return None;
        }
        let points: Vec<(f64, f64, u32)> =
            scale.window().iter().filter(|b| b.filled()).map(|b| (b.t_ms, b.floor as f64, b.gcs)).collect();
        if points.len() < MIN_FILLED_BUCKETS {
            return None;
        }
        // A level the heap held for a whole bucket before (the top of a batch cycle, a level
        // before a dip) is not new.
        let before: Vec<f64> = scale.lookback().collect();
        let trend = steady_rise(&points, &before, &self.config, false)?;
        // 5. not slowing: the history just before this window rose not much faster.
        let previous = scale.before_window();
        if previous.len() >= MIN_FILLED_BUCKETS {
            let t0 = previous[0].0;
            let xs: Vec<f64> = previous.iter().map(|p| p.0 - t0).collect();
            let ys: Vec<f64> = previous.iter().map(|p| p.1).collect();
            if trend.slope_per_ms < NOT_SLOWING * theil_sen(&xs, &ys).0 {
                return None;
            }
        }
        Some(trend)
    }

    /// The forced-GC path: the last QUIET_SAMPLES forced samples, with the ones before as
    /// lookback. Only forced GCs (each confirmed by its back-to-back twin, as gc() runs them)
    /// give exact samples; a natural series can be smooth for a while (a batch filling up, a
    /// warm-up), so natural samples never take this path.
    fn evaluate_quiet(&self) -> Option<Trend> {
        if self.forced_len < QUIET_SAMPLES {
            return None;
        }
        let all = &self.forced[..self.forced_len];
        let (before, window) = all.split_at(all.len() - QUIET_SAMPLES);
        let (first_ms, last_ms) = (window[0].0, window[QUIET_SAMPLES - 1].0);
        if last_ms <= first_ms {
            // Same-millisecond samples carry no rate.
            return None;
        }
        // A harness leaks per call, not per second: its calls slow down as the heap grows (each
        // GC has more to mark), so its samples lie on a line in call order, and on a curve in
        // time. Placed evenly over the same span, they keep the window's true duration and rate.
        let step_ms = (last_ms - first_ms) / (QUIET_SAMPLES - 1) as f64;
        let points: Vec<(f64, f64, u32)> =
            window.iter().enumerate().map(|(i, &(_, v))| (first_ms + i as f64 * step_ms, v as f64, 1)).collect();
        let before: Vec<f64> = before.iter().map(|&(_, v)| v as f64).collect();
        steady_rise(&points, &before, &self.config, true)
    }

    fn decide(&mut self, found: Option<(Trend, f64)>, now_ms: f64) -> Option<TrendReport> {
        match (&mut self.episode, found) {
            (None, Some((trend, _))) if trend.start_ms < self.rearm_after_ms => None,
            (None, Some((trend, window_ms))) => {
                self.episode = Some(Episode {
                    start_ms: trend.start_ms,
                    start_value: trend.start_value,
                    last_report_ms: now_ms,
                    last_growth_ms: now_ms,
                    window_ms,
                });
                Some(report(&trend, trend.start_ms, trend.start_value, false))
            }
            (Some(ep), Some((trend, _))) => {
                ep.last_growth_ms = now_ms;
                let reminder = self.config.reminder_ms;
                if reminder > 0 && now_ms - ep.last_report_ms >= reminder as f64 {
                    ep.last_report_ms = now_ms;
                    let (start_ms, start_value) = (ep.start_ms, ep.start_value);
                    return Some(report(&trend, start_ms, start_value, true));
                }
                None
            }
            (Some(ep), None) => {
                if now_ms - ep.last_growth_ms > 2.0 * ep.window_ms {
                    self.rearm_after_ms = ep.last_growth_ms;
                    self.episode = None;
                }
                None
            }
            (None, None) => None,
        }
    }
}

fn report(trend: &Trend, start_ms: f64, start_value: f64, reminder: bool) -> TrendReport {
    TrendReport {
        start_ms,
        end_ms: trend.end_ms,
        growth: (trend.end_value - start_value).max(0.0).round() as u64,
        rate: trend.slope_per_ms * 1000.0,
        gcs: trend.gcs,
        current: trend.end_value,
        reminder,
    }
}

/// The 'leak' reason for a trend report: `heap grew 14.2 mb in 41s (20.8 mb/min, steady over 37
/// full GCs); at this rate it reaches its 4 gb limit in 3h 12m`.
pub fn trend_reason(what: &str, r: &TrendReport, limit: Option<u64>) -> String {
    let elapsed_s = ((r.end_ms - r.start_ms) / 1000.0).max(0.0);
    let mut text = format!(
        "{what} grew {} in {} ({}/min, steady over {} full GCs)",
        nice_size(r.growth as f64),
        nice_duration_short(elapsed_s),
        nice_size(r.rate * 60.0),
        r.gcs
    );
    if r.reminder {
        text = format!("still growing: {text}");
    }
    if let Some(limit) = limit.filter(|&l| l > 0) {
        match time_to_limit(r.current, r.rate, limit) {
            Some(s) => text.push_str(&format!(
                "; at this rate it reaches its {} limit in {}",
                limit_size(limit),
                nice_duration_short(s)
            )),
            None => text.push_str(&format!("; it is at its {} limit", limit_size(limit))),
        }
    }
    text
}

/// A heap limit as people say it: `4 gb`, `3.5 gb`, `512 mb`.
fn limit_size(bytes: u64) -> String {
    const GIB: f64 = 1_073_741_824.0;
    if bytes as f64 >= GIB {
        let gb = (bytes as f64 / GIB * 100.0).round() / 100.0;
        format!("{} gb", format!("{gb:.2}").trim_end_matches('0').trim_end_matches('.'))
    } else {
        nice_size(bytes as f64)
    }
}

/// Seconds until a trend at `current` rising `rate` bytes/s reaches `limit`; None at or past it.
pub fn time_to_limit(current: f64, rate: f64, limit: u64) -> Option<f64> {
    let left = limit as f64 - current;
    if rate <= 0.0 {
        return Some(f64::INFINITY).filter(|_| left > 0.0);
    }
    (left > 0.0).then(|| left / rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: f64 = 1_048_576.0;

    /// Deterministic noise in [-1, 1).
    struct Noise(u64);
    impl Noise {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 52) as f64 * 2.0 - 1.0
        }
    }

    /// Feeds `heap(t_s)` (bytes) at one full GC every `gc_every_s`, with multiplicative jitter
    /// of up to `jitter` (medium-lived data sits *above* the floor, so jitter only adds), for
    /// `seconds`. Returns the times (s) of the reports that were not reminders.
    fn feed(heap: impl Fn(f64) -> f64, gc_every_s: f64, jitter: f64, seconds: f64, seed: u64) -> Vec<f64> {
        feed_with(TrendConfig::default(), heap, gc_every_s, jitter, seconds, seed)
    }

    fn feed_with(config: TrendConfig, heap: impl Fn(f64) -> f64, gc_every_s: f64, jitter: f64, seconds: f64, seed: u64) -> Vec<f64> {
        let mut d = TrendDetector::new(config);
        let mut noise = Noise(seed | 1);
        let mut out = Vec::new();
        let mut t = 0.0;
        while t < seconds {
            let v = heap(t) * (1.0 + jitter * (noise.next() + 1.0) / 2.0);
            if let Some(r) = d.observe(v as u64, 1.7e12 + t * 1000.0) {
                if !r.reminder {
                    out.push(t);
                }
            }
            // Irregular GC spacing, as natural GCs are.
            t += gc_every_s * (0.5 + (noise.next() + 1.0) / 2.0);
        }
        out
    }

    /// Leaks start after the warm-up, at LEAK_AT seconds.
    const LEAK_AT: f64 = 200.0;

    fn leak(base: f64, per_min: f64) -> impl Fn(f64) -> f64 {
        move |t| base * (1.0 + per_min * (t - LEAK_AT).max(0.0) / 60.0)
    }

    #[test]
    fn leaks_are_caught_within_their_claimed_delays_under_10_percent_jitter() {
        for seed in 1..=5 {
            let at = |per_min: f64, gc: f64, secs: f64| {
                feed(leak(50.0 * MB, per_min), gc, 0.10, LEAK_AT + secs, seed).first().map(|t| t - LEAK_AT)
            };
            let fast = at(0.25, 0.4, 120.0).expect("25%/min caught");
            assert!(fast <= 60.0, "25%/min caught after {fast} s");
            let slow = at(0.01, 0.4, 1200.0).expect("1%/min caught");
            assert!(slow <= 600.0, "1%/min caught after {slow} s");
            let hourly = at(0.10 / 60.0, 2.0, 3.0 * 3600.0).expect("10%/hour caught");
            assert!(hourly <= 2.0 * 3600.0, "10%/hour caught after {hourly} s");
        }
    }

    #[test]
    fn lower_bars_speak_earlier_on_the_same_leak() {
        // The bars exactSites' suspicion lowers (lib/inlining.js): the same 1%/min leak under
        // 10% jitter is seen earlier, and every test still stands (a flat heap stays silent).
        let suspect = TrendConfig {
            warmup_ms: 20_000,
            min_growth_percent: 1.0,
            noise_factor: 1.0,
            min_concordance: 0.4,
            new_share: 0.2,
            ..TrendConfig::default()
        };
        let mut earlier = 0;
        for seed in 1..=5 {
            let at = |c: TrendConfig| feed_with(c, leak(50.0 * MB, 0.01), 0.4, 0.10, LEAK_AT + 1200.0, seed).first().map(|t| t - LEAK_AT);
            let main = at(TrendConfig::default()).expect("1%/min caught");
            let low = at(suspect).expect("1%/min suspected");
            assert!(low <= main, "seed {seed}: suspected after {low} s, caught after {main} s");
            if low + 60.0 <= main {
                earlier += 1;
            }
        }
        assert!(earlier >= 3, "a minute earlier in {earlier} of 5");
        assert_eq!(feed_with(suspect, |_| 50.0 * MB, 0.4, 0.0, 1800.0, 1), Vec::<f64>::new(), "a flat heap");
    }

    #[test]
    fn a_leak_seen_by_few_full_gcs_is_caught() {
        // One full GC a minute (a low-churn server): 5%/min is seen within ~20 minutes.
        let at = feed(leak(80.0 * MB, 0.05), 60.0, 0.05, 3600.0, 7);
        assert!(at.first().is_some_and(|&t| t > LEAK_AT && t < LEAK_AT + 1500.0), "reports at {at:?}");
    }

    #[test]
    fn traps_stay_silent() {
        let base = 40.0 * MB;
        for seed in 1..=5 {
            let cases: Vec<(&str, Box<dyn Fn(f64) -> f64>)> = vec![
                ("noisy steady", Box::new(move |_| base)),
                ("warm-up levelling off", Box::new(move |t: f64| base * (1.0 + 0.8 * (1.0 - (-t / 8.0).exp())))),
                ("cache filling to its bound", Box::new(move |t: f64| base * (1.0 + 0.6 * (1.0 - (-t / 15.0).exp())))),
                // Still filling well after the warm-up (a session store under a slow request
                // rate): ~7%/min at 180 s, ever slower. Without test 5 it raises a 'leak'.
                ("store still filling past the warm-up", Box::new(move |t: f64| base * (1.0 + 0.6 * (1.0 - (-t / 120.0).exp())))),
                ("6-s batch cycle", Box::new(move |t: f64| base * (1.0 + 0.5 * ((t % 6.0) / 6.0)))),
                ("2-min bulk-load cycle", Box::new(move |t: f64| base * (1.0 + 0.4 * ((t % 120.0) / 120.0)))),
                ("one step up", Box::new(move |t: f64| if t < 300.0 { base } else { base * 1.6 })),
                ("shrinking after a spike", Box::new(move |t: f64| base * (1.0 + 1.5 * (-t / 200.0).exp()))),
            ];
            for (name, heap) in cases {
                let reports = feed(heap, 0.4, 0.08, 3600.0, seed);
                // The 2-min cycle's first rise is a leak as far as anything can tell (it climbs
                // 20%/min for two minutes with no history): allow that one, never a repeat.
                let allowed = usize::from(name == "2-min bulk-load cycle");
                assert!(reports.len() <= allowed, "{name} (seed {seed}): reports at {reports:?}");
            }
        }
    }

    #[test]
    fn a_wandering_queue_stays_silent() {
        // A mean-reverting random walk (AR(1), ~1 min memory) of +-15% around a steady mean.
        let mut d = TrendDetector::new(TrendConfig::default());
        let mut noise = Noise(99);
        let mut level = 0.0f64;
        let mut reports = 0;
        for i in 0..(6 * 3600 * 2) {
            level = 0.99 * level + 0.02 * noise.next();
            let v = 60.0 * MB * (1.0 + level.clamp(-0.15, 0.15) + 0.05 * (noise.next() + 1.0));
            reports += usize::from(d.observe(v as u64, i as f64 * 500.0).is_some());
        }
        assert_eq!(reports, 0);
    }

    #[test]
    fn one_report_per_episode_reminders_and_rearm() {
        let mut d = TrendDetector::new(TrendConfig { reminder_ms: 120_000, ..TrendConfig::default() });
        let mut firsts = Vec::new();
        let mut reminders = Vec::new();
        let mut t = 0.0;
        // Flat for 4 minutes, leak for 10, flat for 10, leak again for 5.
        let heap = |t: f64| {
            let leaking = (t.min(840.0) - 240.0).max(0.0) + (t - 1440.0).max(0.0);
            30.0 * MB * (1.0 + 0.3 * leaking / 60.0)
        };
        while t < 1740.0 {
            if let Some(r) = d.observe(heap(t) as u64, t * 1000.0) {
                if r.reminder {
                    reminders.push(t);
                } else {
                    firsts.push(t);
                }
                assert!(r.rate > 0.0 && r.growth > 0 && r.start_ms <= r.end_ms);
            }
            t += 0.5;
        }
        assert_eq!(firsts.len(), 2, "one report per episode: {firsts:?}");
        assert!(firsts[0] > 240.0 && firsts[0] < 300.0 && firsts[1] > 1440.0 && firsts[1] < 1520.0, "{firsts:?}");
        // 10 minutes of leaking with a 2-minute reminder: about four reminders, none while flat.
        let first_episode = reminders.iter().filter(|&&r| r < 1440.0).count();
        assert!((3..=5).contains(&first_episode), "{reminders:?}");
        assert!(reminders.iter().all(|&r| r < 940.0 || r > 1440.0), "{reminders:?}");
    }

    #[test]
    fn a_forced_gc_harness_is_caught_within_ten_samples() {
        // gc() between batches of leaked objects: ~1 MB a call on a 6 MB heap, calls 20 ms apart.
        let mut d = TrendDetector::new(TrendConfig::default());
        let mut at = None;
        for i in 0..30u64 {
            let v = 6 * 1_048_576 + i * 1_000_000 + (i * 7919 % 13) * 100;
            // Calls slow down as the heap grows (each GC marks more): 20 ms apart, then 80.
            let t = 1000.0 + i as f64 * 20.0 + (i * i) as f64 * 2.0;
            let mut fired = d.observe(v, t).is_some();
            fired |= d.refine_last(v - 64, t + 2.0).is_some(); // gc()'s second GC
            if fired && at.is_none() {
                at = Some(i);
            }
        }
        assert!(at.is_some_and(|i| i < 10), "caught at sample {at:?}");
        // The same samples from natural GCs (no back-to-back twin) are left to the time scales.
        let mut d = TrendDetector::new(TrendConfig::default());
        for i in 0..30u64 {
            let v = 6 * 1_048_576 + i * 1_000_000;
            assert!(d.observe(v, 1000.0 + i as f64 * 20.0).is_none());
        }
        // The same loop keeping nothing but JIT code and caches (tens of KB) never fires.
        let mut d = TrendDetector::new(TrendConfig::default());
        let fired = (0..300u64).any(|i| {
            let v = 6 * 1_048_576 + (i * 150).min(40_000);
            let fired = d.observe(v, i as f64 * 20.0).is_some();
            fired || d.refine_last(v, i as f64 * 20.0 + 2.0).is_some()
        });
        assert!(!fired);
    }

    #[test]
    fn state_is_bounded_and_reasons_read_well() {
        let d = TrendDetector::new(TrendConfig::default());
        let buckets: usize = d.scales.iter().map(|s| s.closed.len()).sum();
        assert!(buckets * std::mem::size_of::<Bucket>() < 64 * 1024, "{buckets} buckets");
        let r = TrendReport {
            start_ms: 0.0,
            end_ms: 41_000.0,
            growth: 14_889_779,
            rate: 363_165.0,
            gcs: 37,
            current: 100.0 * MB,
            reminder: false,
        };
        assert_eq!(
            trend_reason("heap", &r, Some(4096 * 1_048_576)),
            "heap grew 14.2 mb in 41s (20.78 mb/min, steady over 37 full GCs); at this rate it reaches its 4 gb limit in 3h 12m"
        );
        assert_eq!(limit_size(4_345_298_944), "4.05 gb");
        assert_eq!(limit_size(512 << 20), "512 mb");
        assert_eq!(time_to_limit(10.0, 0.0, 5), None);
        assert_eq!(time_to_limit(10.0, 1.0, 20), Some(10.0));
    }

    #[test]
    fn counts_need_the_absolute_floor_and_may_start_at_zero() {
        // Open timers: 0, then one more every 2 s.
        let config = TrendConfig { min_window_ms: 4_000, warmup_ms: 0, min_growth_abs: 10.0, ..TrendConfig::default() };
        let mut d = TrendDetector::new(config);
        let mut fired = None;
        for i in 0..400u64 {
            let t = 1_000_000.0 + i as f64 * 100.0;
            if let Some(r) = d.observe(i / 20, t) {
                fired.get_or_insert((i, r));
            }
        }
        let (i, r) = fired.expect("a steady climb from zero is reported");
        // 0.5 a second needs a window of 20 s or more to rise by 10: the 32-s scale decides.
        assert!((320..=360).contains(&i), "reported after {i} samples");
        assert!(r.rate > 0.3 && r.rate < 0.7, "rate {}", r.rate);
        // The same climb, but only 4 over the window: below the absolute floor, though 100%.
        let mut d = TrendDetector::new(config);
        for i in 0..400u64 {
            assert_eq!(d.observe(4 + i / 100, 1_000_000.0 + i as f64 * 100.0), None, "at {i}");
        }
        // A count that jumps around a fixed level (files opened and closed) is not.
        let mut d = TrendDetector::new(config);
        let mut noise = Noise(7);
        for i in 0..2000u64 {
            let v = 20 + (noise.next().abs() * 30.0) as u64;
            assert_eq!(d.observe(v, 1_000_000.0 + i as f64 * 100.0), None, "at {i}");
        }
    }
}
