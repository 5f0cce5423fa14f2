'use strict';
// The monitor and its events: the one EventEmitter users hold ('stats', 'leak', 'snapshot'),
// the GC hook's lifecycle (installed with the first 'stats'/'leak' listener or leak consumer,
// removed with the last), the delivery of native events, the leak options and the post-GC
// history kept for reports. Not here: HeapDiff, snapshots, analysis (their own modules).

const { EventEmitter } = require('node:events');
const native = require('./native.js');
const leakState = require('./leakstate.js');
const runway = require('./runway.js');

const STATS_FIELDS = native.statsFieldNames();
const EVENT_STATS = 0;
const EVENT_LEAK = 1;
const EVENT_RUNWAY = 3;
const EVENT_NEAR_LIMIT = 4;
const MONITORED = new Set(['stats', 'leak']);

// The GC hook follows the listeners however they come and go: the methods that add and remove
// listeners are overridden on the one memwatch object, rather than watched through
// 'newListener'/'removeListener' listeners, which `memwatch.removeAllListeners()` (a common
// test-suite cleanup) would remove, leaving the hook out of step for good.
class Memwatch extends EventEmitter {}
for (const method of ['on', 'addListener', 'prependListener', 'once', 'prependOnceListener', 'removeListener', 'off', 'removeAllListeners']) {
  const base = EventEmitter.prototype[method];
  Object.defineProperty(Memwatch.prototype, method, {
    value: {
      [method](...args) {
        // As called: removeAllListeners() with no argument is not removeAllListeners(undefined).
        const out = base.apply(this, args);
        if (args.length === 0 || MONITORED.has(args[0])) updateMonitoring();
        return out;
      },
    }[method],
    writable: true,
    configurable: true,
  });
}
const memwatch = new Memwatch();

// Other modules that act on heap leaks without a JS listener (snapshotOnLeak): each is called
// with the leak object and keeps the hook and leak sampling on while registered.
const leakConsumers = new Set();

// The post-GC heap over time, for reports: the last HISTORY_SIZE full GCs seen while
// monitoring. A few numbers per GC.
const HISTORY_SIZE = 2000;
const history = [];
// Full GCs delivered (not HeapDiff's own), for the metrics' counter: never goes back.
let fullGcs = 0;
let lastNumFullGc = 0;

// Allocation sampling (`allocationSamplingBytes`): V8's sampling heap profiler runs while the
// option is on and someone watches for leaks; its live tree is read on full GCs, so a 'leak' can
// say which stacks grew over its episode. A read counts only samples older than the previous
// full GC's read (young objects are left out, garbage or not), so reads follow the GCs closely:
// on every full GC, unless the reads would cost more than READ_BUDGET (0.2%) of the time between them.
const READ_BUDGET = 0.002;
const SITES = 10;
let samplingBytes = 0;
let samplingOn = false;
let nextCapture = 0;
let readMs = 0; // smoothed cost of a read: one slow read (the first, a busy moment) skips few

function applySampling() {
  const want = samplingBytes > 0 && native.isMonitoring() && leakWatchWanted();
  if (!want && !samplingOn) return;
  try {
    // The same interval is a no-op, a new one restarts the profiler, 0 stops it.
    samplingOn = native.samplingConfigure(want ? samplingBytes : 0);
  } catch (e) {
    // Another sampling profiler owns this isolate (an inspector session): 'leak' goes on
    // without sites, and the program is told once, never thrown at from a listener change.
    samplingOn = false;
    process.emitWarning(e.message, 'MemwatchWarning');
  }
  if (!samplingOn) {
    nextCapture = readMs = 0;
    if (inliningLoaded) inlining().reset(Date.now());
  }
}

// `exactSites` (lib/inlining.js): inlining off while a leak is suspected, so that sites name the
// leaking function rather than the caller V8 inlined it into. Loaded with the first sampled GC.
let exactSites = true;
let inliningLoaded = false;
function inlining() {
  inliningLoaded = true;
  return require('./inlining.js');
}

function capture(now) {
  if (!samplingOn || now < nextCapture) return;
  const began = process.hrtime.bigint();
  try {
    native.samplingCapture(now);
  } catch {
    // The profiler was stopped under us (an inspector session): the event goes on without sites.
  }
  const tookMs = Number(process.hrtime.bigint() - began) / 1e6;
  readMs = readMs === 0 ? tookMs : 0.8 * readMs + 0.2 * tookMs;
  nextCapture = now + readMs / READ_BUDGET;
}

