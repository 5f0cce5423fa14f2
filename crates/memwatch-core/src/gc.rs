//! Per-isolate GC bookkeeping: which kinds of GC ran, how often, for how long, and the 'stats'
//! record that combines them with the heap-base estimator and the leak detector.
//!
//! The glue feeds it one [`GcEvent`] per GC epilogue (plus heap statistics after full GCs); the
//! engine answers with what to emit. It never allocates on the hot path of a minor GC.

use crate::runway::{RunwayConfig, RunwayJudge, RunwayReport};
use crate::leak::{LeakConfig, LeakDetector, LeakReport};
use crate::stats::{BaseEstimator, BaseStats, StatsConfig};
use crate::trend::{time_to_limit, trend_reason, TrendConfig, TrendDetector, TrendReport};

/// GC kinds, independent of the bit values a given V8 version assigns them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GcKind {
    Scavenge,
    MinorMarkSweep,
    MarkSweepCompact,
    IncrementalMarking,
    ProcessWeakCallbacks,
}

impl GcKind {
    pub const ALL: [GcKind; 5] = [
        GcKind::Scavenge,
        GcKind::MinorMarkSweep,
        GcKind::MarkSweepCompact,
        GcKind::IncrementalMarking,
        GcKind::ProcessWeakCallbacks,
    ];

    /// Stable bit of this kind in [`GcEvent::kinds`] (the glue maps V8's enum onto these).
    pub const fn bit(self) -> u32 {
        match self {
            GcKind::Scavenge => 1,
            GcKind::MinorMarkSweep => 2,
            GcKind::MarkSweepCompact => 4,
            GcKind::IncrementalMarking => 8,
            GcKind::ProcessWeakCallbacks => 16,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// `v8::HeapStatistics`, as plain numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct HeapStats {
    pub total_heap_size: u64,
    pub total_heap_size_executable: u64,
    pub total_physical_size: u64,
    pub total_available_size: u64,
    pub used_heap_size: u64,
    pub heap_size_limit: u64,
    pub malloced_memory: u64,
    pub peak_malloced_memory: u64,
}

/// One finished GC, as the glue saw it.
#[derive(Clone, Copy, Debug)]
pub struct GcEvent {
    /// OR of [`GcKind::bit`]s.
    pub kinds: u32,
    /// Prologue to epilogue, nanoseconds.
    pub duration_ns: u64,
    /// Wall clock at the epilogue, microseconds since the Unix epoch.
    pub timestamp_us: u64,
    /// Heap statistics after the GC (full GCs need them; minor GCs use them for sampling).
    pub heap: Option<HeapStats>,
    /// Used heap at this GC's prologue (full GCs). Compared with the used heap after the
    /// previous full GC it says how much was allocated in between: a full GC with (almost)
    /// nothing allocated before it is a back-to-back GC.
    pub used_before: Option<u64>,
}

/// When to ask V8 for an extra, incremental full GC so the leak detector sees the heap base
/// often enough.
///
/// V8 raises the old-generation limit by up to 4x at each full GC, so a program whose old
/// generation grows mostly through a leak (the usual case in a server: everything else dies
/// young) gets one full GC per 4x of growth, and five of them take a 1000x heap. While a 'leak'
/// listener is attached, the engine asks for a sample once the heap has grown by
/// `growth_percent` since the last full GC, at most every `min_interval_ms`, and on a big heap
/// less often still (see [`sample_spacing_ms`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SamplingConfig {
    /// 0 disables sampling: only the GCs V8 runs on its own are seen.
    pub growth_percent: u32,
    pub min_interval_ms: u64,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        SamplingConfig { growth_percent: 25, min_interval_ms: 1000 }
    }
}

/// Spacing of sampling GCs per MiB of used heap, ms.
const SAMPLE_MS_PER_MIB: u64 = 10;

/// The least time between two sampling GCs on a heap of `used` bytes: `min_interval_ms`, or
/// on a heap over 100 MiB longer, 10 ms per MiB (1 GiB: 10 s). A full GC marks the whole live
/// heap, about 2 ms of CPU per MiB (measured: 5 extra full GCs of a 100-MiB heap cost 1 s of CPU
/// on two cores), so once a second on a growing 1-GiB heap would cost more CPU than the
/// program. Spacing them further (tried: 100 ms per MiB) starved the detector: request-log,
/// with a 150-MiB heap, was no longer caught within 300 s (before: 205 s).
pub fn sample_spacing_ms(min_interval_ms: u64, used: u64) -> u64 {
    min_interval_ms.max(used / (1 << 20) * SAMPLE_MS_PER_MIB)
}

