//! The per-isolate GC monitor: the GC hook, the stats/leak engine it feeds, and the channel that
//! carries the engine's events to JS.
//!
//! One `Monitor` exists per Node environment (the main thread and each worker), stored as napi
//! instance data, so no state is shared between isolates. The hook is installed only while JS
//! has 'stats' or 'leak' listeners. Inside the GC it only does arithmetic and queues an event
//! on a weak threadsafe function: no JS runs and nothing is allocated on the JS heap there.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use memwatch_core::gc::{EngineConfig, GcEngine, GcEvent, GcKind, StatsRecord};
use memwatch_core::leak::LeakReport;
use memwatch_core::runway::{runway_reason, RunwayQuantity, RunwayReport};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};

use crate::v8::{GcHook, GcInfo, GcListener, GcPhase, Isolate};

/// Event kinds as delivered to JS: `(kind, numbers, reason)`.
pub const EVENT_STATS: u32 = 0;
pub const EVENT_LEAK: u32 = 1;
pub const EVENT_SAMPLE: u32 = 2;
pub const EVENT_RUNWAY: u32 = 3;
pub const EVENT_NEAR_LIMIT: u32 = 4;

/// The one raise of V8's heap limit memwatch-rs gives, near it, so that its 'leak' and a
/// near-limit report can still run: a fifth of the limit, at least 16 MiB, at most 128 MiB.
pub fn near_limit_raise(current: u64) -> u64 {
    (current / 5).clamp(16 << 20, 128 << 20)
}

pub enum Event {
    Stats(StatsRecord),
    Leak(LeakReport),
    /// Start an incremental full GC; done on the JS thread, outside the GC that asked for it.
    Sample,
    /// The heap is racing towards its limit.
    Runway(RunwayReport),
    /// V8's near-heap-limit callback: the limit it was at and the one given.
    NearLimit { current: u64, raised_to: u64 },
}

type EventArgs = FnArgs<(u32, Vec<f64>, Option<String>)>;
/// Weak (does not keep the event loop alive), not callee-handled (plain arguments).
pub type EventSink = ThreadsafeFunction<Event, Unknown<'static>, EventArgs, Status, false, true>;

/// Per-environment state, shared between the JS-facing functions and the GC hook.
pub struct Monitor {
    engine: RefCell<GcEngine>,
    started_ns: Cell<[u64; 5]>,
    /// Used heap at the prologue of the full GC in progress.
    used_before_full_gc: Cell<Option<u64>>,
    suppressed: Cell<u32>,
    /// Inside `gc()`: its GCs' stats wait here, so that one gc() is one 'stats' event.
    coalescing: Cell<bool>,
    pending_stats: RefCell<Option<StatsRecord>>,
    /// Full GCs seen by the hook, HeapDiff's own included (allocation sampling's survivor cutoff).
    full_gcs: Cell<u64>,
    /// Whether the one raise of the heap limit was given.
    limit_raised: Cell<bool>,
    sink: RefCell<Option<EventSink>>,
    hook: RefCell<Option<GcHook>>,
    cleanup_registered: Cell<bool>,
}

/// Default engine settings: the original rule; a full GC with no net allocation since the
/// previous one (measured exact to the byte: 0 in every forced pair) is back-to-back.
pub fn default_engine_config() -> EngineConfig {
    EngineConfig { back_to_back_bytes: 0, ..EngineConfig::default() }
}

impl Monitor {
    fn new() -> Monitor {
        Monitor {
            engine: RefCell::new(GcEngine::new(default_engine_config())),
            started_ns: Cell::new([0; 5]),
            used_before_full_gc: Cell::new(None),
            suppressed: Cell::new(0),
            coalescing: Cell::new(false),
            pending_stats: RefCell::new(None),
            full_gcs: Cell::new(0),
            limit_raised: Cell::new(false),
            sink: RefCell::new(None),
            hook: RefCell::new(None),
            cleanup_registered: Cell::new(false),
        }
    }

    /// The monitor of the calling environment, created on first use.
    pub fn of(env: &Env) -> Result<Rc<Monitor>> {
        if let Some(existing) = env.get_instance_data::<Rc<Monitor>>()? {
            return Ok(existing.clone());
        }
        let monitor = Rc::new(Monitor::new());
        env.set_instance_data(monitor.clone(), (), |_| {})?;
        Ok(monitor)
    }

