//! Runway: is a growing quantity racing towards the limit that will stop the process?
//!
//! The trend detector ([`crate::trend`]) is built for slow leaks: it waits out a warm-up and
//! wants minutes of steady growth, so a leak that kills a process in ten seconds, or before the
//! warm-up ends, is never reported by it. A runway judge watches one quantity against its hard
//! limit (the V8 heap against its limit, the process's memory against its container's, open
//! files against `ulimit -n`) and says so as soon as the growth will reach the limit within about
//! as long again as it has been going on.
//!
//! The rule, per sample:
//! 1. **Halfway.** Since the growth began (the lowest level kept in the history, `base`), it has
//!    used at least half of the room there was: `current - base >= (limit - base) / 2`. A
//!    quantity that rises by less than half its headroom (a cache warming to a third of the heap,
//!    a batch cycle to 45% of it, a steady heap near 75% with noise) is never reported, whatever
//!    its speed.
//! 2. **Still racing.** The recent slope (Theil-Sen over the latest samples, at least a third of
//!    the growth) projects the limit within the time the growth has taken so far: for a straight
//!    line from `base`, rules 1 and 2 meet halfway through the process's remaining life, so the
//!    warning comes with as much time left as the growth took. A one-off step that has levelled
//!    off has no recent slope.
//! 3. **Steady.** Each half of the recent samples rises at a quarter of that slope at least: a
//!    step inside the recent samples rises in one half only.
//! 4. **Long enough to judge.** At least `min_samples` samples and `min_growth_ms` since the base.
//!
//! One report per episode; the episode ends when the quantity falls back below halfway between
//! its base and where it was reported. Not here: where the samples come from (the GC hook, a
//! timer), what the limit is (the glue reads it), and slow leaks (the trend detector).

use std::collections::VecDeque;

use crate::format::{nice_duration_short, nice_size};
use crate::trend::theil_sen;

/// Settings of a runway judge.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunwayConfig {
    /// Samples since the base before any verdict.
    pub min_samples: usize,
    /// The growth must have lasted this long, ms (a load done "at once" takes a second or two).
    pub min_growth_ms: f64,
    /// The recent slope uses at least this many of the latest samples.
    pub recent_samples: usize,
    /// History kept, ms: the base is the lowest level within it.
    pub history_ms: f64,
    /// Samples kept at most; older ones are thinned two into one, keeping the lower.
    pub capacity: usize,
}

impl Default for RunwayConfig {
    fn default() -> Self {
        RunwayConfig { min_samples: 6, min_growth_ms: 3000.0, recent_samples: 6, history_ms: 3_600_000.0, capacity: 512 }
    }
}

/// A quantity that will reach its limit soon.
#[derive(Clone, Debug, PartialEq)]
pub struct RunwayReport {
    /// When the growth began (the base) and the sample that decided, ms since the epoch.
    pub start_ms: f64,
    pub end_ms: f64,
    /// The base, and the level now (median of the last three samples).
    pub base: f64,
    pub current: f64,
    /// `current - base`.
    pub growth: f64,
    /// The recent slope, per second.
    pub rate: f64,
    /// The limit it was judged against.
    pub limit: f64,
    /// Seconds until `current` reaches `limit` at `rate` (0 when at or past it).
    pub time_to_limit: f64,
    /// Samples since the base.
    pub samples: usize,
}

/// One quantity's judge. Feed it every sample; see the module doc.
#[derive(Clone, Debug)]
pub struct RunwayJudge {
    config: RunwayConfig,
    samples: VecDeque<(f64, f64)>,
    /// `(base, reported level)` while an episode is reported.
    reported: Option<(f64, f64)>,
}

impl RunwayJudge {
    pub fn new(config: RunwayConfig) -> Self {
        RunwayJudge { config, samples: VecDeque::new(), reported: None }
    }

    /// Whether an episode has been reported and the quantity has not fallen back since.
    pub fn in_episode(&self) -> bool {
        self.reported.is_some()
    }

