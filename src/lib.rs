//! memwatch-rs native addon: the napi surface over the per-isolate GC monitor, HeapDiff, and
//! the V8 boundary. Thin by design: policy lives in `memwatch-core`, the JS API in `index.js`.

mod analyze;
mod heapdiff;
mod monitor;
mod sampling;
mod series;
mod snapshots;
mod v8;

use memwatch_core::gc::{DetectorKind, EngineConfig, SamplingConfig, StatsRecord};
use memwatch_core::trend::TrendConfig;
use memwatch_core::leak::LeakConfig;
use memwatch_core::stats::StatsConfig;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::monitor::{current_isolate, event_args, EventSink, Monitor};

/// `NODE_MODULE_VERSION` of the headers this binary was compiled against.
const BUILT_FOR_ABI: &str = env!("MEMWATCH_NODE_ABI");
const BUILT_FOR_NODE: &str = env!("MEMWATCH_NODE_VERSION");

/// Refuses to load into a Node whose ABI differs from the one the V8 shim was compiled for:
/// V8's C++ structs change between ABIs, so running anyway would be undefined behaviour.
#[napi(module_exports)]
pub fn init(_exports: Object, env: Env) -> Result<()> {
    let global = env.get_global()?;
    let process: Object = global.get_named_property("process")?;
    let versions: Object = process.get_named_property("versions")?;
    let running_abi: String = versions.get_named_property("modules")?;
    let running_node: String = versions.get_named_property("node")?;
    if running_abi != BUILT_FOR_ABI {
        return Err(Error::from_reason(format!(
            "memwatch-rs: this binary was built for Node ABI {BUILT_FOR_ABI} (node {BUILT_FOR_NODE}) \
             but is loaded by node {running_node} (ABI {running_abi}). Rebuild it for this node with \
             `npm rebuild memwatch-rs` (from a source checkout: `npm run build`)."
        )));
    }
    Ok(())
}

/// What this binary was built for.
#[napi(object)]
pub struct BuildInfo {
    pub abi: u32,
    pub node: String,
    pub v8: String,
}

#[napi]
pub fn build_info() -> BuildInfo {
    BuildInfo { abi: BUILT_FOR_ABI.parse().unwrap_or(0), node: BUILT_FOR_NODE.to_string(), v8: v8::v8_version() }
}

/// Names of the 'stats' fields, in the order `startMonitor` delivers their values.
#[napi]
pub fn stats_field_names() -> Vec<String> {
    StatsRecord::default().fields().iter().map(|(name, _)| name.to_string()).collect()
}

/// Starts the GC monitor of this isolate. `deliver(kind, numbers, reason)` is called
/// asynchronously, after the GC, for each 'stats' (kind 0) and 'leak' (kind 1) event.
#[napi(ts_args_type = "deliver: (kind: number, values: number[], reason: string | null) => void")]
pub fn start_monitor(env: Env, deliver: Function<'_, FnArgs<(u32, Vec<f64>, Option<String>)>, Unknown<'static>>) -> Result<()> {
    let sink: EventSink = deliver
        .build_threadsafe_function::<monitor::Event>()
        .weak::<true>()
        .callee_handled::<false>()
        .build_callback(|ctx| Ok(event_args(ctx.value)))?;
    Monitor::of(&env)?.start(&env, sink)
}

/// Stops the GC monitor of this isolate; no events are delivered afterwards.
#[napi]
pub fn stop_monitor(env: Env) -> Result<()> {
    Monitor::of(&env)?.stop();
    Ok(())
}

/// Whether JS listens for 'leak' (turns heap-base sampling on or off).
#[napi]
pub fn set_leak_watch(env: Env, active: bool) -> Result<()> {
    Monitor::of(&env)?.set_leak_watch(active);
    Ok(())
}

#[napi]
pub fn is_monitoring(env: Env) -> Result<bool> {
    Ok(Monitor::of(&env)?.is_running())
}

/// Leak rule and estimator settings, already validated by index.js.
#[napi(object)]
pub struct MonitorOptions {
    /// 'trend' (default) or 'memwatch'.
    pub detector: String,
    pub leak_reminder_ms: f64,
    pub leak_warmup_ms: f64,
    pub consecutive_growths: u32,
    pub high_water_window: u32,
    pub recent_period: u32,
    pub ancient_period: u32,
    pub sample_growth_percent: u32,
    pub sample_interval_ms: u32,
    pub back_to_back_bytes: f64,
}

#[napi]
pub fn get_options(env: Env) -> Result<MonitorOptions> {
    let c = Monitor::of(&env)?.config();
    Ok(MonitorOptions {
        detector: match c.detector {
            DetectorKind::Trend => "trend",
            DetectorKind::Memwatch => "memwatch",
        }
        .to_string(),
        leak_reminder_ms: c.trend.reminder_ms as f64,
        leak_warmup_ms: c.trend.warmup_ms as f64,
        consecutive_growths: c.leak.consecutive_growths,
        high_water_window: c.leak.high_water_window,
        recent_period: c.stats.recent_period,
        ancient_period: c.stats.ancient_period,
        sample_growth_percent: c.sampling.growth_percent,
        sample_interval_ms: c.sampling.min_interval_ms.min(u64::from(u32::MAX)) as u32,
        back_to_back_bytes: c.back_to_back_bytes as f64,
    })
}

