'use strict';
// memwatch-rs: GC statistics, leak detection and heap diffs for Node.js.
//
// The public face, and only that: the EventEmitter users hold, with the API attached to it.
// Each concept lives in its own module under lib/ (loader, monitor and events, HeapDiff,
// leak tests, snapshots, analysis, report). index.mjs re-exports the same names for ESM.

const native = require('./lib/native.js');
const monitor = require('./lib/monitor.js');
const analysis = require('./lib/analysis.js');
const snapshots = require('./lib/snapshots.js');
const { HeapDiff } = require('./lib/heapdiff.js');
const leakTests = require('./lib/leaktest.js');
const resources = require('./lib/resources.js');
const metrics = require('./lib/metrics.js');

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
