'use strict';
// memwatch-rs: GC statistics, leak detection and heap diffs for Node.js.
//
// The public face, and only that: the EventEmitter users hold, with the API attached to it.
// Each concept lives in its own module under lib/ (loader, monitor and events, HeapDiff,
// leak tests, snapshots, analysis, report). index.mjs re-exports the same names for ESM.

const native = require('./lib/native.js');
const monitor = require('./lib/monitor.js');
const { HeapDiff } = require('./lib/heapdiff.js');
const resources = require('./lib/resources.js');

// Leak tests, snapshots, analysis and metrics load on first use. Loading code allocates, and a
// program's first seconds of allocation steer V8's GC schedule for the rest of its life: eagerly
// loaded (node:assert, node:v8 and ~1,000 lines), they made an allocation-heavy loop run a third
// mark-compact with 7% more CPU, with or without a listener (docs/benchmarks.md, bench:gc).
function lazy(file, name) {
  return {
    [name](...args) {
      return require(file)[name](...args);
    },
  }[name];
}
const analysis = {};
for (const name of ['analyze', 'analyzeAsync', 'analyzeText', 'diffSnapshots', 'findLeaks', 'diffSnapshotsText', 'findLeaksText']) {
  analysis[name] = lazy('./lib/analysis.js', name);
}
const snapshots = {};
for (const name of ['writeSnapshot', 'snapshotOnSignal', 'snapshotOnLeak', 'htmlReport']) snapshots[name] = lazy('./lib/snapshots.js', name);
const leakTests = { leakTest: lazy('./lib/leaktest.js', 'leakTest'), assertNoLeak: lazy('./lib/leaktest.js', 'assertNoLeak') };
const nearLimit = { reportNearLimit: lazy('./lib/nearlimit.js', 'reportNearLimit') };
const metrics = { prometheus: lazy('./lib/metrics.js', 'prometheus'), openTelemetry: lazy('./lib/metrics.js', 'openTelemetry') };

const memwatch = monitor.memwatch;

Object.assign(memwatch, {
  // monitor
  gc: monitor.gc,
  getOptions: monitor.getOptions,
  setOptions: monitor.setOptions,
  statsHistory: monitor.statsHistory,
  // heap diffs
  HeapDiff,
  // leak tests
  leakTest: leakTests.leakTest,
  assertNoLeak: leakTests.assertNoLeak,
  // snapshots and their triggers
  writeSnapshot: snapshots.writeSnapshot,
  snapshotOnSignal: snapshots.snapshotOnSignal,
  snapshotOnLeak: snapshots.snapshotOnLeak,
  htmlReport: snapshots.htmlReport,
  // a report written before a limit kills the process
  reportNearLimit: nearLimit.reportNearLimit,
  // production: leaks outside the heap, metrics (prom-client, OpenTelemetry: optional peers)
  watchResources: resources.watchResources,
  prometheus: metrics.prometheus,
  openTelemetry: metrics.openTelemetry,
  // offline analysis
  analyze: analysis.analyze,
  analyzeAsync: analysis.analyzeAsync,
  analyzeText: analysis.analyzeText,
  diffSnapshots: analysis.diffSnapshots,
  findLeaks: analysis.findLeaks,
  diffSnapshotsText: analysis.diffSnapshotsText,
  findLeaksText: analysis.findLeaksText,
  /** What the loaded binary was built for: { abi, node, v8 }. */
  buildInfo: native.buildInfo,
});

module.exports = memwatch;