    /// Feeds one sample; a report when the quantity is racing towards `limit`.
    pub fn observe(&mut self, t_ms: f64, value: f64, limit: f64) -> Option<RunwayReport> {
        if !t_ms.is_finite() || !value.is_finite() {
            return None;
        }
        if self.samples.back().is_some_and(|&(t, _)| t_ms < t) {
            // The clock went back: start over rather than read a negative duration.
            self.samples.clear();
        }
        self.push(t_ms, value);
        if let Some((base, level)) = self.reported {
            if value < base + (level - base) / 2.0 {
                self.reported = None;
            }
            return None;
        }
        if !(limit.is_finite() && limit > 0.0) {
            return None;
        }
        let report = self.judge(limit)?;
        self.reported = Some((report.base, report.current));
        Some(report)
    }

    fn push(&mut self, t_ms: f64, value: f64) {
        self.samples.push_back((t_ms, value));
        while self.samples.len() > 1 && self.samples.front().is_some_and(|&(t, _)| t_ms - t > self.config.history_ms) {
            self.samples.pop_front();
        }
        if self.samples.len() > self.config.capacity.max(8) {
            // Thin the older half two into one, keeping the lower of each pair: the base (a
            // floor) survives, and the recent samples stay whole.
            let old = self.samples.len() / 2;
            let mut kept = VecDeque::with_capacity(self.samples.len());
            let mut i = 0;
            while i + 1 < old {
                let (a, b) = (self.samples[i], self.samples[i + 1]);
                kept.push_back(if b.1 < a.1 { b } else { a });
                i += 2;
            }
            kept.extend(self.samples.iter().skip(i).copied());
            self.samples = kept;
        }
    }

    fn judge(&self, limit: f64) -> Option<RunwayReport> {
        let c = &self.config;
        // The base: the lowest level kept, the latest one when it repeats.
        let (base_at, &(t_base, base)) = self
            .samples
            .iter()
            .enumerate()
            .rev()
            .min_by(|a, b| a.1 .1.total_cmp(&b.1 .1))?;
        let n = self.samples.len();
        let count = n - base_at;
        let (t_now, _) = self.samples[n - 1];
        let growth_ms = t_now - t_base;
        if count < c.min_samples.max(c.recent_samples).max(3) || growth_ms < c.min_growth_ms {
            return None;
        }
        let mut last3 = [self.samples[n - 3].1, self.samples[n - 2].1, self.samples[n - 1].1];
        last3.sort_by(f64::total_cmp);
        let current = last3[1];
        let room = limit - base;
        // The cheap test first: most samples of most programs end here.
        if room <= 0.0 || current - base < room / 2.0 {
            return None;
        }
        // The recent samples: the latest third of the growth, at least `recent_samples`, at most
        // RECENT_MAX of them evenly spread (Theil-Sen is quadratic).
        let from = (base_at..n).find(|&i| self.samples[i].0 >= t_now - growth_ms / 3.0).unwrap_or(base_at);
        let from = from.min(n - c.recent_samples);
        let span = n - from;
        let recent: Vec<(f64, f64)> = if span <= RECENT_MAX {
            self.samples.range(from..).copied().collect()
        } else {
            (0..RECENT_MAX).map(|k| self.samples[from + k * (span - 1) / (RECENT_MAX - 1)]).collect()
        };
        let since_len = count;
        let slope = slope_per_ms(&recent);
        if !(slope > 0.0) {
            return None;
        }
        let half = recent.len() / 2;
        if slope_per_ms(&recent[..half]) < slope / 4.0 || slope_per_ms(&recent[recent.len() - half..]) < slope / 4.0 {
            return None;
        }
        let time_to_limit_ms = ((limit - current) / slope).max(0.0);
        if time_to_limit_ms > growth_ms {
            return None;
        }
        Some(RunwayReport {
            start_ms: t_base,
            end_ms: t_now,
            base,
            current,
            growth: current - base,
            rate: slope * 1000.0,
            limit,
            time_to_limit: time_to_limit_ms / 1000.0,
            samples: since_len,
        })
    }
}

/// Recent samples the slope is fitted to, at most.
const RECENT_MAX: usize = 24;

fn slope_per_ms(points: &[(f64, f64)]) -> f64 {
    let xs: Vec<f64> = points.iter().map(|p| p.0).collect();
    let ys: Vec<f64> = points.iter().map(|p| p.1).collect();
    theil_sen(&xs, &ys).0
}

/// What a runway report is about, for its reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunwayQuantity {
    /// The V8 heap after full GCs (bytes).
    Heap,
    /// The process's resident memory (bytes).
    Memory,
    /// Open file descriptors (a count).
    Fds,
}

