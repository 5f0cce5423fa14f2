//! Per-isolate GC bookkeeping: which kinds of GC ran, how often, for how long, and the 'stats'
//! record that combines them with the heap-base estimator and the leak detector.
//!
//! The glue feeds it one [`GcEvent`] per GC epilogue (plus heap statistics after full GCs); the
//! engine answers with what to emit. It never allocates on the hot path of a minor GC.

use crate::leak::{LeakConfig, LeakDetector, LeakReport};
use crate::stats::{BaseEstimator, BaseStats, StatsConfig};

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
    /// Heap statistics after the GC; the glue reads them for full GCs only.
    pub heap: Option<HeapStats>,
    /// Bytes allocated between the previous full GC's epilogue and this GC's prologue, when
    /// known. A full GC with (almost) nothing allocated before it is a back-to-back GC.
    pub allocated_since_full_gc: Option<u64>,
}

/// Everything the engine can be tuned with.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EngineConfig {
    pub stats: StatsConfig,
    pub leak: LeakConfig,
    /// A full GC preceded by at most this many bytes of allocation is "back-to-back".
    pub back_to_back_bytes: u64,
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
}

impl StatsRecord {
    /// Every field under its JS name, in emission order: the original 8, then airbnb's 19,
    /// then the kinds airbnb did not know (minor mark-sweep). One list, so the glue and the
    /// docs cannot disagree on names.
    pub fn fields(&self) -> [(&'static str, f64); 28] {
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
        ]
    }
}

/// What a GC asks the glue to emit.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Emission {
    pub stats: Option<StatsRecord>,
    pub leak: Option<LeakReport>,
}

/// The per-isolate engine.
#[derive(Clone, Debug)]
pub struct GcEngine {
    config: EngineConfig,
    estimator: BaseEstimator,
    detector: LeakDetector,
    num_full_gc: u64,
    num_inc_gc: u64,
    counts: [u64; 5],
    times_ns: [u64; 5],
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
            detector: LeakDetector::new(config.leak),
            num_full_gc: 0,
            num_inc_gc: 0,
            counts: [0; 5],
            times_ns: [0; 5],
        }
    }

    pub fn config(&self) -> EngineConfig {
        self.config
    }

    /// Feeds one finished GC. Minor GCs only update counters; full GCs with heap statistics
    /// produce a stats record and maybe a leak report. `suppressed` GCs (those a HeapDiff
    /// causes) are counted but feed neither the estimator nor the detector, and emit nothing.
    pub fn on_gc(&mut self, event: &GcEvent, suppressed: bool) -> Emission {
        for kind in GcKind::ALL {
            if event.kinds & kind.bit() != 0 {
                self.counts[kind.index()] += 1;
                self.times_ns[kind.index()] += event.duration_ns;
            }
        }
        let is_full = event.kinds & GcKind::MarkSweepCompact.bit() != 0;
        if !is_full {
            self.num_inc_gc += 1;
            return Emission::default();
        }
        self.num_full_gc += 1;
        let heap = match event.heap {
            Some(heap) if !suppressed => heap,
            _ => return Emission::default(),
        };
        let used = heap.used_heap_size;
        let back_to_back = event
            .allocated_since_full_gc
            .is_some_and(|bytes| bytes <= self.config.back_to_back_bytes);
        let leak = if back_to_back {
            self.estimator.refine_last(used);
            self.detector.refine_last(used);
            None
        } else {
            self.estimator.record(used);
            self.detector.observe(used, event.timestamp_us as f64 / 1000.0)
        };
        let stats = StatsRecord {
            base: self.estimator.snapshot(self.num_full_gc, self.num_inc_gc),
            gc_ts_us: event.timestamp_us,
            counts: self.counts,
            times_ns: self.times_ns,
            heap,
            gc_time_ns: event.duration_ns,
        };
        Emission { stats: Some(stats), leak }
    }
}