/// Which rule decides 'leak'.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DetectorKind {
    /// The robust trend test of [`crate::trend`] (the default).
    #[default]
    Trend,
    /// memwatch's "grew N full GCs in a row" rule ([`crate::leak`]).
    Memwatch,
}

/// Everything the engine can be tuned with.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EngineConfig {
    pub stats: StatsConfig,
    pub detector: DetectorKind,
    pub trend: TrendConfig,
    pub leak: LeakConfig,
    pub sampling: SamplingConfig,
    /// A full GC preceded by at most this many bytes of allocation is "back-to-back".
    pub back_to_back_bytes: u64,
}

/// GC time over the last minute, in one-second slots: the share of wall time spent in GC.
/// Fixed size; fed from every GC epilogue (minor and full).
#[derive(Clone, Debug)]
pub struct GcTimeWindow {
    /// (second since the epoch, GC ns in that second), indexed by second % SLOTS.
    slots: [(u64, u64); GC_WINDOW_SLOTS],
    /// When the first GC was seen, µs: before a whole minute has passed the share is over the
    /// time since then (at least a second).
    first_us: Option<u64>,
}

const GC_WINDOW_SLOTS: usize = 60;

impl Default for GcTimeWindow {
    fn default() -> Self {
        GcTimeWindow { slots: [(0, 0); GC_WINDOW_SLOTS], first_us: None }
    }
}

impl GcTimeWindow {
    pub fn add(&mut self, end_us: u64, duration_ns: u64) {
        self.first_us.get_or_insert(end_us.saturating_sub(duration_ns / 1000));
        let second = end_us / 1_000_000;
        let slot = &mut self.slots[(second % GC_WINDOW_SLOTS as u64) as usize];
        if slot.0 != second {
            *slot = (second, 0);
        }
        slot.1 = slot.1.saturating_add(duration_ns);
    }

    /// Share of wall time in GC (0 to 1) over the minute before `now_us`.
    pub fn ratio(&self, now_us: u64) -> f64 {
        let Some(first_us) = self.first_us else {
            return 0.0;
        };
        let now_s = now_us / 1_000_000;
        let oldest = now_s.saturating_sub(GC_WINDOW_SLOTS as u64 - 1);
        let ns: u64 = self.slots.iter().filter(|(s, _)| *s >= oldest && *s <= now_s).map(|s| s.1).sum();
        let span_us = now_us.saturating_sub(first_us.max(oldest * 1_000_000)).max(1_000_000);
        (ns as f64 / 1000.0 / span_us as f64).clamp(0.0, 1.0)
    }
}

/// Both lineages' 'stats' fields for one full GC.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StatsRecord {
    pub base: BaseStats,
    pub gc_ts_us: u64,
    pub counts: [u64; 5],
    pub times_ns: [u64; 5],
    pub heap: HeapStats,
    pub gc_time_ns: u64,
    /// Share of wall time spent in GC over the last minute (0 to 1).
    pub gc_time_ratio: f64,
}

