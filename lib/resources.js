'use strict';
// Leaks outside the V8 heap: `watchResources({ fds, handles, timers, external, intervalMs })`
// samples open file descriptors, active handles and requests (by type), timers, and external
// (C++ and ArrayBuffer) memory on an unref'd timer, feeds each watched kind to its own trend
// detector (the heap's, memwatch_core::trend, through native SeriesWatch) and emits 'leak' with
// that `kind`. Only kinds the program asked for are sampled, and only they raise events.

const fs = require('node:fs');
const native = require('./native.js');
const monitor = require('./monitor.js');
const { memwatch, describeValue } = monitor;
const leakState = require('./leakstate.js');
const { runwayLeak } = require('./runway.js');

const KINDS = ['fds', 'handles', 'timers', 'external'];
const TIMER_TYPES = new Set(['Timeout', 'Immediate']);
const MIB = 1 << 20;
// Per kind: what it is called in a reason, its unit, and the least rise (absolute, and percent of
// its level) a leak must show. Small counts need the absolute floor: 4 fds becoming 5 is 25%.
const KIND_INFO = {
  fds: { what: 'open file descriptors', minGrowth: 16, minGrowthPercent: 10 },
  handles: { what: 'active handles and requests', minGrowth: 16, minGrowthPercent: 10 },
  timers: { what: 'active timers', minGrowth: 16, minGrowthPercent: 10 },
  external: { what: 'external memory', bytes: true, minGrowth: 8 * MIB, minGrowthPercent: 5 },
};
const LIMITS = {
  intervalMs: { min: 10, max: 3_600_000, default: 2000 },
  warmupMs: { min: 0, max: 2_147_483_647, default: 180_000 },
  windowMs: { min: 100, max: 86_400_000 },
};

let current = null; // the active watch
// External memory: the reading after a full GC waits this long for V8's concurrent freeing of
// dead ArrayBuffers; a GC is asked for once external memory is this much above that reading
// (a share of it, plus bytes).
const EXTERNAL_SETTLE_MS = 50;
const EXTERNAL_SAMPLE_GROWTH = 0.25;
const EXTERNAL_SAMPLE_MIN_BYTES = 1 << 20;
// Open files are read for their runway this often at least (lib/runway.js).
const FD_RUNWAY_MS = 500;

/** The open file descriptors of this process, or null where the platform cannot tell. */
function countFds() {
  for (const dir of ['/proc/self/fd', '/dev/fd']) {
    try {
      // The directory handle readdir opens is in the listing itself.
      return fs.readdirSync(dir).length - 1;
    } catch {
      // next candidate
    }
  }
  return null;
}

/** The soft limit on open files (`ulimit -n`), where /proc tells it. */
function fdLimit() {
  try {
    const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line && Number(line.trim().split(/\s+/)[3]);
    return Number.isFinite(soft) && soft > 0 ? soft : null;
  } catch {
    return null;
  }
}

/** Active handles/requests and timers, by type (process.getActiveResourcesInfo()). */
function activeResources() {
  const handles = {};
  const timers = {};
  let nHandles = 0;
  let nTimers = 0;
  for (const type of process.getActiveResourcesInfo()) {
    if (TIMER_TYPES.has(type)) {
      timers[type] = (timers[type] || 0) + 1;
      nTimers++;
    } else {
      handles[type] = (handles[type] || 0) + 1;
      nHandles++;
    }
  }
  return { handles: { count: nHandles, byType: handles }, timers: { count: nTimers, byType: timers } };
}

/** One reading of every kind in `kinds`: `{ kind: { value, byType? } }`. */
function read(kinds) {
  const out = {};
  if (kinds.includes('fds')) out.fds = { value: countFds() };
  if (kinds.includes('handles') || kinds.includes('timers')) {
    const a = activeResources();
    if (kinds.includes('handles')) out.handles = { value: a.handles.count, byType: a.handles.byType };
    if (kinds.includes('timers')) out.timers = { value: a.timers.count, byType: a.timers.byType };
  }
  if (kinds.includes('external')) {
    // Memory V8 accounts to the heap's objects but keeps outside it: ArrayBuffers (every
    // Buffer) and native objects of addons.
    const usage = process.memoryUsage();
    out.external = { value: usage.external, arrayBuffers: usage.arrayBuffers, heapUsed: usage.heapUsed };
  }
  return out;
}