function deliver(kind, values, reason) {
  if (kind === EVENT_STATS) {
    capture(Date.now());
    const stats = {};
    for (let i = 0; i < STATS_FIELDS.length; i++) stats[STATS_FIELDS[i]] = values[i];
    if (samplingOn && exactSites) inlining().onFullGc(stats.current_base, Date.now(), () => native.getOptions().leakWarmupMs);
    // One event may stand for several full GCs (gc() runs two): count them by num_full_gc, which
    // starts over when setOptions rebuilds the engine.
    fullGcs += stats.num_full_gc > lastNumFullGc ? stats.num_full_gc - lastNumFullGc : 1;
    lastNumFullGc = stats.num_full_gc;
    if (history.length === HISTORY_SIZE) history.shift();
    history.push({
      time: Date.now(),
      current_base: stats.current_base,
      estimated_base: stats.estimated_base,
      used_heap_size: stats.used_heap_size,
    });
    for (const holder of hookHolders) if (typeof holder.onFullGc === 'function') holder.onFullGc(stats);
    if (memwatch.listenerCount('stats') > 0) {
      delivering += 1;
      try {
        memwatch.emit('stats', stats);
      } finally {
        delivering -= 1;
      }
    }
  } else if (kind === EVENT_LEAK || kind === EVENT_RUNWAY || kind === EVENT_NEAR_LIMIT) {
    const leak =
      kind === EVENT_LEAK ? leakFromNative(values, reason) : kind === EVENT_RUNWAY ? heapRunwayLeak(values, reason) : runway.nearLimitLeak(values[0], values[1], history);
    if (samplingOn) {
      try {
        leak.sites = native.samplingSites(leak.start.getTime(), leak.end.getTime(), SITES);
        const live = require('./livemaps.js');
        if (live.enabled()) for (const site of leak.sites) [site, ...(site.frames || [])].forEach(live.mapFrame);
      } catch {
        leak.sites = [];
      }
      if (inliningLoaded) inlining().onLeak(Date.now());
    }
    emitLeak(leak);
  }
}

/** Delivers a 'leak' of any kind to the listeners and the leak consumers. */
function emitLeak(leak) {
  leakState.record(leak);
  if (memwatch.listenerCount('leak') > 0) memwatch.emit('leak', leak);
  for (const consumer of leakConsumers) consumer(leak);
}

/**
 * The heap's runway 'leak', judged against V8's limit (when the container's binds first, the
 * process's memory runway, kind 'memory', speaks for it).
 */
function heapRunwayLeak(values, reason) {
  const leak = runway.runwayLeak('heap', values, reason, 'heap');
  leak.heapLimit = leak.limit;
  return leak;
}

// The process's memory against its container's (or the machine's) limit, while leaks are watched.
const memoryRunway = new runway.MemoryRunway(emitLeak);
leakState.setActive('memory', () => memoryRunway.inEpisode);

/**
 * The 'leak' event object from the native values `[start, end, growth, rate, heapLimit,
 * timeToLimit]`. `heapLimit` and `timeToLimit` are against the limit that binds first: V8's, or
 * the container's when the memory outside the heap leaves the heap less (`limitKind` says which).
 */
function leakFromNative(values, reason) {
  const growth = values[2];
  const rate = values[3];
  const binding = runway.heapBindingLimit(values[4]);
  let timeToLimit = values[5];
  if (binding.kind === 'container') {
    const used = process.memoryUsage().heapUsed;
    timeToLimit = rate > 0 ? Math.max(0, (binding.limit - used) / rate) : null;
  }
  return {
    start: new Date(values[0]),
    end: new Date(values[1]),
    growth,
    reason,
    rate,
    heapLimit: binding.kind === 'container' ? binding.limit : values[4],
    limitKind: binding.kind,
    timeToLimit: Number.isFinite(timeToLimit) && timeToLimit >= 0 ? timeToLimit : null,
    kind: 'heap',
  };
}

// Modules that need the GC hook without listening (watchResources): each may have an
// `onFullGc(stats)` method, called after every full GC.
const hookHolders = new Set();

/** Keeps the GC hook installed while `holder` is registered (`on`), without a listener. */
function holdHook(holder, on) {
  if (on) hookHolders.add(holder);
  else hookHolders.delete(holder);
  updateMonitoring();
}

function leakWatchWanted() {
  return memwatch.listenerCount('leak') > 0 || leakConsumers.size > 0;
}

// The GC hook exists only while someone listens: an idle memwatch costs nothing.
function updateMonitoring() {
  const wanted = memwatch.listenerCount('stats') > 0 || leakWatchWanted() || hookHolders.size > 0;
  if (wanted) {
    if (!native.isMonitoring()) {
      native.startMonitor(deliver);
      native.setYoungReserve(runway.youngReserve());
    }
    native.setLeakWatch(leakWatchWanted());
  } else if (native.isMonitoring()) {
    native.stopMonitor();
  }
  memoryRunway.set(leakWatchWanted());
  applySampling();
}

/** Registers (or with `false`, removes) a leak consumer; see `leakConsumers`. */
function setLeakConsumer(consumer, on) {
  if (on) leakConsumers.add(consumer);
  else leakConsumers.delete(consumer);
  updateMonitoring();
}