/// The 'leak' reason of a runway report, e.g. `rss grew 150 mb in 15s (10 mb/s); at this rate it
/// reaches the container's 300 mb limit in 14s`. `limit_name` says whose limit it is (`its`,
/// `the container's`, `the machine's`, `the ulimit -n`).
pub fn runway_reason(quantity: RunwayQuantity, limit_name: &str, r: &RunwayReport) -> String {
    let elapsed = nice_duration_short((r.end_ms - r.start_ms) / 1000.0);
    let left = nice_duration_short(r.time_to_limit);
    match quantity {
        RunwayQuantity::Fds => format!(
            "open file descriptors grew by {} in {elapsed} ({}/s, {} open); at this rate they reach {} of {} in {left}",
            r.growth.round(),
            per_second(r.rate),
            r.current.round(),
            limit_name,
            r.limit.round()
        ),
        RunwayQuantity::Heap | RunwayQuantity::Memory => format!(
            "{} grew {} in {elapsed} ({}/s, now {}); at this rate it reaches {} {} limit in {left}",
            if quantity == RunwayQuantity::Heap { "heap" } else { "rss" },
            nice_size(r.growth),
            nice_size(r.rate),
            nice_size(r.current),
            limit_name,
            nice_size(r.limit)
        ),
    }
}

