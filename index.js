'use strict';
// memwatch-rs: GC statistics, leak detection and heap diffs for Node.js.
//
// This file is the whole JS face: it loads the native binary for this Node's ABI, owns the
// EventEmitter ('stats', 'leak'), validates options, and wraps HeapDiff. The native side does
// the work; see README.md for the API.

const { EventEmitter } = require('node:events');
const fs = require('node:fs');
const path = require('node:path');

function loadNative() {
  const abi = process.versions.modules;
  const platform = `${process.platform}-${process.arch}`;
  const dir = path.join(__dirname, 'prebuilds', platform);
  const override = process.env.MEMWATCH_RS_BINARY;
  const file = override ? path.resolve(override) : path.join(dir, `memwatch-rs.abi${abi}.node`);
  if (!fs.existsSync(file)) {
    let available = [];
    try {
      available = fs
        .readdirSync(dir)
        .map((f) => /^memwatch-rs\.abi(\d+)\.node$/.exec(f))
        .filter(Boolean)
        .map((m) => m[1]);
    } catch {
      // no binaries for this platform at all
    }
    const have = available.length ? `it has binaries for ABI ${available.join(', ')}` : `it has no binary for ${platform}`;
    throw new Error(
      `memwatch-rs: no native binary for node ${process.version} (ABI ${abi}, ${platform}); ${have}. ` +
        'Build one for this node with `npm rebuild memwatch-rs` (needs Rust/cargo; from a source checkout: `npm run build`).',
    );
  }
  try {
    return require(file);
  } catch (e) {
    if (/^memwatch-rs:/.test(e.message)) throw e; // the binary's own ABI check: already clear
    // The dynamic linker refused it (most often: built for another Node, whose V8 exports
    // other symbols). Say so in the same words as the ABI check, never as an opaque dlopen error.
    const built = /abi(\d+)\.node$/.exec(file);
    throw new Error(
      `memwatch-rs: this binary was built for Node ABI ${built ? built[1] : '(unknown)'} but is loaded by node ` +
        `${process.versions.node} (ABI ${abi}) and cannot load here (${e.message.split('\n')[0]}). ` +
        'Rebuild it for this node with `npm rebuild memwatch-rs` (from a source checkout: `npm run build`).',
    );
  }
}

const native = loadNative();
const STATS_FIELDS = native.statsFieldNames();
const EVENT_STATS = 0;

const memwatch = new EventEmitter();
const MONITORED = new Set(['stats', 'leak']);

const EVENT_LEAK = 1;
let leakSnapshots = null; // options of snapshotOnLeak, when on

// The post-GC heap over time, for reports: the last HISTORY_SIZE full GCs seen while
// monitoring. A few numbers per GC.
const HISTORY_SIZE = 2000;
const history = [];

function deliver(kind, values, reason) {
  if (kind === EVENT_STATS) {
    const stats = {};
    for (let i = 0; i < STATS_FIELDS.length; i++) stats[STATS_FIELDS[i]] = values[i];
    if (history.length === HISTORY_SIZE) history.shift();
    history.push({
      time: Date.now(),
      current_base: stats.current_base,
      estimated_base: stats.estimated_base,
      used_heap_size: stats.used_heap_size,
    });
    if (memwatch.listenerCount('stats') > 0) memwatch.emit('stats', stats);
  } else if (kind === EVENT_LEAK) {
    const leak = { start: new Date(values[0]), end: new Date(values[1]), growth: values[2], reason };
    if (memwatch.listenerCount('leak') > 0) memwatch.emit('leak', leak);
    if (leakSnapshots) snapshotForLeak(leak);
  }
}

function monitoredListeners() {
  return memwatch.listenerCount('stats') + memwatch.listenerCount('leak') + (leakSnapshots ? 1 : 0);
}

function leakWatchWanted() {
  return memwatch.listenerCount('leak') > 0 || leakSnapshots !== null;
}

// The GC hook exists only while someone listens: an idle memwatch costs nothing.
function updateMonitoring() {
  if (monitoredListeners() > 0) {
    if (!native.isMonitoring()) native.startMonitor(deliver);
    native.setLeakWatch(leakWatchWanted());
  } else if (native.isMonitoring()) {
    native.stopMonitor();
  }
}
memwatch.on('newListener', (event) => {
  if (!MONITORED.has(event)) return;
  if (!native.isMonitoring()) native.startMonitor(deliver);
  if (event === 'leak') native.setLeakWatch(true);
});
memwatch.on('removeListener', (event) => {
  if (MONITORED.has(event)) updateMonitoring();
});

/** Post-GC heap samples `{ time, current_base, estimated_base, used_heap_size }` (oldest first). */
memwatch.statsHistory = function statsHistory() {
  return history.slice();
};

