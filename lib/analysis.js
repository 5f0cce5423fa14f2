'use strict';
// The offline analysis wrappers: argument checks in JS, the work in the native core. `analyze`
// (one snapshot: suspects, classes, largest objects), `diffSnapshots` (two), `findLeaks` (three),
// each as a JSON-derived object or as the CLI's text.

const native = require('./native.js');
const { checkOptions } = require('./options.js');

/** `timeoutMs`: undefined (no limit) or milliseconds, 1 to 2^31 - 1. */
function timeoutOf(name, options) {
  const t = options.timeoutMs;
  if (t === undefined) return undefined;
  if (!Number.isInteger(t) || t < 1 || t > 0x7fffffff) throw new RangeError(`memwatch.${name}: "timeoutMs" must be an integer number of milliseconds from 1 to 2147483647`);
  return t;
}

function analyzeArgs(name, file, options = {}, json = false) {
  if (typeof file !== 'string' || file === '') throw new TypeError(`memwatch.${name}: expected the path of a .heapsnapshot file`);
  const known = ['top', 'progress', 'timings', 'sourceMaps', 'timeoutMs'];
  checkOptions(`memwatch.${name}`, options, name === 'analyzeText' ? [...known, 'json'] : name === 'analyzeAsync' ? [...known, 'signal'] : known);
  const top = options.top === undefined ? 20 : options.top;
  if (!Number.isInteger(top) || top < 1 || top > 100000) throw new RangeError(`memwatch.${name}: "top" must be an integer from 1 to 100000`);
  return { top, json, progress: Boolean(options.progress), timings: Boolean(options.timings), sourceMaps: options.sourceMaps !== false, timeoutMs: timeoutOf(name, options) };
}

/**
 * Analyses a .heapsnapshot file offline: totals, suspects (objects retaining more than 10% of
 * the heap, where it accumulates, and a retainer path from a GC root), per-class table with
 * retained sizes, largest objects. Synchronous; throws on unreadable or malformed files.
 * `{ progress: true }` shows the phase and percent on stderr while it works.
 */
function analyze(file, options = {}) {
  return JSON.parse(native.analyzeSnapshot(file, analyzeArgs('analyze', file, options, true)));
}

/**
 * `analyze` off the main thread (on libuv's thread pool): resolves with the same report while
 * the event loop keeps serving. For analysing inside a running service. `{ timeoutMs }` gives
 * up after that long and `{ signal }` (an AbortSignal) when it aborts: the promise rejects
 * and the pool thread is freed at the analysis's next check (between phases, or within 16 MB
 * read).
 */
async function analyzeAsync(file, options = {}) {
  const args = analyzeArgs('analyzeAsync', file, options, true);
  const signal = options.signal;
  if (signal !== undefined && !(signal && typeof signal.aborted === 'boolean' && typeof signal.addEventListener === 'function')) {
    throw new TypeError('memwatch.analyzeAsync: "signal" must be an AbortSignal');
  }
  if (signal && signal.aborted) throw abortError(signal);
  const cancel = new native.AnalysisCancel();
  const onAbort = () => cancel.cancel();
  if (signal) signal.addEventListener('abort', onAbort, { once: true });
  // One analysis at a time (the native side takes turns too): queued here, the others wait
  // without holding a thread of libuv's pool, which the program's file I/O needs.
  const called = Date.now();
  const turn = queue.then(() => {
    // A time limit runs from the call: the wait in the queue counts.
    if (args.timeoutMs !== undefined) {
      const left = args.timeoutMs - (Date.now() - called);
      if (left < 1) throw new Error(`memwatch-rs: cannot analyze ${file}: the analysis ran out of time (its limit is ${args.timeoutMs} ms)`);
      return native.analyzeSnapshotAsync(file, { ...args, timeoutMs: left }, cancel);
    }
    return native.analyzeSnapshotAsync(file, args, cancel);
  });
  queue = turn.then(noop, noop);
  try {
    return JSON.parse(await turn);
  } catch (e) {
    // The native side was given what was left of the limit: say the limit the caller set.
    if (args.timeoutMs !== undefined && e && typeof e.message === 'string') e.message = e.message.replace(/its limit is \d+ ms/, `its limit is ${args.timeoutMs} ms`);
    if (signal && signal.aborted) throw abortError(signal, e);
    throw e;
  } finally {
    if (signal) signal.removeEventListener('abort', onAbort);
  }
}

let queue = Promise.resolve();
function noop() {}

/** What fetch and timers/promises reject with on abort: an AbortError, the reason as cause. */
function abortError(signal, cause) {
  const e = new Error('memwatch.analyzeAsync: the analysis was cancelled (its AbortSignal aborted)', { cause: signal.reason !== undefined ? signal.reason : cause });
  e.name = 'AbortError';
  e.code = 'ABORT_ERR';
  return e;
}

/** The same report as text (or JSON text with `{ json: true }`), as the CLI prints it. */
function analyzeText(file, options = {}) {
  return native.analyzeSnapshot(file, analyzeArgs('analyzeText', file, options, Boolean(options && options.json)));
}
function compareArgs(name, files, options = {}, json = true) {
  for (const f of files) {
    if (typeof f !== 'string' || f === '') throw new TypeError(`memwatch.${name}: expected paths of .heapsnapshot files`);
  }
  checkOptions(`memwatch.${name}`, options, name.startsWith('diff') ? ['top', 'progress', 'sourceMaps', 'all', 'timeoutMs'] : ['top', 'progress', 'sourceMaps', 'timeoutMs']);
  const top = options.top === undefined ? 20 : options.top;
  if (!Number.isInteger(top) || top < 1 || top > 100000) throw new RangeError(`memwatch.${name}: "top" must be an integer from 1 to 100000`);
  return { top, json, progress: Boolean(options.progress), all: Boolean(options.all), sourceMaps: options.sourceMaps !== false, timeoutMs: timeoutOf(name, options) };
}

/**
 * DevTools' Comparison view for two snapshot files: per class, objects allocated (ids only in
 * `after`) and deleted (ids only in `before`), counts and sizes, largest growth first.
 */
function diffSnapshots(before, after, options) {
  return JSON.parse(native.diffSnapshots(before, after, compareArgs('diffSnapshots', [before, after], options)));
}

/**
 * The three-snapshot technique: objects allocated between `base` and `target` that are still
 * alive in `final`, grouped by the retainer path that holds them and by class.
 */
function findLeaks(base, target, final, options) {
  return JSON.parse(native.findLeaks(base, target, final, compareArgs('findLeaks', [base, target, final], options)));
}

/** `diffSnapshots` as the CLI prints it (text). */
function diffSnapshotsText(before, after, options) {
  return native.diffSnapshots(before, after, compareArgs('diffSnapshotsText', [before, after], options, false));
}

/** `findLeaks` as the CLI prints it (text). */
function findLeaksText(base, target, final, options) {
  return native.findLeaks(base, target, final, compareArgs('findLeaksText', [base, target, final], options, false));
}

module.exports = { analyze, analyzeAsync, analyzeText, diffSnapshots, findLeaks, diffSnapshotsText, findLeaksText };