function integerOption(options, key, fallback) {
  const limit = LIMITS[key];
  const value = options[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < limit.min || value > limit.max) {
    const E = typeof value === 'number' ? RangeError : TypeError;
    throw new E(`memwatch.watchResources: "${key}" must be an integer from ${limit.min} to ${limit.max} (ms), got ${describeValue(value)}`);
  }
  return value;
}

function kindOption(kind, value) {
  if (value === undefined || value === false) return null;
  const info = KIND_INFO[kind];
  const out = { minGrowth: info.minGrowth, minGrowthPercent: info.minGrowthPercent };
  if (value === true) return out;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`memwatch.watchResources: "${kind}" must be true, false or { minGrowth, minGrowthPercent }, got ${describeValue(value)}`);
  }
  for (const [key, v] of Object.entries(value)) {
    if (!(key in out)) throw new TypeError(`memwatch.watchResources: unknown setting "${kind}.${key}"; known: minGrowth, minGrowthPercent`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (key === 'minGrowthPercent' && (!Number.isInteger(v) || v > 10000))) {
      throw new RangeError(`memwatch.watchResources: "${kind}.${key}" must be ${key === 'minGrowth' ? 'a non-negative number' : 'an integer from 0 to 10000'}, got ${describeValue(v)}`);
    }
    out[key] = v;
  }
  return out;
}

function formatAmount(kind, n) {
  if (KIND_INFO[kind].bytes) return native.formatSize(n);
  return String(Math.round(n));
}

/** The types whose count grew most since `start`, as ` (mostly +118 TCPSocketWrap)`. */
function byTypeGrowth(start, now) {
  if (!start || !now) return [];
  return Object.keys(now)
    .map((type) => ({ type, growth: now[type] - (start[type] || 0) }))
    .filter((t) => t.growth > 0)
    .sort((a, b) => b.growth - a.growth);
}

function reasonFor(kind, r, limit, types) {
  const info = KIND_INFO[kind];
  const elapsed = Math.max(0, (r.end - r.start) / 1000);
  let text = `${info.what} grew by ${formatAmount(kind, r.growth)} in ${native.formatDuration(elapsed)} ` +
    `(${formatAmount(kind, r.rate * 60)}/min, steady over ${r.samples} samples)`;
  if (r.reminder) text = `still growing: ${text}`;
  if (types.length) text += `, mostly ${types.slice(0, 3).map((t) => `+${t.growth} ${t.type}`).join(', ')}`;
  if (limit) {
    const left = limit - r.current;
    text += left > 0 && r.rate > 0
      ? `; at this rate they reach the limit of ${limit} (ulimit -n) in ${native.formatDuration(left / r.rate)}`
      : `; they are at the limit of ${limit} (ulimit -n)`;
  }
  return text;
}