/** Forces a full, synchronous garbage collection; no --expose-gc needed. */
memwatch.gc = function gc() {
  native.gc();
};

const OPTION_LIMITS = {
  consecutiveGrowths: { min: 1, max: 1000 },
  highWaterWindow: { min: 0, max: 100000 },
  recentPeriod: { min: 1, max: 100000 },
  ancientPeriod: { min: 1, max: 100000 },
  sampleGrowthPercent: { min: 0, max: 10000 },
  sampleIntervalMs: { min: 0, max: 86400000 },
  backToBackBytes: { min: 0, max: Number.MAX_SAFE_INTEGER },
};

function publicOptions(o) {
  const out = {};
  for (const key of Object.keys(OPTION_LIMITS)) out[key] = o[key];
  return out;
}

/** The leak rule and estimator settings in force. */
memwatch.getOptions = function getOptions() {
  return publicOptions(native.getOptions());
};

/**
 * Changes the leak rule / estimator settings (any subset). Validates everything before changing
 * anything; the estimator and the leak streak start over. Returns the settings now in force.
 */
memwatch.setOptions = function setOptions(options) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError('memwatch.setOptions: expected an options object, e.g. { consecutiveGrowths: 5 }');
  }
  const next = native.getOptions();
  for (const [key, value] of Object.entries(options)) {
    const limit = OPTION_LIMITS[key];
    if (!limit) {
      throw new TypeError(
        `memwatch.setOptions: unknown option "${key}"; known options: ${Object.keys(OPTION_LIMITS).join(', ')}`,
      );
    }
    if (!Number.isInteger(value) || value < limit.min || value > limit.max) {
      throw new RangeError(
        `memwatch.setOptions: "${key}" must be an integer from ${limit.min} to ${limit.max}, got ${String(value)}`,
      );
    }
    next[key] = value;
  }
  native.setOptions(next);
  return memwatch.getOptions();
};

/**
 * memwatch's HeapDiff: `new HeapDiff()` snapshots the heap (after a full GC), `end()` snapshots
 * it again and returns what changed, per constructor.
 */
class HeapDiff {
  #before;
  #ended = false;
  #retainers = 0;

  /**
   * `options.retainers` (0 to 50, default 0): for that many classes that grew most, `end()`
   * adds `retainers`: the shortest path from a GC root to the newest new instance.
   */
  constructor(options) {
    if (options !== undefined) {
      if (options === null || typeof options !== 'object') throw new TypeError('HeapDiff: options must be an object, e.g. { retainers: 3 }');
      const r = options.retainers === undefined ? 0 : options.retainers;
      if (!Number.isInteger(r) || r < 0 || r > 50) throw new RangeError('HeapDiff: "retainers" must be an integer from 0 to 50');
      this.#retainers = r;
    }
    this.#before = native.takeHeapSummary();
  }