impl StatsRecord {
    /// Every field under its JS name, in emission order: the original 8, then airbnb's 19,
    /// then the kinds airbnb did not know (minor mark-sweep). One list, so the glue and the
    /// docs cannot disagree on names.
    pub fn fields(&self) -> [(&'static str, f64); 29] {
        let b = &self.base;
        let h = &self.heap;
        let c = |k: GcKind| self.counts[k.index()] as f64;
        let t = |k: GcKind| self.times_ns[k.index()] as f64;
        [
            ("num_full_gc", b.num_full_gc as f64),
            ("num_inc_gc", b.num_inc_gc as f64),
            ("heap_compactions", b.heap_compactions as f64),
            ("usage_trend", b.usage_trend),
            ("estimated_base", b.estimated_base as f64),
            ("current_base", b.current_base as f64),
            ("min", b.min as f64),
            ("max", b.max as f64),
            ("gc_ts", self.gc_ts_us as f64),
            ("gcScavengeCount", c(GcKind::Scavenge)),
            ("gcScavengeTime", t(GcKind::Scavenge)),
            ("gcMarkSweepCompactCount", c(GcKind::MarkSweepCompact)),
            ("gcMarkSweepCompactTime", t(GcKind::MarkSweepCompact)),
            ("gcIncrementalMarkingCount", c(GcKind::IncrementalMarking)),
            ("gcIncrementalMarkingTime", t(GcKind::IncrementalMarking)),
            ("gcProcessWeakCallbacksCount", c(GcKind::ProcessWeakCallbacks)),
            ("gcProcessWeakCallbacksTime", t(GcKind::ProcessWeakCallbacks)),
            ("total_heap_size", h.total_heap_size as f64),
            ("total_heap_size_executable", h.total_heap_size_executable as f64),
            ("total_physical_size", h.total_physical_size as f64),
            ("total_available_size", h.total_available_size as f64),
            ("used_heap_size", h.used_heap_size as f64),
            ("heap_size_limit", h.heap_size_limit as f64),
            ("malloced_memory", h.malloced_memory as f64),
            ("peak_malloced_memory", h.peak_malloced_memory as f64),
            ("gc_time", self.gc_time_ns as f64),
            ("gcMinorMarkSweepCount", c(GcKind::MinorMarkSweep)),
            ("gcMinorMarkSweepTime", t(GcKind::MinorMarkSweep)),
            ("gc_time_ratio", self.gc_time_ratio),
        ]
    }
}

/// What a GC asks the glue to emit.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Emission {
    pub stats: Option<StatsRecord>,
    pub leak: Option<LeakReport>,
    /// Ask V8 for an incremental full GC (see [`SamplingConfig`]).
    pub request_sample: bool,
    /// The heap is racing towards its limit ([`crate::runway`]; only while leaks are watched).
    pub runway: Option<RunwayReport>,
}

/// The leak detector in use.
#[derive(Clone, Debug)]
enum Detector {
    Trend(TrendDetector),
    Memwatch(LeakDetector),
}

impl Detector {
    fn new(config: &EngineConfig) -> Detector {
        match config.detector {
            DetectorKind::Trend => Detector::Trend(TrendDetector::new(config.trend)),
            DetectorKind::Memwatch => Detector::Memwatch(LeakDetector::new(config.leak)),
        }
    }

    fn observe(&mut self, used: u64, now_ms: f64, heap_limit: u64) -> Option<LeakReport> {
        match self {
            Detector::Memwatch(d) => d.observe(used, now_ms).map(|mut r| {
                r.heap_limit = heap_limit;
                r.time_to_limit = time_to_limit(used as f64, r.rate, heap_limit).filter(|s| s.is_finite());
                r
            }),
            Detector::Trend(d) => d.observe(used, now_ms).map(|t| trend_leak(&t, heap_limit)),
        }
    }

    fn refine_last(&mut self, used: u64, now_ms: f64, heap_limit: u64) -> Option<LeakReport> {
        match self {
            Detector::Memwatch(d) => {
                d.refine_last(used);
                None
            }
            Detector::Trend(d) => d.refine_last(used, now_ms).map(|t| trend_leak(&t, heap_limit)),
        }
    }
}

/// The 'leak' event of a heap trend report.
fn trend_leak(t: &TrendReport, heap_limit: u64) -> LeakReport {
    LeakReport {
        start_ms: t.start_ms,
        end_ms: t.end_ms,
        growth: t.growth,
        reason: trend_reason("heap", t, Some(heap_limit)),
        rate: t.rate,
        heap_limit,
        time_to_limit: time_to_limit(t.current, t.rate, heap_limit).filter(|s| s.is_finite()),
    }
}

/// What the used heap after a full GC can reach before V8 gives up: `heap_size_limit` less the
/// young generation's reserve. V8 sizes the old generation to `--max-old-space-size` and puts
/// the young generation on top, whose size depends on the V8 version: 192 MiB of old space
/// reads as a 240 MiB heap limit on node 20 and 22 (48 MiB), 384 on node 24 (192), 288 on node
/// 26 (96). The glue tells the reserve ([`GcEngine::set_young_reserve`]); it is never more than
/// half the limit.
pub fn heap_runway_limit(heap_size_limit: u64, young_reserve: u64) -> u64 {
    heap_size_limit.saturating_sub(young_reserve.min(heap_size_limit / 2))
}

/// The young generation's reserve assumed when the glue has not said (node 20 and 22).
pub const DEFAULT_YOUNG_RESERVE: u64 = 48 << 20;