    pub fn is_running(&self) -> bool {
        self.hook.borrow().is_some()
    }

    /// Installs the GC hook, delivering events to `sink`.
    pub fn start(self: &Rc<Self>, env: &Env, sink: EventSink) -> Result<()> {
        if self.is_running() {
            return Err(Error::from_reason("memwatch-rs: the GC monitor is already running"));
        }
        let isolate = current_isolate()?;
        if !self.cleanup_registered.get() {
            // Tear the hook down with the environment (worker exit, terminate(), process.exit()),
            // before V8 disposes the isolate the hook is registered on.
            env.add_env_cleanup_hook(self.clone(), |monitor| monitor.stop())?;
            self.cleanup_registered.set(true);
        }
        *self.sink.borrow_mut() = Some(sink);
        let listener: Rc<dyn GcListener> = self.clone();
        let hook = GcHook::install(isolate, listener).map_err(Error::from_reason)?;
        *self.hook.borrow_mut() = Some(hook);
        Ok(())
    }

    /// Removes the GC hook and closes the event channel. Idempotent.
    pub fn stop(&self) {
        let hook = self.hook.borrow_mut().take();
        drop(hook);
        let sink = self.sink.borrow_mut().take();
        drop(sink);
    }

    pub fn configure(&self, config: EngineConfig) {
        let mut engine = self.engine.borrow_mut();
        let sampling = engine.sampling_active();
        let reserve = engine.young_reserve();
        *engine = GcEngine::new(config);
        engine.set_sampling_active(sampling);
        engine.set_young_reserve(reserve);
    }

    pub fn set_young_reserve(&self, bytes: u64) {
        self.engine.borrow_mut().set_young_reserve(bytes);
    }

    pub fn gc_time_ratio(&self) -> f64 {
        self.engine.try_borrow().map(|e| e.gc_time_ratio(now_us())).unwrap_or(0.0)
    }

    pub fn gc_count(&self) -> u64 {
        self.engine.try_borrow().map(|e| e.gc_count()).unwrap_or(0)
    }

    /// Full GCs the hook has seen since it was first installed, all of them counted.
    pub fn full_gcs(&self) -> u64 {
        self.full_gcs.get()
    }

    pub fn leak_in_episode(&self) -> bool {
        self.engine.try_borrow().map(|e| e.leak_in_episode()).unwrap_or(false)
    }

    /// Heap-base sampling runs only while JS listens for 'leak'.
    pub fn set_leak_watch(&self, active: bool) {
        self.engine.borrow_mut().set_sampling_active(active);
    }

    pub fn config(&self) -> EngineConfig {
        self.engine.borrow().config()
    }

    /// Runs `f` with stats and leak counting suppressed (HeapDiff's own GCs).
    pub fn suppressed<T>(&self, f: impl FnOnce() -> T) -> T {
        struct Guard<'a>(&'a Cell<u32>);
        impl Drop for Guard<'_> {
            fn drop(&mut self) {
                self.0.set(self.0.get().saturating_sub(1));
            }
        }
        self.suppressed.set(self.suppressed.get() + 1);
        let _guard = Guard(&self.suppressed);
        f()
    }

    /// Runs `f` (a forced GC: V8 runs two full GCs for one low-memory notification) delivering
    /// one 'stats' event for all its GCs, the last one's, afterwards; none when `deliver` is
    /// false (the GCs still count and feed the detector).
    pub fn coalesced<T>(&self, deliver: bool, f: impl FnOnce() -> T) -> T {
        let outer = self.coalescing.replace(true);
        let out = f();
        self.coalescing.set(outer);
        if !outer {
            let pending = self.pending_stats.borrow_mut().take();
            if let Some(stats) = pending.filter(|_| deliver) {
                self.deliver(Event::Stats(stats));
            }
        }
        out
    }

    fn deliver(&self, event: Event) {
        if let Ok(sink) = self.sink.try_borrow() {
            if let Some(sink) = sink.as_ref() {
                // Non-blocking: a full queue drops the event rather than stall the GC.
                let _ = sink.call(event, ThreadsafeFunctionCallMode::NonBlocking);
            }
        }
    }
}

fn slot(kinds: u32) -> usize {
    GcKind::ALL.iter().position(|k| kinds & k.bit() != 0).unwrap_or(0)
}

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

