'use strict';
// Metrics for fleets: `prometheus(registry)` on prom-client and `openTelemetry(meter)` on
// @opentelemetry/api, both optional peer dependencies loaded only here, only when called.
// Both read one state (`readState`): the post-GC heap base and its trend, the time until the
// trend reaches V8's heap limit, the leak state per kind, full GCs, the share of time in GC over
// the last minute, and the watched resources. While an exporter is on, the GC hook and the leak
// detector run (as a leak consumer, like snapshotOnLeak).

const v8 = require('node:v8');
const native = require('./native.js');
const monitor = require('./monitor.js');
const leakState = require('./leakstate.js');
const resources = require('./resources.js');
const runway = require('./runway.js');

// The trend metric: a Theil-Sen slope over the post-GC bases of the last TREND_WINDOW_MS,
// thinned to at most TREND_POINTS points.
const TREND_WINDOW_MS = 10 * 60_000;
const TREND_POINTS = 48;
const TREND_MIN_POINTS = 5;

/** Loads an optional peer dependency, from memwatch's place or the program's. */
function loadPeer(name, api) {
  for (const paths of [undefined, [process.cwd()]]) {
    try {
      return require(paths ? require.resolve(name, { paths }) : name);
    } catch (e) {
      if (e.code !== 'MODULE_NOT_FOUND' || !String(e.message).includes(name)) throw e;
    }
  }
  const err = new Error(`memwatch.${api}() needs the optional peer dependency ${name}, which is not installed: npm install ${name}`);
  err.code = 'MEMWATCH_PEER_MISSING';
  throw err;
}