/// The per-isolate engine.
#[derive(Clone, Debug)]
pub struct GcEngine {
    config: EngineConfig,
    estimator: BaseEstimator,
    detector: Detector,
    num_full_gc: u64,
    num_inc_gc: u64,
    counts: [u64; 5],
    times_ns: [u64; 5],
    sampling_active: bool,
    sample_pending: bool,
    last_full_used: Option<u64>,
    /// Used heap after the first GC seen: the sampling reference until a full GC gives a base.
    first_used: Option<u64>,
    last_sample_request_us: Option<u64>,
    /// When the last full GC (V8's own or a sample) ended: V8 running full GCs often enough on
    /// its own means no sample is needed.
    last_full_us: Option<u64>,
    gc_window: GcTimeWindow,
    runway: RunwayJudge,
    young_reserve: u64,
}

impl Default for GcEngine {
    fn default() -> Self {
        GcEngine::new(EngineConfig::default())
    }
}

impl GcEngine {
    pub fn new(config: EngineConfig) -> Self {
        GcEngine {
            config,
            estimator: BaseEstimator::new(config.stats),
            detector: Detector::new(&config),
            num_full_gc: 0,
            num_inc_gc: 0,
            counts: [0; 5],
            times_ns: [0; 5],
            sampling_active: false,
            sample_pending: false,
            last_full_used: None,
            first_used: None,
            last_sample_request_us: None,
            last_full_us: None,
            gc_window: GcTimeWindow::default(),
            runway: RunwayJudge::new(RunwayConfig::default()),
            young_reserve: DEFAULT_YOUNG_RESERVE,
        }
    }

    /// GCs of every kind seen (HeapDiff's own included): a reading taken after this changes
    /// comes after a GC.
    pub fn gc_count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Share of wall time spent in GC over the minute before `now_us` (0 to 1).
    pub fn gc_time_ratio(&self, now_us: u64) -> f64 {
        self.gc_window.ratio(now_us)
    }

    /// Whether the leak detector is inside a reported episode that still grows (the trend
    /// detector; memwatch's rule has no episodes, so false).
    pub fn leak_in_episode(&self) -> bool {
        matches!(&self.detector, Detector::Trend(d) if d.in_episode())
    }

    pub fn sampling_active(&self) -> bool {
        self.sampling_active
    }

    /// Turns heap-base sampling on while someone listens for leaks.
    pub fn set_sampling_active(&mut self, active: bool) {
        self.sampling_active = active;
    }

    /// The young generation's reserve in V8's heap limit (see [`heap_runway_limit`]).
    pub fn set_young_reserve(&mut self, bytes: u64) {
        self.young_reserve = bytes;
    }

    pub fn young_reserve(&self) -> u64 {
        self.young_reserve
    }

    fn wants_sample(&mut self, event: &GcEvent) -> bool {
        let s = self.config.sampling;
        if !self.sampling_active || s.growth_percent == 0 || self.sample_pending {
            return false;
        }
        let Some(heap) = event.heap else {
            return false;
        };
        let Some(base) = self.last_full_used.or(self.first_used) else {
            return false;
        };
        let threshold = base as f64 * (1.0 + f64::from(s.growth_percent) / 100.0);
        let spacing_ms = sample_spacing_ms(s.min_interval_ms, heap.used_heap_size);
        // Spaced from the last request and from the last full GC of any origin: a server whose
        // GCs V8 already runs every few hundred ms needs no sample (asking anyway costs: V8
        // answers memory pressure with memory-reducing GCs and a smaller new space; measured
        // 6-23% more CPU per request on a loopback HTTP service, bench:production --paired).
        let since = |t: Option<u64>| t.is_none_or(|last| event.timestamp_us.saturating_sub(last) >= spacing_ms * 1000);
        let rested = since(self.last_sample_request_us) && since(self.last_full_us);
        if heap.used_heap_size as f64 > threshold && rested {
            self.sample_pending = true;
            self.last_sample_request_us = Some(event.timestamp_us);
            return true;
        }
        false
    }

    pub fn config(&self) -> EngineConfig {
        self.config
    }

