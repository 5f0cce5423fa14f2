//! The 'leak' detector: memwatch's "heap base grew over N consecutive full GCs" rule.
//!
//! Fed the used heap after each full GC (the same samples as the stats engine), it reports a
//! leak when the base has grown `consecutive_growths` times in a row, then starts over. A lower
//! base breaks the streak; an equal one neither grows nor breaks it.
//! Fixed against the original: 64-bit growth, a rate that never overflows or divides by zero,
//! and back-to-back GCs that saw no allocation (the pair a forced GC makes, the GCs a heap
//! snapshot makes) refine the last sample instead of counting as growth or breaking the streak.

use std::collections::VecDeque;

use crate::format::{nice_delta, nice_size};

/// Tunables of the leak rule. Defaults are the original's rule plus the high-water guard.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeakConfig {
    /// Growths in a row that make a leak (the original: 5).
    pub consecutive_growths: u32,
    /// The false-alarm guard: a streak reports only when each of its last `consecutive_growths`
    /// bases is a new high for the `high_water_window` full GCs before them. A leak keeps setting
    /// new highs; noise around a steady mean gives five rises in a row once per ~720 GCs, but
    /// five new highs in a row practically never. 0 turns the guard off (the original rule).
    pub high_water_window: u32,
}

impl Default for LeakConfig {
    fn default() -> Self {
        LeakConfig { consecutive_growths: 5, high_water_window: 120 }
    }
}

/// What the 'leak' event carries, whichever detector decided.
#[derive(Clone, Debug, PartialEq)]
pub struct LeakReport {
    /// Milliseconds since the Unix epoch at the start of the growth (the streak's first growth,
    /// or the start of the trend's window).
    pub start_ms: f64,
    /// Milliseconds since the Unix epoch at the GC that decided.
    pub end_ms: f64,
    /// Heap growth from start to end, in bytes.
    pub growth: u64,
    /// `heap growth over 5 consecutive GCs (20s) - 11.67 mb/hr` (memwatch's rule) or
    /// `heap grew 14.2 mb in 41s (20.8 mb/min, steady over 37 full GCs); ...` (the trend).
    pub reason: String,
    /// The growth rate, bytes per second.
    pub rate: f64,
    /// V8's heap limit, bytes (0 when unknown).
    pub heap_limit: u64,
    /// Seconds until the heap reaches `heap_limit` at `rate`; None when it never does.
    pub time_to_limit: Option<f64>,
}

/// Streak counter over full-GC heap bases.
#[derive(Clone, Debug)]
pub struct LeakDetector {
    config: LeakConfig,
    /// Bases of recent full GCs, oldest first, the last one being the latest sample.
    history: VecDeque<u64>,
    last_base: Option<u64>,
    streak: u32,
    streak_start_ms: f64,
    streak_start_base: u64,
}

impl LeakDetector {
    pub fn new(config: LeakConfig) -> Self {
        LeakDetector {
            config,
            history: VecDeque::new(),
            last_base: None,
            streak: 0,
            streak_start_ms: 0.0,
            streak_start_base: 0,
        }
    }

    pub fn config(&self) -> LeakConfig {
        self.config
    }

    /// Growths counted so far in the current streak.
    pub fn streak(&self) -> u32 {
        self.streak
    }

    /// Feeds the used heap after a full GC that had allocation before it.
    pub fn observe(&mut self, used_heap: u64, now_ms: f64) -> Option<LeakReport> {
        let previous = self.last_base;
        self.last_base = Some(used_heap);
        self.remember(used_heap);
        match previous {
            Some(last) if used_heap > last => {}
            // An equal base is neither growth nor a shrink (forced GCs come in equal pairs).
            Some(last) if used_heap == last => return None,
            _ => {
                self.streak = 0;
                return None;
            }
        }
        if self.streak == 0 {
            self.streak_start_ms = now_ms;
            self.streak_start_base = used_heap;
        }
        self.streak += 1;
        if self.streak < self.config.consecutive_growths.max(1) || !self.last_rises_are_new_highs() {
            // Not yet a leak; a streak held back by the guard keeps counting while it grows.
            return None;
        }
        self.streak = 0;
        Some(self.report(used_heap, now_ms))
    }

    fn remember(&mut self, used_heap: u64) {
        let keep = self.config.high_water_window as usize + self.config.consecutive_growths as usize + 1;
        self.history.push_back(used_heap);
        while self.history.len() > keep.max(1) {
            self.history.pop_front();
        }
    }

