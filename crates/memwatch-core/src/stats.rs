//! The 'stats' engine: memwatch's heap-base estimator, fed one sample per full GC.
//!
//! This is the arithmetic of the original memwatch (`REFERENCE.md`, "The original stats and leak
//! algorithm") with its defects fixed: all state is `u64`/`f64`, so a shrinking heap yields a
//! negative `usage_trend` instead of a wrapped huge one, and heaps far above 4 GiB stay exact.
//! It knows nothing of V8: the glue hands it plain numbers.

/// Tunable periods of the estimator; the defaults are the original's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StatsConfig {
    /// Full GCs before the recent base becomes a moving average (RECENT_PERIOD).
    pub recent_period: u32,
    /// Horizon of the ancient base's moving average, in full GCs (ANCIENT_PERIOD).
    pub ancient_period: u32,
}

impl Default for StatsConfig {
    fn default() -> Self {
        StatsConfig { recent_period: 10, ancient_period: 120 }
    }
}

/// The original lineage's eight 'stats' fields, in the order memwatch emitted them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BaseStats {
    pub num_full_gc: u64,
    pub num_inc_gc: u64,
    pub heap_compactions: u64,
    /// Percent change of the recent base against the ancient base, one decimal.
    pub usage_trend: f64,
    /// The recent (smoothed) heap base, in bytes.
    pub estimated_base: u64,
    /// Used heap right after this full GC, in bytes.
    pub current_base: u64,
    /// Smallest `current_base` seen from the 3rd compaction on (0 before).
    pub min: u64,
    /// Largest `current_base` seen from the 3rd compaction on (0 before).
    pub max: u64,
}

/// Moving heap-base estimator over full GCs.
#[derive(Clone, Debug)]
pub struct BaseEstimator {
    config: StatsConfig,
    heap_compactions: u64,
    current_base: u64,
    recent_base: f64,
    ancient_base: f64,
    min: u64,
    max: u64,
}

impl BaseEstimator {
    pub fn new(config: StatsConfig) -> Self {
        BaseEstimator {
            config,
            heap_compactions: 0,
            current_base: 0,
            recent_base: 0.0,
            ancient_base: 0.0,
            min: 0,
            max: 0,
        }
    }

    pub fn config(&self) -> StatsConfig {
        self.config
    }

    /// Feeds the used heap size measured right after a full GC.
    pub fn record(&mut self, used_heap: u64) {
        let h = used_heap as f64;
        self.current_base = used_heap;
        self.heap_compactions += 1;
        let recent = u64::from(self.config.recent_period.max(1));
        if self.heap_compactions < recent {
            // Too few samples to average: let start-up fluctuation pass straight through.
            self.recent_base = h;
            self.ancient_base = h;
        } else {
            let r = recent as f64;
            self.recent_base = (self.recent_base * (r - 1.0) + h) / r;
            let d = self.heap_compactions.min(u64::from(self.config.ancient_period.max(1))) as f64;
            self.ancient_base = (self.ancient_base * (d - 1.0) + h) / d;
        }
        if self.heap_compactions >= 3 {
            if self.min == 0 || used_heap < self.min {
                self.min = used_heap;
            }
            if self.max == 0 || used_heap > self.max {
                self.max = used_heap;
            }
        }
    }

    /// Replaces the latest sample in place: used for a back-to-back full GC that saw no
    /// allocation since the previous one, so it refines that sample instead of adding one.
    pub fn refine_last(&mut self, used_heap: u64) {
        if self.heap_compactions == 0 {
            self.record(used_heap);
            return;
        }
        self.current_base = used_heap;
        if self.heap_compactions >= 3 {
            self.min = if self.min == 0 { used_heap } else { self.min.min(used_heap) };
            self.max = self.max.max(used_heap);
        }
    }

    pub fn usage_trend(&self) -> f64 {
        if self.ancient_base <= 0.0 {
            return 0.0;
        }
        ((self.recent_base - self.ancient_base) / self.ancient_base * 1000.0).round() / 10.0
    }

    pub fn current_base(&self) -> u64 {
        self.current_base
    }