    /// Feeds one finished GC. Minor GCs only update counters; full GCs with heap statistics
    /// produce a stats record and maybe a leak report. `suppressed` GCs (those a HeapDiff
    /// causes) are counted but feed neither the estimator nor the detector, and emit nothing.
    pub fn on_gc(&mut self, event: &GcEvent, suppressed: bool) -> Emission {
        if self.first_used.is_none() {
            self.first_used = event.heap.map(|h| h.used_heap_size);
        }
        self.gc_window.add(event.timestamp_us, event.duration_ns);
        for kind in GcKind::ALL {
            if event.kinds & kind.bit() != 0 {
                self.counts[kind.index()] += 1;
                self.times_ns[kind.index()] += event.duration_ns;
            }
        }
        let is_full = event.kinds & GcKind::MarkSweepCompact.bit() != 0;
        // num_full_gc / num_inc_gc count the program's GCs, never memwatch-rs's own (a
        // HeapDiff's, a snapshot's, a census's); the per-kind counts are V8's, all of them.
        if !is_full {
            if !suppressed {
                self.num_inc_gc += 1;
            }
            return Emission { request_sample: self.wants_sample(event), ..Emission::default() };
        }
        if !suppressed {
            self.num_full_gc += 1;
        }
        self.sample_pending = false;
        self.last_full_us = Some(event.timestamp_us);
        let allocated = event.used_before.zip(self.last_full_used).map(|(before, last)| before.saturating_sub(last));
        if let Some(heap) = event.heap {
            self.last_full_used = Some(heap.used_heap_size);
        }
        let heap = match event.heap {
            Some(heap) if !suppressed => heap,
            _ => return Emission::default(),
        };
        let used = heap.used_heap_size;
        let back_to_back = allocated.is_some_and(|bytes| bytes <= self.config.back_to_back_bytes);
        let now_ms = event.timestamp_us as f64 / 1000.0;
        let leak = if back_to_back {
            self.estimator.refine_last(used);
            self.detector.refine_last(used, now_ms, heap.heap_size_limit)
        } else {
            self.estimator.record(used);
            self.detector.observe(used, now_ms, heap.heap_size_limit)
        };
        // The runway judge sees every full GC, back-to-back ones too (a gc() harness's exact
        // samples), from the first one on: a leak that kills in seconds never reaches a warm-up.
        let runway = if self.sampling_active {
            self.runway.observe(now_ms, used as f64, heap_runway_limit(heap.heap_size_limit, self.young_reserve) as f64)
        } else {
            None
        };
        let stats = StatsRecord {
            base: self.estimator.snapshot(self.num_full_gc, self.num_inc_gc),
            gc_ts_us: event.timestamp_us,
            counts: self.counts,
            times_ns: self.times_ns,
            heap,
            gc_time_ns: event.duration_ns,
            gc_time_ratio: self.gc_window.ratio(event.timestamp_us),
        };
        Emission { stats: Some(stats), leak, request_sample: false, runway }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1 << 20;

    #[test]
    fn sampling_is_spaced_by_heap_size() {
        assert_eq!(sample_spacing_ms(1000, 5 * MB), 1000);
        assert_eq!(sample_spacing_ms(1000, 100 * MB), 1000);
        assert_eq!(sample_spacing_ms(1000, 400 * MB), 4000);
        assert_eq!(sample_spacing_ms(30_000, 400 * MB), 30_000, "a longer configured interval wins");
        assert_eq!(sample_spacing_ms(1000, 1024 * MB), 10_240);
    }

    #[test]
    fn gc_time_ratio_over_the_last_minute() {
        let mut w = GcTimeWindow::default();
        assert_eq!(w.ratio(5_000_000), 0.0, "no GC seen yet");
        // 10 ms of GC per second for two minutes: 1% of wall time.
        for s in 0..120u64 {
            w.add(1_000_000_000 + s * 1_000_000 + 500_000, 10_000_000);
        }
        let r = w.ratio(1_000_000_000 + 120 * 1_000_000);
        assert!((r - 0.01).abs() < 0.001, "{r}");
        // A 600-ms pause, then a quiet minute: it counts while inside the minute, then not.
        w.add(1_000_000_000 + 130 * 1_000_000, 600_000_000);
        let r = w.ratio(1_000_000_000 + 131 * 1_000_000);
        assert!(r > 0.015 && r < 0.03, "{r}");
        assert_eq!(w.ratio(1_000_000_000 + 200 * 1_000_000), 0.0);
        // Early on, the share is over the time since the first GC, not a whole minute.
        let mut w = GcTimeWindow::default();
        w.add(10_000_000, 200_000_000);
        let r = w.ratio(12_000_000);
        assert!(r > 0.09 && r < 0.11, "{r}");
        // A clock that steps back never divides by zero or exceeds 1.
        assert!(w.ratio(0) <= 1.0);
    }

    /// A GC that left `used` bytes in use; `before` is the used heap at its prologue.
    fn gc(kinds: u32, used: u64, t_ms: u64, before: Option<u64>) -> GcEvent {
        GcEvent {
            kinds,
            duration_ns: 1000,
            timestamp_us: t_ms * 1000,
            heap: Some(HeapStats { used_heap_size: used, total_heap_size: used * 2, ..HeapStats::default() }),
            used_before: before,
        }
    }
    const SCAVENGE: u32 = 1;
    const FULL: u32 = 4;

    #[test]
    fn the_heap_runway_speaks_in_the_warm_up_and_only_while_leaks_are_watched() {
        // 15 MB/s from 10 MB on a 240 MB heap limit (192 MB of old space): dead in ~12 s.
        let limit = 240 * MB;
        let run = |watch: bool| {
            let mut e = GcEngine::default();
            e.set_sampling_active(watch);
            let mut before = None;
            for i in 0..40u64 {
                let used = 10 * MB + 15 * MB * i / 2;
                let mut event = gc(FULL, used, 1000 + i * 500, before);
                event.heap.as_mut().unwrap().heap_size_limit = limit;
                before = Some(used + MB);
                if let Some(r) = e.on_gc(&event, false).runway {
                    return Some((i, r));
                }
            }
            None
        };
        assert_eq!(run(false), None, "a 'stats' listener alone runs no judge");
        let (i, r) = run(true).expect("reported");
        assert!(i * 500 <= 7000, "at {} ms, dead at ~12 s", i * 500);
        assert_eq!(r.limit, (192 * MB) as f64);
        assert_eq!(heap_runway_limit(limit, DEFAULT_YOUNG_RESERVE), 192 * MB);
        assert_eq!(heap_runway_limit(384 * MB, 192 * MB), 192 * MB, "node 24's young generation");
        assert_eq!(heap_runway_limit(100 * MB, 192 * MB), 50 * MB, "half the limit at most");
    }

    #[test]
    fn minor_gcs_count_but_emit_nothing() {
        let mut e = GcEngine::default();
        let out = e.on_gc(&gc(SCAVENGE, MB, 0, None), false);
        assert_eq!(out, Emission::default());
        let out = e.on_gc(&gc(FULL, MB, 1, None), false);
        let stats = out.stats.unwrap();
        assert_eq!(stats.base.num_inc_gc, 1);
        assert_eq!(stats.base.num_full_gc, 1);
        assert_eq!(stats.counts[0], 1);
        assert_eq!(stats.counts[2], 1);
        assert_eq!(stats.gc_time_ns, 1000);
    }

    #[test]
    fn suppressed_full_gcs_emit_nothing_and_feed_nothing() {
        let mut e = GcEngine::default();
        e.on_gc(&gc(FULL, MB, 0, None), false);
        let out = e.on_gc(&gc(FULL, 50 * MB, 1, Some(60 * MB)), true);
        assert!(out.stats.is_none() && out.leak.is_none());
        let stats = e.on_gc(&gc(FULL, 2 * MB, 2, Some(51 * MB)), false).stats.unwrap();
        assert_eq!(stats.base.heap_compactions, 2, "the suppressed GC was not a compaction sample");
        assert_eq!(stats.base.num_full_gc, 2, "num_full_gc counts the program's GCs, not memwatch-rs's own");
        assert_eq!(stats.counts[2], 3, "V8's per-kind count has them all");
    }

    /// `rounds` of (leak 200 KB, a forced GC pair) on a 10 MB heap; the rounds that reported.
    fn forced_harness(config: EngineConfig, rounds: u64, leak_bytes: u64) -> Vec<u64> {
        let mut e = GcEngine::new(config);
        let mut used = 10 * MB;
        let mut fired = Vec::new();
        e.on_gc(&gc(FULL, used, 0, None), false);
        for round in 1..=rounds {
            // First GC of the pair: leak_bytes leaked (plus garbage) since the previous full GC.
            let before = used + 1024 * 1024;
            used += leak_bytes;
            let first = e.on_gc(&gc(FULL, used, round * 10, Some(before)), false).leak.is_some();
            // Second GC of the pair: nothing allocated; the heap is equal or a little smaller.
            let before = used;
            used -= 64;
            let second = e.on_gc(&gc(FULL, used, round * 10 + 1, Some(before)), false).leak.is_some();
            if first || second {
                fired.push(round);
            }
        }
        fired
    }

    #[test]
    fn forced_gc_pairs_with_leaks_between_fire_after_five() {
        let memwatch = EngineConfig { detector: DetectorKind::Memwatch, back_to_back_bytes: 0, ..EngineConfig::default() };
        assert_eq!(forced_harness(memwatch, 6, 200 * 1024), vec![5], "memwatch's rule: once, at the 5th growth");
    }

    #[test]
    fn the_trend_detector_catches_a_forced_gc_harness_within_ten_calls_once() {
        let fired = forced_harness(EngineConfig::default(), 40, 200 * 1024);
        assert_eq!(fired.len(), 1, "one report for one episode: {fired:?}");
        assert!(fired[0] <= 10, "caught at call {}", fired[0]);
        assert!(forced_harness(EngineConfig::default(), 200, 0).is_empty(), "a harness keeping nothing");
    }

    #[test]
    fn sampling_starts_before_the_first_full_gc() {
        let mut e = GcEngine::default();
        e.set_sampling_active(true);
        assert!(!e.on_gc(&gc(SCAVENGE, 8 * MB, 0, None), false).request_sample);
        assert!(e.on_gc(&gc(SCAVENGE, 11 * MB, 10, None), false).request_sample, "the first GC is the reference");
    }

    #[test]
    fn sampling_requests_follow_growth_rate_limit_and_listeners() {
        let mut e = GcEngine::default();
        e.on_gc(&gc(FULL, 4 * MB, 0, None), false);
        assert!(!e.on_gc(&gc(SCAVENGE, 8 * MB, 10, None), false).request_sample, "inactive without a leak listener");
        e.set_sampling_active(true);
        assert!(!e.on_gc(&gc(SCAVENGE, 4 * MB + 800 * 1024, 20, None), false).request_sample, "below +25%");
        assert!(!e.on_gc(&gc(SCAVENGE, 5 * MB + 200 * 1024, 500, None), false).request_sample, "a full GC ran 500 ms ago");
        assert!(e.on_gc(&gc(SCAVENGE, 5 * MB + 200 * 1024, 1030, None), false).request_sample, "above +25%, 1 s after the full GC");
        assert!(!e.on_gc(&gc(SCAVENGE, 6 * MB, 1040, None), false).request_sample, "one pending at a time");
        e.on_gc(&gc(FULL, 5 * MB, 1050, Some(6 * MB)), false);
        assert!(!e.on_gc(&gc(SCAVENGE, 8 * MB, 1500, None), false).request_sample, "at most once per second");
        assert!(e.on_gc(&gc(SCAVENGE, 8 * MB, 2100, None), false).request_sample);
        // V8's own full GCs, every 200 ms, leave nothing to sample however much the heap swings
        // in between (a busy HTTP server).
        let mut e = GcEngine::default();
        e.set_sampling_active(true);
        for k in 0..50u64 {
            e.on_gc(&gc(FULL, 4 * MB, k * 200, Some(20 * MB)), false);
            assert!(!e.on_gc(&gc(SCAVENGE, 12 * MB, k * 200 + 150, None), false).request_sample, "full GCs come on their own");
        }
        // A big heap is sampled less often: 10 ms per MiB (1300 MiB: every 13 s).
        let mut e = GcEngine::default();
        e.set_sampling_active(true);
        e.on_gc(&gc(FULL, 1000 * MB, 0, None), false);
        assert!(!e.on_gc(&gc(SCAVENGE, 1300 * MB, 5_000, None), false).request_sample, "not 5 s after a full GC");
        assert!(e.on_gc(&gc(SCAVENGE, 1300 * MB, 13_100, None), false).request_sample, "13 s after it");
        e.on_gc(&gc(FULL, 1000 * MB, 13_150, Some(1300 * MB)), false);
        assert!(!e.on_gc(&gc(SCAVENGE, 2000 * MB, 18_000, None), false).request_sample, "not 5 s later");
        assert!(e.on_gc(&gc(SCAVENGE, 2000 * MB, 33_200, None), false).request_sample, "20 s later (2000 MiB: every 20 s)");
    }
}
