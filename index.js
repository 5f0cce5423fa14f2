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

function deliver(kind, values, reason) {
  if (kind === EVENT_STATS) {
    const stats = {};
    for (let i = 0; i < STATS_FIELDS.length; i++) stats[STATS_FIELDS[i]] = values[i];
    memwatch.emit('stats', stats);
  } else if (kind === EVENT_LEAK) {
    memwatch.emit('leak', { start: new Date(values[0]), end: new Date(values[1]), growth: values[2], reason });
  }
}

function monitoredListeners() {
  return memwatch.listenerCount('stats') + memwatch.listenerCount('leak');
}

// The GC hook exists only while someone listens: an idle memwatch costs nothing.
memwatch.on('newListener', (event) => {
  if (!MONITORED.has(event)) return;
  if (!native.isMonitoring()) native.startMonitor(deliver);
  if (event === 'leak') native.setLeakWatch(true);
});
memwatch.on('removeListener', (event) => {
  if (!MONITORED.has(event)) return;
  if (event === 'leak' && memwatch.listenerCount('leak') === 0) native.setLeakWatch(false);
  if (monitoredListeners() === 0) native.stopMonitor();
});

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

  constructor() {
    this.#before = native.takeHeapSummary();
  }

  end() {
    if (this.#ended) throw new Error('attempt to end() a HeapDiff that was already ended');
    this.#ended = true;
    const before = this.#before;
    this.#before = null;
    const after = native.takeHeapSummary();
    return native.diffHeapSummaries(before, after);
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
memwatch.analyze = function analyze(file, options) {
  return JSON.parse(native.analyzeSnapshot(file, analyzeArgs(file, options, true)));
};

/** The same report as text (or JSON text with `{ json: true }`), as the CLI prints it. */
memwatch.analyzeText = function analyzeText(file, options = {}) {
  return native.analyzeSnapshot(file, analyzeArgs(file, options, Boolean(options && options.json)));
};
/** What the loaded binary was built for: { abi, node, v8 }. */
memwatch.buildInfo = native.buildInfo;

module.exports = memwatch;