function median(values) {
  if (values.length === 0) return 0;
  values.sort((a, b) => a - b);
  const n = values.length;
  return n % 2 ? values[(n - 1) / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

/** Bytes per second of the post-GC base over the last ten minutes (0 with too few full GCs). */
function heapTrend(history, now) {
  let points = history.filter((h) => now - h.time <= TREND_WINDOW_MS);
  if (points.length < TREND_MIN_POINTS) return 0;
  if (points.length > TREND_POINTS) {
    const step = points.length / TREND_POINTS;
    points = Array.from({ length: TREND_POINTS }, (_, i) => points[Math.floor(i * step)]);
  }
  const slopes = [];
  for (let i = 0; i < points.length; i++) {
    for (let j = i + 1; j < points.length; j++) {
      const dt = points[j].time - points[i].time;
      if (dt > 0) slopes.push((points[j].current_base - points[i].current_base) / dt);
    }
  }
  return median(slopes) * 1000;
}

const LEAK_KINDS = ['heap', 'memory', ...resources.KINDS];

/** Everything both exporters publish, read once per scrape or collection. */
function readState() {
  const now = Date.now();
  const history = monitor.statsHistory();
  const last = history[history.length - 1];
  // The limit that will stop the heap: V8's, or what the container leaves it.
  const v8Limit = v8.getHeapStatistics().heap_size_limit;
  const binding = runway.heapBindingLimit(v8Limit);
  const limit = binding.kind === 'container' ? binding.limit : v8Limit;
  const base = last ? last.current_base : NaN;
  const trend = heapTrend(history, now);
  const timeToLimit = last && trend > 0 ? Math.max(0, (limit - base) / trend) : Infinity;
  const readings = resources.resourceReadings() || {};
  const leaks = {};
  for (const kind of LEAK_KINDS) {
    if (kind === 'heap' || kind === 'memory' || kind in readings) leaks[kind] = leakState.state(kind);
  }
  const memory = runway.memoryLimit();
  return {
    base,
    estimatedBase: last ? last.estimated_base : NaN,
    heapLimit: limit,
    heapLimitKind: binding.kind,
    memoryLimit: memory.limit,
    memoryLimitKind: memory.kind,
    trend,
    timeToLimit,
    fullGcs: monitor.fullGcCount(),
    gcTimeRatio: native.gcTimeRatio(),
    leaks,
    resources: readings,
  };
}

// One leak consumer keeps the hook and the detector on while any exporter is registered.
const exporters = new Set();
function noteLeak() {}
function retain(handle, on) {
  if (on) exporters.add(handle);
  else exporters.delete(handle);
  monitor.setLeakConsumer(noteLeak, exporters.size > 0);
}

// ---------------------------------------------------------------------------------------------
// Prometheus (prom-client)

// name, type, help, aggregator (for prom-client's AggregatorRegistry across cluster workers).
const PROM_METRICS = [
  ['memwatch_heap_base_bytes', 'gauge', 'Used V8 heap right after the last full GC: the heap base a leak raises (NaN before the first full GC).', 'sum'],
  ['memwatch_heap_estimated_base_bytes', 'gauge', "memwatch's smoothed heap base (the 'stats' estimated_base).", 'sum'],
  ['memwatch_heap_limit_bytes', 'gauge', "The limit that will stop the heap: V8's heap size limit (limit=\"heap\"), or what a container's memory limit leaves it, the memory outside the heap counted (limit=\"container\"), whichever is less.", 'sum'],
  ['memwatch_heap_trend_bytes_per_second', 'gauge', 'Trend of the heap base: robust (Theil-Sen) slope over the last 10 minutes of full GCs.', 'max'],
  ['memwatch_heap_time_to_limit_seconds', 'gauge', 'Seconds until the heap base reaches memwatch_heap_limit_bytes at its current trend (+Inf when not rising).', 'min'],
  ['memwatch_memory_limit_bytes', 'gauge', "The memory limit that will stop the process: its container's (limit=\"container\", cgroup v1 or v2) or the machine's (limit=\"machine\").", 'sum'],
  ['memwatch_resource_limit', 'gauge', 'The limit a watched resource races towards, by kind: fds (the soft ulimit -n).', 'min'],
  ['memwatch_leak_suspected', 'gauge', "1 while a leak of this kind is reported and still growing (memwatch's 'leak' event), else 0.", 'max'],
  ['memwatch_leak_events_total', 'counter', "'leak' events raised, by kind (reminders of a leak that keeps growing included).", 'sum'],
  ['memwatch_gc_full_total', 'counter', 'Full (mark-sweep-compact) GCs seen since memwatch started watching.', 'sum'],
  ['memwatch_gc_time_ratio', 'gauge', 'Share of wall time spent in GC over the last minute (0 to 1).', 'average'],
  ['memwatch_resource_count', 'gauge', 'Watched resources now, by kind: fds (open file descriptors), handles (active handles and requests), timers (watchResources).', 'sum'],
  ['memwatch_external_memory_bytes', 'gauge', 'Memory outside the V8 heap owned by its objects (watchResources external), by type: total, or array_buffers (ArrayBuffers and Buffers, part of the total).', 'sum'],
];

const promHandles = new WeakMap();

function checkRegistry(registry) {
  const ok = registry && typeof registry === 'object' && typeof registry.registerMetric === 'function' &&
    typeof registry.getSingleMetric === 'function' && typeof registry.removeSingleMetric === 'function';
  if (!ok) {
    throw new TypeError(`memwatch.prometheus: expected a prom-client Registry (e.g. require('prom-client').register), got ${monitor.describeValue(registry)}`);
  }
}

/**
 * Registers memwatch's metrics on `registry` (prom-client's default registry when omitted) and
 * keeps the GC hook and the leak detector on. Idempotent per registry. Returns `{ registry,
 * metrics, stop() }`; `stop()` removes the metrics.
 */
function prometheus(registry) {
  const client = loadPeer('prom-client', 'prometheus');
  if (registry === undefined) registry = client.register;
  checkRegistry(registry);
  const existing = promHandles.get(registry);
  if (existing && existing.active) return existing;
  for (const [name] of PROM_METRICS) {
    if (registry.getSingleMetric(name)) {
      throw new Error(`memwatch.prometheus: the registry already has a metric named ${name} that memwatch did not register; use another registry or remove it first`);
    }
  }
  let state = null;
  let stateAt = -1;
  // One state per scrape: each metric's collect() runs in the same turn of the scrape.
  const read = () => {
    const now = Date.now();
    if (!state || now - stateAt > 50) {
      state = readState();
      stateAt = now;
    }
    return state;
  };
  const seen = { fullGcs: 0, events: {} };
  const set = {
    memwatch_heap_base_bytes: (m, s) => m.set(s.base),
    memwatch_heap_estimated_base_bytes: (m, s) => m.set(s.estimatedBase),
    memwatch_heap_limit_bytes: (m, s) => {
      m.reset();
      m.set({ limit: s.heapLimitKind }, s.heapLimit);
    },
    memwatch_memory_limit_bytes: (m, s) => {
      m.reset();
      m.set({ limit: s.memoryLimitKind }, s.memoryLimit);
    },
    memwatch_resource_limit: (m, s) => {
      m.reset();
      if (typeof s.resources.fdLimit === 'number') m.set({ kind: 'fds' }, s.resources.fdLimit);
    },
    memwatch_heap_trend_bytes_per_second: (m, s) => m.set(s.trend),
    memwatch_heap_time_to_limit_seconds: (m, s) => m.set(s.timeToLimit),
    memwatch_leak_suspected: (m, s) => {
      m.reset();
      for (const [kind, l] of Object.entries(s.leaks)) m.set({ kind }, l.suspected ? 1 : 0);
    },
    memwatch_leak_events_total: (m, s) => {
      for (const [kind, l] of Object.entries(s.leaks)) {
        const before = seen.events[kind] || 0;
        m.inc({ kind }, Math.max(0, l.events - before));
        seen.events[kind] = Math.max(before, l.events);
      }
    },
    memwatch_gc_full_total: (m, s) => {
      m.inc(Math.max(0, s.fullGcs - seen.fullGcs));
      seen.fullGcs = Math.max(seen.fullGcs, s.fullGcs);
    },
    memwatch_gc_time_ratio: (m, s) => m.set(s.gcTimeRatio),
    memwatch_resource_count: (m, s) => {
      m.reset();
      for (const kind of ['fds', 'handles', 'timers']) {
        if (typeof s.resources[kind] === 'number') m.set({ kind }, s.resources[kind]);
      }
    },
    memwatch_external_memory_bytes: (m, s) => {
      m.reset();
      if (typeof s.resources.external === 'number') m.set({ type: 'total' }, s.resources.external);
      if (typeof s.resources.arrayBuffers === 'number') m.set({ type: 'array_buffers' }, s.resources.arrayBuffers);
    },
  };
  const labelled = { memwatch_heap_limit_bytes: ['limit'], memwatch_memory_limit_bytes: ['limit'], memwatch_resource_limit: ['kind'], memwatch_leak_suspected: ['kind'], memwatch_leak_events_total: ['kind'], memwatch_resource_count: ['kind'], memwatch_external_memory_bytes: ['type'] };
  const metrics = {};
  for (const [name, type, help, aggregator] of PROM_METRICS) {
    const Type = type === 'counter' ? client.Counter : client.Gauge;
    metrics[name] = new Type({
      name,
      help,
      labelNames: labelled[name] || [],
      registers: [registry],
      aggregator,
      collect() {
        set[name](this, read());
      },
    });
  }
  // The leak series exist from the start (0), so an alert rule sees them before any leak.
  for (const kind of ['heap', 'memory']) {
    metrics.memwatch_leak_suspected.set({ kind }, 0);
    metrics.memwatch_leak_events_total.inc({ kind }, 0);
  }
  const handle = {
    registry,
    metrics,
    active: true,
    stop() {
      if (!handle.active) return;
      handle.active = false;
      for (const [name] of PROM_METRICS) registry.removeSingleMetric(name);
      promHandles.delete(registry);
      retain(handle, false);
    },
  };
  promHandles.set(registry, handle);
  retain(handle, true);
  return handle;
}

// ---------------------------------------------------------------------------------------------
// OpenTelemetry (@opentelemetry/api)

/**
 * Creates memwatch's observable instruments on `meter` (from `metrics.getMeter(...)`;
 * @opentelemetry/api's global meter provider when omitted). Options: `{ v8js: false }` leaves
 * out the per-space `v8js.*` instruments (when @opentelemetry/instrumentation-runtime-node
 * already exports them). Returns `{ meter, instruments, stop() }`.
 */
function openTelemetry(meter, options = {}) {
  if (meter === undefined) {
    const api = loadPeer('@opentelemetry/api', 'openTelemetry');
    meter = api.metrics.getMeter('memwatch-rs');
  }
  const ok = meter && typeof meter === 'object' && typeof meter.createObservableGauge === 'function' &&
    typeof meter.addBatchObservableCallback === 'function';
  if (!ok) {
    throw new TypeError(`memwatch.openTelemetry: expected an OpenTelemetry Meter (metrics.getMeter('my-service')), got ${monitor.describeValue(meter)}`);
  }
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`memwatch.openTelemetry: expected an options object, got ${monitor.describeValue(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (key !== 'v8js') throw new TypeError(`memwatch.openTelemetry: unknown option "${key}"; known options: v8js`);
  }
  const withV8js = options.v8js !== false;
  const g = (name, unit, description) => meter.createObservableGauge(name, { unit, description });
  const i = {
    base: g('memwatch.heap.base', 'By', 'Used V8 heap right after the last full GC: the heap base a leak raises.'),
    estimatedBase: g('memwatch.heap.estimated_base', 'By', "memwatch's smoothed heap base."),
    heapLimit: g('memwatch.heap.size_limit', 'By', "The limit that will stop the heap: V8's, or what a container's memory limit leaves it (attribute memwatch.limit.kind)."),
    memoryLimit: g('memwatch.memory.limit', 'By', "The memory limit that will stop the process: the container's or the machine's (memwatch.limit.kind)."),
    resourceLimit: g('memwatch.resource.limit', '{resource}', 'The limit a watched resource races towards, by kind (fds: ulimit -n).'),
    trend: g('memwatch.heap.trend', 'By/s', 'Robust slope of the heap base over the last 10 minutes.'),
    timeToLimit: g('memwatch.heap.time_to_limit', 's', 'Time until the heap base reaches the heap limit at its trend (absent when not rising).'),
    suspected: g('memwatch.leak.suspected', '1', '1 while a leak of this kind is reported and still growing.'),
    events: meter.createObservableCounter('memwatch.leak.events', { unit: '{event}', description: "'leak' events raised, by kind." }),
    fullGcs: meter.createObservableCounter('memwatch.gc.full', { unit: '{gc}', description: 'Full GCs seen while watching.' }),
    gcRatio: g('memwatch.gc.time_ratio', '1', 'Share of wall time spent in GC over the last minute.'),
    resources: g('memwatch.resource.count', '{resource}', 'Watched resources now, by kind (fds, handles, timers).'),
    external: g('memwatch.external.memory', 'By', 'Memory outside the V8 heap owned by its objects (ArrayBuffers, Buffers).'),
  };
  if (withV8js) {
    // OpenTelemetry's V8 runtime conventions, per heap space.
    i.v8Used = meter.createObservableUpDownCounter('v8js.memory.heap.used', { unit: 'By', description: 'Heap memory size allocated, by heap space.' });
    i.v8Size = meter.createObservableUpDownCounter('v8js.memory.heap.space.size', { unit: 'By', description: 'Total heap memory size pre-allocated for a heap space.' });
    i.v8Available = meter.createObservableUpDownCounter('v8js.memory.heap.space.available_size', { unit: 'By', description: 'Heap space available size.' });
    i.v8Physical = meter.createObservableUpDownCounter('v8js.memory.heap.space.physical_size', { unit: 'By', description: 'Committed size of a heap space.' });
    i.v8Resources = meter.createObservableUpDownCounter('v8js.resource.active', { unit: '{resource}', description: 'Active handles, requests and timers, by type (when watchResources watches handles or timers).' });
  }
  const callback = (result) => {
    const s = readState();
    if (Number.isFinite(s.base)) result.observe(i.base, s.base);
    if (Number.isFinite(s.estimatedBase)) result.observe(i.estimatedBase, s.estimatedBase);
    result.observe(i.heapLimit, s.heapLimit, { 'memwatch.limit.kind': s.heapLimitKind });
    result.observe(i.memoryLimit, s.memoryLimit, { 'memwatch.limit.kind': s.memoryLimitKind });
    if (typeof s.resources.fdLimit === 'number') result.observe(i.resourceLimit, s.resources.fdLimit, { 'memwatch.resource.kind': 'fds' });
    result.observe(i.trend, s.trend);
    if (Number.isFinite(s.timeToLimit)) result.observe(i.timeToLimit, s.timeToLimit);
    for (const [kind, l] of Object.entries(s.leaks)) {
      result.observe(i.suspected, l.suspected ? 1 : 0, { 'memwatch.leak.kind': kind });
      result.observe(i.events, l.events, { 'memwatch.leak.kind': kind });
    }
    result.observe(i.fullGcs, s.fullGcs);
    result.observe(i.gcRatio, s.gcTimeRatio);
    for (const kind of ['fds', 'handles', 'timers']) {
      if (typeof s.resources[kind] === 'number') result.observe(i.resources, s.resources[kind], { 'memwatch.resource.kind': kind });
    }
    if (typeof s.resources.external === 'number') result.observe(i.external, s.resources.external, { 'memwatch.memory.type': 'total' });
    if (typeof s.resources.arrayBuffers === 'number') result.observe(i.external, s.resources.arrayBuffers, { 'memwatch.memory.type': 'array_buffers' });
    if (withV8js) {
      for (const [type, n] of Object.entries(s.resources.types || {})) result.observe(i.v8Resources, n, { 'v8js.resource.type': type });
      for (const space of v8.getHeapSpaceStatistics()) {
        const attrs = { 'v8js.heap.space.name': space.space_name };
        result.observe(i.v8Used, space.space_used_size, attrs);
        result.observe(i.v8Size, space.space_size, attrs);
        result.observe(i.v8Available, space.space_available_size, attrs);
        result.observe(i.v8Physical, space.physical_space_size, attrs);
      }
    }
  };
  const list = Object.values(i);
  meter.addBatchObservableCallback(callback, list);
  const handle = {
    meter,
    instruments: i,
    active: true,
    stop() {
      if (!handle.active) return;
      handle.active = false;
      meter.removeBatchObservableCallback(callback, list);
      retain(handle, false);
    },
  };
  retain(handle, true);
  return handle;
}

module.exports = { prometheus, openTelemetry, readState, loadPeer };