    pub fn snapshot(&self, num_full_gc: u64, num_inc_gc: u64) -> BaseStats {
        BaseStats {
            num_full_gc,
            num_inc_gc,
            heap_compactions: self.heap_compactions,
            usage_trend: self.usage_trend(),
            estimated_base: self.recent_base.round() as u64,
            current_base: self.current_base,
            min: self.min,
            max: self.max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(values: &[u64]) -> BaseEstimator {
        let mut e = BaseEstimator::new(StatsConfig::default());
        for &v in values {
            e.record(v);
        }
        e
    }

    #[test]
    fn before_recent_period_bases_follow_the_heap() {
        let e = feed(&[100, 200, 300]);
        let s = e.snapshot(3, 0);
        assert_eq!(s.current_base, 300);
        assert_eq!(s.estimated_base, 300);
        assert_eq!(s.usage_trend, 0.0);
        assert_eq!(s.heap_compactions, 3);
    }

    #[test]
    fn min_max_start_at_third_compaction() {
        let e = feed(&[10, 1000]);
        assert_eq!((e.snapshot(2, 0).min, e.snapshot(2, 0).max), (0, 0));
        let e = feed(&[10, 1000, 500, 700, 400]);
        let s = e.snapshot(5, 0);
        assert_eq!((s.min, s.max), (400, 700));
        assert!(s.min <= s.current_base && s.current_base <= s.max);
    }

    #[test]
    fn recent_period_boundary_switches_to_moving_average() {
        // 9 samples of 1000: still pass-through; the 10th (2000) is the first averaged one.
        let mut e = feed(&[1000; 9]);
        assert_eq!(e.snapshot(9, 0).estimated_base, 1000);
        e.record(2000);
        let s = e.snapshot(10, 0);
        // recent = (1000*9 + 2000)/10 = 1100; ancient d = min(120, 10) = 10 -> 1100 too.
        assert_eq!(s.estimated_base, 1100);
        assert_eq!(s.usage_trend, 0.0);
        e.record(2000);
        // recent = (1100*9+2000)/10 = 1190; ancient d = 11: (1100*10+2000)/11 = 1181.818..
        let s = e.snapshot(11, 0);
        assert_eq!(s.estimated_base, 1190);
        let expected = ((1190.0 - 13000.0 / 11.0) / (13000.0 / 11.0) * 1000.0_f64).round() / 10.0;
        assert_eq!(s.usage_trend, expected);
        assert_eq!(s.usage_trend, 0.7);
    }

    #[test]
    fn ancient_period_caps_the_divisor() {
        let mut e = feed(&vec![1000; 200]);
        e.record(121_000);
        // recent = (1000*9 + 121000)/10 = 13000; ancient = (1000*119 + 121000)/120 = 2000.
        let s = e.snapshot(201, 0);
        assert_eq!(s.estimated_base, 13000);
        assert_eq!(s.usage_trend, 550.0);
    }

    #[test]
    fn shrinking_heap_gives_negative_trend() {
        let mut values: Vec<u64> = vec![100_000_000; 20];
        values.extend((0..20).map(|i| 100_000_000 - i * 4_000_000));
        let s = feed(&values).snapshot(40, 0);
        assert!(s.usage_trend < 0.0, "trend {}", s.usage_trend);
        assert!(s.usage_trend > -100.0);
    }

    #[test]
    fn heaps_of_tens_of_gib_are_exact() {
        let gib = 1u64 << 30;
        let mut e = BaseEstimator::new(StatsConfig::default());
        for i in 0..30u64 {
            e.record(40 * gib + i * gib);
        }
        let s = e.snapshot(30, 0);
        assert_eq!(s.current_base, 69 * gib);
        assert_eq!(s.max, 69 * gib);
        assert_eq!(s.min, 42 * gib);
        assert!(s.estimated_base > 60 * gib && s.estimated_base < 69 * gib);
        assert!(s.usage_trend > 0.0 && s.usage_trend < 100.0, "trend {}", s.usage_trend);
    }

    #[test]
    fn refine_last_does_not_add_a_compaction() {
        let mut e = feed(&[100, 200, 300]);
        e.refine_last(250);
        let s = e.snapshot(4, 0);
        assert_eq!(s.heap_compactions, 3);
        assert_eq!(s.current_base, 250);
        assert_eq!(s.min, 250);
    }
}