    /// The guard: each of the last `consecutive_growths` bases must be a new high, i.e. the first
    /// of them must top every base of the `high_water_window` GCs before them (the others rose
    /// from it). As a held-back streak keeps rising, this window slides forward with it.
    fn last_rises_are_new_highs(&self) -> bool {
        if self.config.high_water_window == 0 {
            return true;
        }
        let n = self.config.consecutive_growths.max(1) as usize;
        let Some(first_of_last_n) = self.history.len().checked_sub(n) else {
            return true;
        };
        let first = self.history[first_of_last_n];
        let window_start = first_of_last_n.saturating_sub(self.config.high_water_window as usize);
        self.history.range(window_start..first_of_last_n).all(|&base| first > base)
    }

    /// Feeds a back-to-back full GC (no allocation since the previous one): it replaces the
    /// previous sample, neither growing nor breaking the streak.
    pub fn refine_last(&mut self, used_heap: u64) {
        if self.last_base.is_none() {
            self.last_base = Some(used_heap);
            self.remember(used_heap);
            return;
        }
        self.last_base = Some(used_heap);
        if let Some(last) = self.history.back_mut() {
            *last = used_heap;
        }
        if self.streak == 1 {
            // The sample being refined is the one that opened the streak.
            self.streak_start_base = used_heap;
        }
    }

    fn report(&self, end_base: u64, end_ms: f64) -> LeakReport {
        let growth = end_base.saturating_sub(self.streak_start_base);
        let elapsed_ms = (end_ms - self.streak_start_ms).max(0.0);
        LeakReport {
            start_ms: self.streak_start_ms,
            end_ms,
            growth,
            reason: leak_reason(self.config.consecutive_growths, growth, elapsed_ms),
            rate: growth as f64 / (elapsed_ms.max(1.0) / 1000.0),
            heap_limit: 0,
            time_to_limit: None,
        }
    }
}