/// Replaces the settings; the estimator and the leak streak start over.
#[napi]
pub fn set_options(env: Env, options: MonitorOptions) -> Result<()> {
    let detector = match options.detector.as_str() {
        "trend" => DetectorKind::Trend,
        "memwatch" => DetectorKind::Memwatch,
        other => return Err(Error::new(Status::InvalidArg, format!("memwatch-rs: unknown detector {other:?}"))),
    };
    let config = EngineConfig {
        detector,
        trend: TrendConfig {
            reminder_ms: options.leak_reminder_ms.max(0.0) as u64,
            warmup_ms: options.leak_warmup_ms.max(0.0) as u64,
            ..TrendConfig::default()
        },
        stats: StatsConfig { recent_period: options.recent_period, ancient_period: options.ancient_period },
        leak: LeakConfig {
            consecutive_growths: options.consecutive_growths,
            high_water_window: options.high_water_window,
        },
        sampling: SamplingConfig {
            growth_percent: options.sample_growth_percent,
            min_interval_ms: u64::from(options.sample_interval_ms),
        },
        back_to_back_bytes: options.back_to_back_bytes.max(0.0) as u64,
    };
    Monitor::of(&env)?.configure(config);
    Ok(())
}

/// Share of wall time spent in GC over the last minute (0 to 1), as the GC hook saw it (0 while
/// it is not installed).
#[napi]
pub fn gc_time_ratio(env: Env) -> Result<f64> {
    Ok(Monitor::of(&env)?.gc_time_ratio())
}

/// GCs of every kind the hook has seen (it counts only while installed).
#[napi]
pub fn gc_count(env: Env) -> Result<f64> {
    Ok(Monitor::of(&env)?.gc_count() as f64)
}

/// Whether a reported heap leak is still growing (the trend detector's episode).
#[napi]
pub fn leak_in_episode(env: Env) -> Result<bool> {
    Ok(Monitor::of(&env)?.leak_in_episode())
}

/// Asks V8 for an incremental full GC (its moderate memory-pressure path: low pause), as the
/// heap's leak sampling does; used by watchResources to read external memory after a GC.
#[napi]
pub fn request_incremental_gc() -> Result<()> {
    current_isolate()?.request_incremental_gc();
    Ok(())
}

/// The least time between two sampling GCs on a heap of `used` bytes, ms (see the core).
#[napi]
pub fn sample_spacing_ms(min_interval_ms: f64, used: f64) -> f64 {
    memwatch_core::gc::sample_spacing_ms(min_interval_ms.max(0.0) as u64, used.max(0.0) as u64) as f64
}

/// What the used heap after a full GC can reach under a `heap_size_limit` (see the core).
#[napi]
pub fn heap_runway_limit(heap_size_limit: f64, young_reserve: f64) -> f64 {
    memwatch_core::gc::heap_runway_limit(heap_size_limit.max(0.0) as u64, young_reserve.max(0.0) as u64) as f64
}

/// Tells the GC path the young generation's reserve in V8's heap limit (lib/runway.js works it out).
#[napi]
pub fn set_young_reserve(env: Env, bytes: f64) -> Result<()> {
    Monitor::of(&env)?.set_young_reserve(bytes.max(0.0) as u64);
    Ok(())
}

/// Live objects by constructor name: `{ total, counts: [[name, count], ...] }`, most first.
/// Runs a full GC (not fed to the stats or the leak detector) and keeps no object.
#[napi(object)]
pub struct ObjectCensus {
    pub total: f64,
    pub counts: Vec<(String, f64)>,
}

#[napi]
pub fn count_objects(env: Env) -> Result<ObjectCensus> {
    let monitor = monitor::Monitor::of(&env)?;
    let isolate = current_isolate()?;
    let (mut counts, total) = monitor.suppressed(|| isolate.count_objects()).map_err(|e| Error::from_reason(format!("memwatch-rs: {e}")))?;
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(ObjectCensus { total: total as f64, counts: counts.into_iter().map(|(n, c)| (n, c as f64)).collect() })
}

/// A full, synchronous GC; works without `--expose-gc`.
#[napi]
pub fn gc(env: Env, deliver_stats: Option<bool>) -> Result<()> {
    let isolate = current_isolate()?;
    Monitor::of(&env)?.coalesced(deliver_stats.unwrap_or(true), || isolate.full_gc());
    Ok(())
}

/// A duration as the 'leak' reasons say it: `41s`, `2m 3s`, `3h 12m`, `never`.
#[napi]
pub fn format_duration(seconds: f64) -> String {
    memwatch_core::format::nice_duration_short(seconds)
}

/// memwatch's size text (`1024 bytes`, `1.5 kb`, `1.78 mb`): the core's one formatter, for the
/// JS side's messages (leak tests), so sizes read the same everywhere.
#[napi]
pub fn format_size(bytes: f64) -> String {
    memwatch_core::format::nice_size(bytes)
}

/// The core's terminal-safe text (control characters from snapshots as visible escapes), for
/// the CLI's own summaries.
#[napi]
pub fn terminal_safe(text: String) -> String {
    memwatch_core::format::terminal_safe(text)
}
