'use strict';
// The offline analysis wrappers: argument checks in JS, the work in the native core. `analyze`
// (one snapshot: suspects, classes, largest objects), `diffSnapshots` (two), `findLeaks` (three),
// each as a JSON-derived object or as the CLI's text.

const native = require('./native.js');
const { checkOptions } = require('./options.js');

function analyzeArgs(name, file, options = {}, json = false) {
  if (typeof file !== 'string' || file === '') throw new TypeError(`memwatch.${name}: expected the path of a .heapsnapshot file`);
  checkOptions(`memwatch.${name}`, options, name === 'analyzeText' ? ['top', 'progress', 'timings', 'sourceMaps', 'json'] : ['top', 'progress', 'timings', 'sourceMaps']);
  const top = options.top === undefined ? 20 : options.top;
  if (!Number.isInteger(top) || top < 1 || top > 100000) throw new RangeError(`memwatch.${name}: "top" must be an integer from 1 to 100000`);
  return { top, json, progress: Boolean(options.progress), timings: Boolean(options.timings), sourceMaps: options.sourceMaps !== false }
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
 * the event loop keeps serving. For analysing inside a running service.
 */
async function analyzeAsync(file, options = {}) {
  return JSON.parse(await native.analyzeSnapshotAsync(file, analyzeArgs('analyzeAsync', file, options, true)));
}

/** The same report as text (or JSON text with `{ json: true }`), as the CLI prints it. */
function analyzeText(file, options = {}) {
  return native.analyzeSnapshot(file, analyzeArgs('analyzeText', file, options, Boolean(options && options.json)));
}
function compareArgs(name, files, options = {}, json = true) {
  for (const f of files) {
    if (typeof f !== 'string' || f === '') throw new TypeError(`memwatch.${name}: expected paths of .heapsnapshot files`);
  }
  checkOptions(`memwatch.${name}`, options, name.startsWith('diff') ? ['top', 'progress', 'sourceMaps', 'all'] : ['top', 'progress', 'sourceMaps']);
  const top = options.top === undefined ? 20 : options.top;
  if (!Number.isInteger(top) || top < 1 || top > 100000) throw new RangeError(`memwatch.${name}: "top" must be an integer from 1 to 100000`);
  return { top, json, progress: Boolean(options.progress), all: Boolean(options.all), sourceMaps: options.sourceMaps !== false }
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