/** Post-GC heap samples `{ time, current_base, estimated_base, used_heap_size }` (oldest first). */
function statsHistory() {
  return history.slice();
}

/** Full GCs seen while the hook was installed (monotonic). */
function fullGcCount() {
  return fullGcs;
}

// Inside a 'stats' listener: a gc() there gets no 'stats' event of its own, or each event would
// cause the next (a listener calling gc() ran 999 GCs back to back). Its GCs still count and
// feed the leak detector.
let delivering = 0;

/** Forces a full, synchronous garbage collection; no --expose-gc needed. One 'stats' event. */
function gc() {
  native.gc(delivering === 0);
}

const DETECTORS = ['trend', 'memwatch'];
// Numeric options: integer bounds. `detector` is the one string option.
const OPTION_LIMITS = {
  consecutiveGrowths: { min: 1, max: 1000 },
  highWaterWindow: { min: 0, max: 100000 },
  recentPeriod: { min: 1, max: 100000 },
  ancientPeriod: { min: 1, max: 100000 },
  sampleGrowthPercent: { min: 0, max: 10000 },
  sampleIntervalMs: { min: 0, max: 86400000 },
  backToBackBytes: { min: 0, max: Number.MAX_SAFE_INTEGER },
  leakReminderMs: { min: 0, max: 2147483647 },
  leakWarmupMs: { min: 0, max: 2147483647 },
  allocationSamplingBytes: { min: 0, max: 1073741824 },
};
// Options of the JS side, not the native estimator's.
const JS_OPTIONS = new Set(['allocationSamplingBytes']);
const OPTION_NAMES = ['detector', ...Object.keys(OPTION_LIMITS), 'exactSites'];

const { describeValue: describe } = require('./options.js');

function publicOptions(o) {
  const out = {};
  for (const key of OPTION_NAMES) out[key] = JS_OPTIONS.has(key) ? samplingBytes : o[key];
  out.exactSites = exactSites;
  return out;
}

/** The leak rule and estimator settings in force. */
function getOptions() {
  return publicOptions(native.getOptions());
}

/**
 * Changes the leak rule / estimator settings (any subset). Validates everything before changing
 * anything; the estimator and the leak detector start over. Returns the settings now in force.
 */
function setOptions(options) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError("memwatch.setOptions: expected an options object, e.g. { detector: 'trend' }");
  }
  const next = native.getOptions();
  let nextExact = exactSites;
  for (const [key, value] of Object.entries(options)) {
    if (key === 'exactSites') {
      if (typeof value !== 'boolean') throw new TypeError(`memwatch.setOptions: "exactSites" must be true or false, got ${describe(value)}`);
      nextExact = value;
      continue;
    }
    if (key === 'detector') {
      if (!DETECTORS.includes(value)) {
        throw new TypeError(`memwatch.setOptions: "detector" must be one of ${DETECTORS.map((d) => `'${d}'`).join(', ')}, got ${describe(value)}`);
      }
      next.detector = value;
      continue;
    }
    // Own keys of the table only: `{ toString: 5 }` is not an option.
    const limit = Object.prototype.hasOwnProperty.call(OPTION_LIMITS, key) ? OPTION_LIMITS[key] : null;
    if (!limit) {
      throw new TypeError(`memwatch.setOptions: unknown option "${key}"; known options: ${OPTION_NAMES.join(', ')}`);
    }
    if (typeof value !== 'number') {
      throw new TypeError(`memwatch.setOptions: "${key}" must be an integer from ${limit.min} to ${limit.max}, got ${describe(value)}`);
    }
    if (!Number.isInteger(value) || value < limit.min || value > limit.max) {
      throw new RangeError(`memwatch.setOptions: "${key}" must be an integer from ${limit.min} to ${limit.max}, got ${describe(value)}`);
    }
    if (key === 'allocationSamplingBytes' && value > 0 && value < 1024) {
      throw new RangeError(`memwatch.setOptions: "allocationSamplingBytes" must be 0 (off) or at least 1024 (V8 samples one allocation per that many bytes; 524288 is recommended), got ${value}`);
    }
    next[key] = value;
  }
  const sampling = next.allocationSamplingBytes === undefined ? samplingBytes : next.allocationSamplingBytes;
  delete next.allocationSamplingBytes;
  native.setOptions(next);
  if (nextExact !== exactSites) {
    exactSites = nextExact;
    if (!exactSites && inliningLoaded) inlining().reset(Date.now());
  }
  if (sampling !== samplingBytes) {
    samplingBytes = sampling;
    nextCapture = 0;
    applySampling();
  }
  return getOptions();
}

module.exports = { memwatch, emitLeak, gc, statsHistory, fullGcCount, holdHook, getOptions, setOptions, setLeakConsumer, describeValue: describe };