impl GcListener for Monitor {
    /// The last resort, when the runway judge had no time (a heap filled in under a second):
    /// once per process, while leaks are watched, V8's limit is raised by [`near_limit_raise`]
    /// and 'leak' is queued, so the event and a near-limit report can run when JS next runs.
    /// Later calls change nothing: the process then dies as it would have.
    fn on_near_heap_limit(&self, current: u64, _initial: u64) -> u64 {
        let watching = self.engine.try_borrow().map(|e| e.sampling_active()).unwrap_or(false);
        if !watching || self.limit_raised.replace(true) {
            return current;
        }
        let raised_to = current.saturating_add(near_limit_raise(current));
        self.deliver(Event::NearLimit { current, raised_to });
        raised_to
    }

    fn on_gc(&self, info: &GcInfo) {
        let slot = slot(info.kinds);
        match info.phase {
            GcPhase::Prologue => {
                let mut started = self.started_ns.get();
                started[slot] = info.monotonic_ns;
                self.started_ns.set(started);
                if let Some(heap) = info.heap {
                    self.used_before_full_gc.set(Some(heap.used_heap_size));
                }
            }
            GcPhase::Epilogue => {
                let started = self.started_ns.get()[slot];
                let duration_ns = if started == 0 { 0 } else { info.monotonic_ns.saturating_sub(started) };
                let is_full = info.kinds & GcKind::MarkSweepCompact.bit() != 0;
                if is_full {
                    self.full_gcs.set(self.full_gcs.get().wrapping_add(1));
                }
                let event = GcEvent {
                    kinds: info.kinds,
                    duration_ns,
                    timestamp_us: now_us(),
                    heap: info.heap,
                    used_before: if is_full { self.used_before_full_gc.take() } else { None },
                };
                let emission = match self.engine.try_borrow_mut() {
                    Ok(mut engine) => engine.on_gc(&event, self.suppressed.get() > 0),
                    Err(_) => return,
                };
                if let Some(stats) = emission.stats {
                    if self.coalescing.get() {
                        if let Ok(mut pending) = self.pending_stats.try_borrow_mut() {
                            *pending = Some(stats);
                        }
                    } else {
                        self.deliver(Event::Stats(stats));
                    }
                }
                if let Some(leak) = emission.leak {
                    self.deliver(Event::Leak(leak));
                }
                if let Some(runway) = emission.runway {
                    self.deliver(Event::Runway(runway));
                }
                if emission.request_sample {
                    self.deliver(Event::Sample);
                }
            }
        }
    }
}

pub fn current_isolate() -> Result<Isolate> {
    Isolate::current().ok_or_else(|| Error::from_reason("memwatch-rs: no V8 isolate on this thread"))
}

/// Converts an event into the arguments of the JS delivery function, acting on the ones that
/// are for the native side.
pub fn event_args(event: Event) -> EventArgs {
    match event {
        Event::Sample => {
            if let Some(isolate) = Isolate::current() {
                isolate.request_incremental_gc();
            }
            FnArgs::from((EVENT_SAMPLE, Vec::new(), None))
        }
        Event::Stats(stats) => FnArgs::from((EVENT_STATS, stats.fields().iter().map(|f| f.1).collect(), None)),
        Event::NearLimit { current, raised_to } => FnArgs::from((EVENT_NEAR_LIMIT, vec![current as f64, raised_to as f64], None)),
        Event::Runway(r) => FnArgs::from((
            EVENT_RUNWAY,
            runway_values(&r),
            Some(runway_reason(RunwayQuantity::Heap, "its", &r)),
        )),
        Event::Leak(l) => FnArgs::from((
            EVENT_LEAK,
            vec![l.start_ms, l.end_ms, l.growth as f64, l.rate, l.heap_limit as f64, l.time_to_limit.unwrap_or(f64::NAN)],
            Some(l.reason),
        )),
    }
}

/// A runway report as numbers for JS: `[start, end, growth, rate, limit, timeToLimit, current, base, samples]`.
pub fn runway_values(r: &RunwayReport) -> Vec<f64> {
    vec![r.start_ms, r.end_ms, r.growth, r.rate, r.limit, r.time_to_limit, r.current, r.base, r.samples as f64]
}