  end() {
    if (this.#ended) throw new Error('attempt to end() a HeapDiff that was already ended');
    this.#ended = true;
    const before = this.#before;
    this.#before = null;
    if (this.#retainers === 0) {
      const after = native.takeHeapSummary();
      return native.diffHeapSummaries(before, after);
    }
    const after = native.takeHeapSummaryWithGraph();
    const result = native.diffHeapSummaries(before, after);
    const grown = result.change.details
      .filter((d) => d['+'] > 0 && d.size_bytes > 0)
      .sort((a, b) => b.size_bytes - a.size_bytes)
      .slice(0, this.#retainers)
      .map((d) => d.what);
    result.retainers = native.heapDiffRetainers(before, after, grown);
    return result;
  }
}

memwatch.HeapDiff = HeapDiff;

function analyzeArgs(file, options = {}, json = false) {
  if (typeof file !== 'string' || file === '') throw new TypeError('memwatch.analyze: expected the path of a .heapsnapshot file');
  if (options === null || typeof options !== 'object') throw new TypeError('memwatch.analyze: options must be an object');
  const top = options.top === undefined ? 20 : options.top;
  if (!Number.isInteger(top) || top < 1 || top > 100000) throw new RangeError('memwatch.analyze: "top" must be an integer from 1 to 100000');
  return { top, json, progress: Boolean(options.progress), timings: Boolean(options.timings) };
}

/**
 * Analyses a .heapsnapshot file offline: totals, suspects (objects retaining more than 10% of
 * the heap, where it accumulates, and a retainer path from a GC root), per-class table with
 * retained sizes, largest objects. Synchronous; throws on unreadable or malformed files.
 * `{ progress: true }` shows the phase and percent on stderr while it works.
 */
memwatch.analyze = function analyze(file, options = {}) {
  return JSON.parse(native.analyzeSnapshot(file, analyzeArgs(file, options, true)));
};

/**
 * `analyze` off the main thread (on libuv's thread pool): resolves with the same report while
 * the event loop keeps serving. For analysing inside a running service.
 */
memwatch.analyzeAsync = async function analyzeAsync(file, options = {}) {
  return JSON.parse(await native.analyzeSnapshotAsync(file, analyzeArgs(file, options, true)));
};

/** The same report as text (or JSON text with `{ json: true }`), as the CLI prints it. */
memwatch.analyzeText = function analyzeText(file, options = {}) {
  return native.analyzeSnapshot(file, analyzeArgs(file, options, Boolean(options && options.json)));
};
function compareArgs(name, files, options = {}, json = true) {
  for (const f of files) {
    if (typeof f !== 'string' || f === '') throw new TypeError(`memwatch.${name}: expected paths of .heapsnapshot files`);
  }
  if (options === null || typeof options !== 'object') throw new TypeError(`memwatch.${name}: options must be an object`);
  const top = options.top === undefined ? 20 : options.top;
  if (!Number.isInteger(top) || top < 1 || top > 100000) throw new RangeError(`memwatch.${name}: "top" must be an integer from 1 to 100000`);
  return { top, json, progress: Boolean(options.progress) };
}

/**
 * DevTools' Comparison view for two snapshot files: per class, objects allocated (ids only in
 * `after`) and deleted (ids only in `before`), counts and sizes, largest growth first.
 */
memwatch.diffSnapshots = function diffSnapshots(before, after, options) {
  return JSON.parse(native.diffSnapshots(before, after, compareArgs('diffSnapshots', [before, after], options)));
};

/**
 * The three-snapshot technique: objects allocated between `base` and `target` that are still
 * alive in `final`, grouped by the retainer path that holds them and by class.
 */
memwatch.findLeaks = function findLeaks(base, target, final, options) {
  return JSON.parse(native.findLeaks(base, target, final, compareArgs('findLeaks', [base, target, final], options)));
};

/** `diffSnapshots` as the CLI prints it (text). */
memwatch.diffSnapshotsText = function diffSnapshotsText(before, after, options) {
  return native.diffSnapshots(before, after, compareArgs('diffSnapshotsText', [before, after], options, false));
};

/** `findLeaks` as the CLI prints it (text). */
memwatch.findLeaksText = function findLeaksText(base, target, final, options) {
  return native.findLeaks(base, target, final, compareArgs('findLeaksText', [base, target, final], options, false));
};

// ---- Heap snapshots on demand --------------------------------------------------------------

let snapshotSeq = 0;
function defaultSnapshotName(prefix = 'Heap') {
  const d = new Date();
  const p = (n, w = 2) => String(n).padStart(w, '0');
  const stamp = `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}.${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
  snapshotSeq += 1;
  return `${prefix}.${stamp}.${process.pid}.${p(snapshotSeq, 3)}.heapsnapshot`;
}

/**
 * Writes a heap snapshot of this thread's heap (V8 runs a full GC first) and returns its
 * absolute path. The file is created with mode 0600 (heaps hold secrets) and appears under
 * its name only once complete. Default name: Heap.<date>.<time>.<pid>.<seq>.heapsnapshot in
 * the current directory; a directory as `file` puts the default name there.
 */
memwatch.writeSnapshot = function writeSnapshot(file) {
  if (file !== undefined && (typeof file !== 'string' || file === '')) {
    throw new TypeError('memwatch.writeSnapshot: expected a file path (or nothing for a default name)');
  }
  let target = file === undefined ? defaultSnapshotName() : file;
  if (file !== undefined && fs.existsSync(file) && fs.statSync(file).isDirectory()) target = path.join(file, defaultSnapshotName());
  return native.writeSnapshot(path.resolve(target));
};

const signalHandlers = new Map();

/**
 * Opt-in: writes a snapshot whenever this process receives `signal` (default 'SIGUSR2'), into
 * `options.dir` (default: the current directory), and prints its path on stderr. Off unless
 * called (unlike heapdump). Returns a function that turns it off again.
 */
memwatch.snapshotOnSignal = function snapshotOnSignal(signal = 'SIGUSR2', options = {}) {
  const os = require('node:os');
  if (typeof signal !== 'string' || !(signal in os.constants.signals) || ['SIGKILL', 'SIGSTOP'].includes(signal)) {
    throw new TypeError(`memwatch.snapshotOnSignal: "${signal}" is not a signal this process can catch`);
  }
  if (options === null || typeof options !== 'object') throw new TypeError('memwatch.snapshotOnSignal: options must be an object');
  const dir = options.dir === undefined ? process.cwd() : options.dir;
  if (typeof dir !== 'string' || !fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new TypeError(`memwatch.snapshotOnSignal: "dir" must be an existing directory, got ${String(dir)}`);
  }
  if (signalHandlers.has(signal)) process.removeListener(signal, signalHandlers.get(signal));
  const handler = () => {
    try {
      const written = memwatch.writeSnapshot(path.join(dir, defaultSnapshotName()));
      process.stderr.write(`memwatch-rs: heap snapshot written to ${written}\n`);
      memwatch.emit('snapshot', { path: written, trigger: signal });
    } catch (e) {
      process.stderr.write(`${e.message}\n`);
    }
  };
  signalHandlers.set(signal, handler);
  process.on(signal, handler);
  return function stop() {
    if (signalHandlers.get(signal) === handler) {
      process.removeListener(signal, handler);
      signalHandlers.delete(signal);
    }
  };
};

/**
 * Opt-in: when 'leak' fires, write a snapshot (and with `report: true` an HTML report of it,
 * with the heap over time) into `dir`, at most once per `minIntervalMs` (default 10 minutes),
 * keeping the newest `keep` (default 3) of these snapshots. Emits 'snapshot' with the path.
 * Works with or without a 'leak' listener. `snapshotOnLeak(false)` turns it off.
 */
memwatch.snapshotOnLeak = function snapshotOnLeak(options = {}) {
  if (options === false || options === null) {
    leakSnapshots = null;
    updateMonitoring();
    return;
  }
  if (typeof options !== 'object') throw new TypeError('memwatch.snapshotOnLeak: expected an options object or false');
  const o = { dir: process.cwd(), keep: 3, minIntervalMs: 10 * 60 * 1000, report: false, ...options };
  if (typeof o.dir !== 'string' || !fs.existsSync(o.dir) || !fs.statSync(o.dir).isDirectory()) {
    throw new TypeError(`memwatch.snapshotOnLeak: "dir" must be an existing directory, got ${String(o.dir)}`);
  }
  if (!Number.isInteger(o.keep) || o.keep < 1 || o.keep > 1000) throw new RangeError('memwatch.snapshotOnLeak: "keep" must be an integer from 1 to 1000');
  if (!Number.isInteger(o.minIntervalMs) || o.minIntervalMs < 0) throw new RangeError('memwatch.snapshotOnLeak: "minIntervalMs" must be a non-negative integer');
  leakSnapshots = { dir: path.resolve(o.dir), keep: o.keep, minIntervalMs: o.minIntervalMs, report: Boolean(o.report), last: 0 };
  updateMonitoring();
};

const LEAK_PREFIX = 'memwatch-leak';

function snapshotForLeak(leak) {
  const o = leakSnapshots;
  const now = Date.now();
  if (o.last && now - o.last < o.minIntervalMs) return;
  o.last = now;
  try {
    const written = memwatch.writeSnapshot(path.join(o.dir, defaultSnapshotName(LEAK_PREFIX)));
    let report;
    if (o.report) report = memwatch.htmlReport(written, `${written.replace(/\.heapsnapshot$/, '')}.html`, { stats: memwatch.statsHistory() });
    // Keep the newest `keep` of our own leak snapshots (and their reports).
    const ours = fs
      .readdirSync(o.dir)
      .filter((f) => f.startsWith(`${LEAK_PREFIX}.`) && f.endsWith('.heapsnapshot'))
      .map((f) => ({ f, t: fs.statSync(path.join(o.dir, f)).mtimeMs }))
      .sort((a, b) => b.t - a.t || (a.f < b.f ? 1 : -1));
    for (const { f } of ours.slice(o.keep)) {
      fs.rmSync(path.join(o.dir, f), { force: true });
      fs.rmSync(path.join(o.dir, f.replace(/\.heapsnapshot$/, '.html')), { force: true });
    }
    memwatch.emit('snapshot', { path: written, report, trigger: 'leak', leak });
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
  }
}

/**
 * Analyses `snapshot` and writes a self-contained HTML report to `htmlFile` (treemap, classes,
 * suspects with retainer paths; with `options.stats`, the heap over time). Returns its path.
 */
memwatch.htmlReport = function htmlReport(snapshot, htmlFile, options = {}) {
  if (typeof htmlFile !== 'string' || htmlFile === '') throw new TypeError('memwatch.htmlReport: expected an output file path');
  const report = memwatch.analyze(snapshot, { top: options.top === undefined ? 50 : options.top });
  return require('./report-html.js').writeHtml(htmlFile, { kind: 'analyze', report, files: [snapshot], stats: options.stats || null });
};

/** What the loaded binary was built for: { abi, node, v8 }. */
memwatch.buildInfo = native.buildInfo;

module.exports = memwatch;