class ResourceWatch {
  constructor(kinds, settings, intervalMs, warmupMs, windowMs) {
    this.kinds = kinds;
    this.intervalMs = intervalMs;
    this.last = {};
    this.samples = 0;
    this.detectors = {};
    // byType readings over time, for a reason's breakdown: (t, byType), a few kept.
    this.typeHistory = { handles: [], timers: [] };
    const reminderMs = native.getOptions().leakReminderMs;
    for (const kind of kinds) {
      const s = settings[kind];
      this.detectors[kind] = new native.SeriesWatch({
        windowMs,
        warmupMs,
        minGrowthPercent: s.minGrowthPercent,
        minGrowth: s.minGrowth,
        reminderMs,
      });
      const detector = this.detectors[kind];
      const runwayEpisode = () => kind === 'fds' && this.fdRunway !== null && this.fdRunway.inEpisode;
      leakState.setActive(kind, () => this.timer !== null && (detector.inEpisode || runwayEpisode()));
    }
    this.fdLimit = kinds.includes('fds') ? fdLimit() : null;
    // Open files against the soft limit: 'leak' before EMFILE, warm-up or not (lib/runway.js).
    this.fdRunway = kinds.includes('fds') && this.fdLimit ? new native.RunwayWatch('fds') : null;
    this.fdRunwayTimer = null;
    // External memory of dead objects (a Buffer nobody holds) is freed only when a full GC finds
    // them dead, so between full GCs it climbs in any program that makes Buffers. The detector
    // is fed the reading taken just after the latest full GC (EXTERNAL_SETTLE_MS later: V8
    // frees ArrayBuffer memory concurrently after the pause), and when external memory has
    // grown well past that reading, an incremental GC is asked for, as the heap's leak sampling
    // does and spaced the same way (by heap size), so the reading stays fresh.
    this.postGc = null; // { value, t } after the latest full GC
    this.lastGcRequest = 0;
    this.lastFullGc = 0;
    if (kinds.includes('external')) monitor.holdHook(this, true);
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
    this.sample();
    if (this.fdRunway) this.sampleFdRunway();
  }

  /**
   * Open files against `ulimit -n`, on their own clock: a leak that hits EMFILE in 10 s needs
   * readings every half second, more often than the trend detector's. Spaced by the count (a
   * listing of /proc/self/fd costs about 0.5 µs per entry): 500 ms up to 5,000 open, then 1 ms
   * per 10 fds.
   */
  sampleFdRunway() {
    if (this.timer === null) return;
    const now = Date.now();
    const fds = countFds();
    if (fds !== null) {
      const out = this.fdRunway.observe(fds, now, this.fdLimit, 'the open-files limit (ulimit -n)');
      if (out) monitor.emitLeak(runwayLeak('fds', out[0], out[1], 'open-files'));
    }
    this.fdRunwayTimer = setTimeout(() => this.sampleFdRunway(), Math.max(FD_RUNWAY_MS, (fds || 0) / 10));
    this.fdRunwayTimer.unref();
  }

  sample() {
    const now = Date.now();
    const readings = read(this.kinds);
    this.samples++;
    for (const kind of this.kinds) {
      const r = readings[kind];
      this.last[kind] = r;
      if (r.value === null) continue;
      if (r.byType) {
        const h = this.typeHistory[kind];
        h.push({ t: now, byType: r.byType });
        // Keep at most 64 readings: the first, and the latest ones.
        while (h.length > 64) h.splice(1, 1);
      }
      let value = r.value;
      if (kind === 'external') {
        this.maybeRequestGc(r, now);
        if (!this.postGc) continue;
        value = this.postGc.value;
      }
      const report = this.detectors[kind].observe(value, now);
      if (report) this.emit(kind, report);
    }
  }

  /** After a full GC: read external memory once V8 has freed what the GC found dead. */
  onFullGc() {
    if (this.timer === null) return;
    this.lastFullGc = Date.now();
    const t = setTimeout(() => {
      if (this.timer !== null) this.postGc = { value: process.memoryUsage().external, t: Date.now() };
    }, EXTERNAL_SETTLE_MS);
    t.unref();
  }

  /** Asks for a GC when external memory grew well past its last post-GC reading. */
  maybeRequestGc({ value: external, heapUsed }, now) {
    const base = this.postGc ? this.postGc.value : null;
    if (base !== null && external < base * (1 + EXTERNAL_SAMPLE_GROWTH) + EXTERNAL_SAMPLE_MIN_BYTES) return;
    const options = native.getOptions();
    if (options.sampleGrowthPercent === 0) return;
    const spacing = native.sampleSpacingMs(options.sampleIntervalMs, heapUsed);
    // Spaced from our last request and from the last full GC of any origin: where V8 runs full
    // GCs often on its own, asking costs (memory-reducing GCs) and adds nothing.
    if (now - this.lastGcRequest < spacing || now - this.lastFullGc < spacing) return;
    this.lastGcRequest = now;
    native.requestIncrementalGc();
  }