/// The 'leak' reason text: `heap growth over 5 consecutive GCs (20s) - 11.67 mb/hr`.
///
/// The rate is computed in floating point from milliseconds and printed in whole bytes; a streak that took no measurable
/// time is treated as having taken one millisecond, so the rate stays finite.
pub fn leak_reason(consecutive_growths: u32, growth: u64, elapsed_ms: f64) -> String {
    let hours = elapsed_ms.max(1.0) / 3_600_000.0;
    // Whole bytes, as the original printed them.
    let rate = (growth as f64 / hours).round();
    format!(
        "heap growth over {} consecutive GCs ({}) - {}/hr",
        consecutive_growths,
        nice_delta((elapsed_ms / 1000.0).floor() as u64),
        nice_size(rate)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detector() -> LeakDetector {
        LeakDetector::new(LeakConfig::default())
    }

    #[test]
    fn five_growths_fire_four_do_not() {
        let mut d = detector();
        assert!(d.observe(1000, 0.0).is_none());
        for (i, h) in [1100u64, 1200, 1300, 1400].iter().enumerate() {
            assert!(d.observe(*h, 1000.0 * (i + 1) as f64).is_none(), "fired early at {h}");
        }
        let report = d.observe(1500, 5000.0).expect("5th growth fires");
        assert_eq!(report.growth, 400);
        assert_eq!(report.start_ms, 1000.0);
        assert_eq!(report.end_ms, 5000.0);
        assert_eq!(d.streak(), 0, "the streak restarts after a report");
    }

    #[test]
    fn a_shrink_resets_an_equal_base_does_not() {
        let mut d = detector();
        d.observe(1000, 0.0);
        for h in [1100, 1200, 1300] {
            d.observe(h, 0.0);
        }
        assert!(d.observe(1300, 0.0).is_none(), "an equal base is not growth");
        assert_eq!(d.streak(), 3, "and does not reset the count");
        assert!(d.observe(1350, 0.0).is_none());
        assert_eq!(d.streak(), 4);
        assert!(d.observe(1340, 0.0).is_none());
        assert_eq!(d.streak(), 0, "a shrink resets");
    }

    #[test]
    fn back_to_back_refinements_neither_grow_nor_reset() {
        let mut d = detector();
        d.observe(1000, 0.0);
        d.refine_last(1000);
        let mut h = 1000;
        let mut fired = None;
        for i in 1..=5 {
            h += 100;
            fired = d.observe(h, i as f64 * 1000.0);
            // The second GC of each forced pair: same size or slightly smaller.
            d.refine_last(h - 1);
            if i < 5 {
                assert!(fired.is_none());
                assert_eq!(d.streak(), i);
            }
        }
        let report = fired.expect("a harness leaking between forced GC pairs is caught");
        assert_eq!(report.growth, 1500 - 1099);
    }

    #[test]
    fn reason_text_and_rates() {
        // 20 s, 67984 bytes -> 11.67 mb/hr, the example in the docs.
        assert_eq!(
            leak_reason(5, 67984, 20_000.0),
            "heap growth over 5 consecutive GCs (20s) - 11.67 mb/hr"
        );
        // Tiny rate: 100 bytes over two hours.
        assert_eq!(
            leak_reason(5, 100, 7_261_000.0),
            "heap growth over 5 consecutive GCs (2h 1m 1s) - 50 bytes/hr"
        );
        // Huge rate: the original printed -2147483648 bytes/hr here.
        assert_eq!(
            leak_reason(5, 3 << 30, 3_600_000.0),
            "heap growth over 5 consecutive GCs (60m 0s) - 3072 mb/hr"
        );
        // Zero elapsed time: finite, no division by zero.
        let text = leak_reason(5, 1 << 20, 0.0);
        assert_eq!(text, "heap growth over 5 consecutive GCs (0s) - 3600000 mb/hr");
    }

    #[test]
    fn guard_holds_back_rises_until_five_in_a_row_are_new_highs() {
        let mut d = detector();
        // An earlier peak at 2000, then a dip and five rises that stay below it: noise.
        for h in [1500, 2000, 1000, 1100, 1200, 1300, 1400] {
            assert!(d.observe(h, 0.0).is_none());
        }
        assert!(d.observe(1500, 0.0).is_none(), "five rises below the old peak are not a leak");
        assert_eq!(d.streak(), 5, "the held-back streak keeps counting");
        // Rising on past the old peak: fires once the last five bases are all above 2000.
        for h in [1900, 2100, 2200, 2300, 2400] {
            assert!(d.observe(h, 0.0).is_none(), "fired early at {h}");
        }
        let r = d.observe(2500, 1.0).expect("five new highs in a row");
        assert_eq!(r.growth, 2500 - 1100, "growth since the streak's first rise");
    }

    #[test]
    fn guard_off_is_the_original_rule() {
        let mut d = LeakDetector::new(LeakConfig { consecutive_growths: 5, high_water_window: 0 });
        for h in [1500, 2000, 1000, 1100, 1200, 1300, 1400] {
            assert!(d.observe(h, 0.0).is_none());
        }
        assert!(d.observe(1500, 0.0).is_some());
    }

    #[test]
    fn old_peaks_age_out_of_the_window() {
        let mut d = LeakDetector::new(LeakConfig { consecutive_growths: 5, high_water_window: 3 });
        for h in [9000, 100, 100, 100, 100, 101, 102, 103, 104] {
            assert!(d.observe(h, 0.0).is_none());
        }
        assert!(d.observe(105, 0.0).is_some(), "a peak older than the window no longer holds it back");
    }

    #[test]
    fn history_stays_bounded_over_a_long_run() {
        let mut d = detector();
        let mut fired_after_first_ramp = 0;
        for i in 0..100_000u64 {
            // A sawtooth: ten rises, then a drop, forever. The first ramp climbs to highs never
            // seen before (the rule may report it); every later ramp only returns to that peak.
            let fired = d.observe(1_000_000 + (i % 11) * 1000, i as f64).is_some();
            if i >= 11 && fired {
                fired_after_first_ramp += 1;
            }
        }
        assert!(d.history.len() <= 120 + 5 + 1, "history holds {}", d.history.len());
        assert_eq!(fired_after_first_ramp, 0, "returning to a known peak again and again is not a leak");
    }

    /// A steady heap whose post-GC base is noise around a mean: under the bare rule five rises
    /// in a row come once per ~720 GCs; the high-water guard must silence that.
    #[test]
    fn noise_around_a_steady_mean_fires_the_bare_rule_but_not_the_guard() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut noise = move || {
            // xorshift64*: deterministic, uniform enough for this
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 44
        };
        let bases: Vec<u64> = (0..100_000).map(|_| 50_000_000 + noise()).collect();
        let count = |config: LeakConfig| {
            let mut d = LeakDetector::new(config);
            bases.iter().enumerate().filter(|(i, &b)| d.observe(b, *i as f64).is_some()).count()
        };
        let bare = count(LeakConfig { consecutive_growths: 5, high_water_window: 0 });
        let guarded = count(LeakConfig::default());
        assert!(bare > 50, "bare rule false alarms on 100k GCs of noise: {bare}");
        assert!(guarded <= 2, "guarded false alarms on 100k GCs of noise: {guarded}");
        println!("false alarms over 100,000 GCs of noise: bare rule {bare}, with guard {guarded}");
    }

    #[test]
    fn configured_count_is_used_and_named() {
        let mut d = LeakDetector::new(LeakConfig { consecutive_growths: 2, ..LeakConfig::default() });
        d.observe(10, 0.0);
        assert!(d.observe(20, 0.0).is_none());
        let r = d.observe(30, 1000.0).unwrap();
        assert!(r.reason.starts_with("heap growth over 2 consecutive GCs (1s)"), "{}", r.reason);
    }
}