fn per_second(rate: f64) -> String {
    if rate >= 10.0 {
        format!("{}", rate.round())
    } else {
        format!("{:.1}", rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: f64 = 1_048_576.0;

    /// Deterministic noise in [-1, 1).
    fn noise(i: u64) -> f64 {
        let x = i.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) >> 11;
        (x as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }

    /// Runs a series sampled every `step_ms` until `until_ms`; the time of the first report.
    fn first_report(step_ms: f64, until_ms: f64, limit: f64, series: impl Fn(f64) -> f64) -> Option<(f64, RunwayReport)> {
        let mut j = RunwayJudge::new(RunwayConfig::default());
        let mut t = 0.0;
        while t <= until_ms {
            if let Some(r) = j.observe(t, series(t), limit) {
                return Some((t, r));
            }
            t += step_ms;
        }
        None
    }

    #[test]
    fn a_leak_that_kills_in_10_s_is_reported_halfway() {
        // 15 MB/s from 10 MB to a 160 MB limit: dead at 10 s; full GCs every 500 ms, 3% jitter.
        let limit = 160.0 * MB;
        let (at, r) = first_report(500.0, 10_000.0, limit, |t| (10.0 * MB + 15.0 * MB * t / 1000.0) * (1.0 + 0.03 * noise(t as u64))).expect("reported");
        assert!(at <= 6_500.0, "reported at {at} ms: at least 3 s and a quarter of its life before it dies at 10 s");
        assert!((r.time_to_limit - (10_000.0 - at) / 1000.0).abs() < 3.0, "{r:?}");
        assert!(r.rate > 12.0 * MB && r.rate < 18.0 * MB, "{r:?}");
    }

    #[test]
    fn leaks_that_kill_in_30_s_and_5_min_leave_a_quarter_of_their_life() {
        for (life_s, step) in [(30.0, 500.0), (300.0, 2000.0)] {
            let limit = 300.0 * MB;
            let base = 40.0 * MB;
            let rate = (limit - base) / life_s;
            let (at, _) = first_report(step, life_s * 1000.0, limit, |t| (base + rate * t / 1000.0) * (1.0 + 0.05 * noise(t as u64 + 7))).expect("reported");
            assert!(at <= life_s * 1000.0 * 0.75, "life {life_s} s: reported at {at} ms");
        }
    }

    #[test]
    fn traps_near_a_limit_are_silent() {
        let limit = 240.0 * MB;
        let hour = 3_600_000.0;
        // A cache warming to a third of the heap in 20 s, then flat.
        assert_eq!(first_report(500.0, hour / 4.0, limit, |t| 10.0 * MB + 70.0 * MB * (t / 20_000.0).min(1.0)), None);
        // A batch job climbing to 45% of the limit and falling, every 30 s.
        assert_eq!(first_report(500.0, hour / 4.0, limit, |t| 10.0 * MB + 98.0 * MB * ((t % 30_000.0) / 30_000.0)), None);
        // A heap steady near 75% of its limit, 4% noise.
        assert_eq!(first_report(500.0, hour / 4.0, limit, |t| 180.0 * MB * (1.0 + 0.04 * noise(t as u64))), None);
        // A one-off load of 40% of the limit in one second, from 20%.
        assert_eq!(first_report(500.0, hour / 4.0, limit, |t| if t < 60_000.0 { 48.0 * MB } else { 48.0 * MB + 96.0 * MB * ((t - 60_000.0) / 1000.0).min(1.0) }), None);
        // A pool of 600 files opened at once under a limit of 1024, and kept.
        assert_eq!(first_report(1000.0, hour / 4.0, 1024.0, |t| if t < 30_000.0 { 12.0 } else { 612.0 }), None);
    }

    #[test]
    fn a_slowing_fill_is_silent_and_a_leak_after_a_long_flat_run_is_seen() {
        let limit = 1000.0;
        // A fill that slows towards 60% of the limit (exponential approach).
        assert_eq!(first_report(1000.0, 600_000.0, limit, |t| 600.0 * (1.0 - (-t / 60_000.0).exp())), None);
        // Flat for 10 minutes, then 2 per second: dead 490 s after the leak starts.
        let (at, r) = first_report(1000.0, 2_000_000.0, limit, |t| if t < 600_000.0 { 20.0 } else { 20.0 + 2.0 * (t - 600_000.0) / 1000.0 }).expect("reported");
        assert!(at - 600_000.0 <= 0.75 * 490_000.0, "{at} {r:?}");
    }

    #[test]
    fn one_report_per_episode_and_a_new_one_after_it_falls_back() {
        let mut j = RunwayJudge::new(RunwayConfig::default());
        let mut reports = 0;
        let mut t = 0.0;
        for cycle in 0..3 {
            // Climb from 10 to 95 in 17 s, then drop to 10 (a restart of the leaky cache).
            for i in 0..35 {
                if j.observe(t, 10.0 + 2.5 * i as f64, 100.0).is_some() {
                    reports += 1;
                }
                t += 500.0;
            }
            assert!(j.in_episode(), "cycle {cycle}");
            j.observe(t, 10.0, 100.0);
            t += 500.0;
            assert!(!j.in_episode());
        }
        assert_eq!(reports, 3);
    }

    #[test]
    fn history_is_bounded_and_keeps_the_floor() {
        let mut j = RunwayJudge::new(RunwayConfig { capacity: 64, ..RunwayConfig::default() });
        for i in 0..10_000u64 {
            j.observe(i as f64 * 100.0, if i == 10 { 1.0 } else { 50.0 + noise(i) }, 1e9);
        }
        assert!(j.samples.len() <= 65);
        assert_eq!(j.samples.iter().map(|s| s.1).fold(f64::INFINITY, f64::min), 1.0);
    }

    #[test]
    fn garbage_input_is_ignored() {
        let mut j = RunwayJudge::new(RunwayConfig::default());
        for i in 0..50 {
            let t = i as f64 * 500.0;
            assert_eq!(j.observe(t, f64::NAN, 100.0), None);
            assert_eq!(j.observe(t, 1.0 + i as f64 * 5.0, f64::NAN), None);
            assert_eq!(j.observe(t, 1.0 + i as f64 * 5.0, 0.0), None);
        }
        // The clock going back starts over.
        assert_eq!(j.observe(0.0, 1.0, 100.0), None);
        assert_eq!(j.samples.len(), 1);
    }

    #[test]
    fn reasons_say_what_whose_limit_and_when() {
        let r = RunwayReport { start_ms: 0.0, end_ms: 15_000.0, base: 10.0 * MB, current: 160.0 * MB, growth: 150.0 * MB, rate: 10.0 * MB, limit: 300.0 * MB, time_to_limit: 14.0, samples: 30 };
        assert_eq!(runway_reason(RunwayQuantity::Memory, "the container's", &r), "rss grew 150 mb in 15s (10 mb/s, now 160 mb); at this rate it reaches the container's 300 mb limit in 14s");
        let f = RunwayReport { start_ms: 0.0, end_ms: 10_000.0, base: 20.0, current: 520.0, growth: 500.0, rate: 50.0, limit: 1024.0, time_to_limit: 10.1, samples: 10 };
        assert_eq!(runway_reason(RunwayQuantity::Fds, "the open-files limit (ulimit -n)", &f), "open file descriptors grew by 500 in 10s (50/s, 520 open); at this rate they reach the open-files limit (ulimit -n) of 1024 in 10s");
    }
}