  emit(kind, r) {
    let types = [];
    if (this.typeHistory[kind]) {
      const h = this.typeHistory[kind];
      const start = h.find((x) => x.t >= r.start) || h[0];
      types = byTypeGrowth(start && start.byType, this.last[kind].byType);
    }
    const limit = kind === 'fds' ? this.fdLimit : null;
    const left = limit ? limit - r.current : 0;
    const leak = {
      kind,
      start: new Date(r.start),
      end: new Date(r.end),
      growth: r.growth,
      reason: reasonFor(kind, r, limit, types),
      rate: r.rate,
      current: this.last[kind].value,
      limit,
      timeToLimit: limit && r.rate > 0 && left > 0 ? left / r.rate : null,
    };
    if (types.length) leak.byType = Object.fromEntries(types.map((t) => [t.type, t.growth]));
    leakState.record(leak);
    memwatch.emit('leak', leak);
  }

  /** The latest reading of each watched kind: `{ fds: 42, handles: 7, external: bytes, arrayBuffers: bytes, types: { TCPSocketWrap: 5 } }`. */
  read() {
    const out = {};
    for (const kind of this.kinds) out[kind] = this.last[kind] ? this.last[kind].value : null;
    if (this.fdLimit) out.fdLimit = this.fdLimit;
    if (this.last.external) out.arrayBuffers = this.last.external.arrayBuffers;
    // By type, handles and timers together (process.getActiveResourcesInfo()'s names).
    if (this.last.handles || this.last.timers) {
      out.types = { ...(this.last.handles && this.last.handles.byType), ...(this.last.timers && this.last.timers.byType) };
    }
    return out;
  }

  stop() {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
    if (this.fdRunwayTimer) clearTimeout(this.fdRunwayTimer);
    monitor.holdHook(this, false);
    if (current === this) current = null;
  }

  get running() {
    return this.timer !== null;
  }
}

/**
 * Starts watching the kinds asked for (any of fds, handles, timers, external); replaces the
 * watch started before, if any. Returns the watch: `stop()`, `read()`, `kinds`, `intervalMs`.
 */
function watchResources(options = {}) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError('memwatch.watchResources: expected an options object, e.g. { fds: true, timers: true }');
  }
  const known = [...KINDS, ...Object.keys(LIMITS)];
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new TypeError(`memwatch.watchResources: unknown option "${key}"; known options: ${known.join(', ')}`);
  }
  const settings = {};
  for (const kind of KINDS) {
    const s = kindOption(kind, options[kind]);
    if (s) settings[kind] = s;
  }
  const kinds = Object.keys(settings);
  if (kinds.length === 0) {
    throw new TypeError(`memwatch.watchResources: say which kinds to watch, e.g. { fds: true } (kinds: ${KINDS.join(', ')})`);
  }
  if (settings.fds && countFds() === null) {
    throw new Error(`memwatch.watchResources: this platform (${process.platform}) cannot count open file descriptors (no /proc/self/fd or /dev/fd); watch the other kinds`);
  }
  const intervalMs = integerOption(options, 'intervalMs', LIMITS.intervalMs.default);
  const warmupMs = integerOption(options, 'warmupMs', LIMITS.warmupMs.default);
  // The shortest trend window: 16 samples, and at least the heap detector's 20 s.
  const windowMs = integerOption(options, 'windowMs', Math.max(20_000, 16 * intervalMs));
  // A window is 8 buckets, and 6 of them must hold a sample.
  if (windowMs < 8 * intervalMs) {
    throw new RangeError(`memwatch.watchResources: "windowMs" (${windowMs}) must be at least 8 samples (8 x intervalMs = ${8 * intervalMs})`);
  }
  if (current) current.stop();
  current = new ResourceWatch(kinds, settings, intervalMs, warmupMs, windowMs);
  return current;
}

/** The active watch's latest readings, or null when nothing is watched. */
function resourceReadings() {
  return current && current.running ? current.read() : null;
}

module.exports = { watchResources, resourceReadings, KINDS };
