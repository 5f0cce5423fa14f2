// ESM face of memwatch-rs: the default export is the same EventEmitter `require` returns, and
// every public function and class is a named export too. Bound: `on`/`once`/`off` work detached.
import memwatch from './index.js';

export default memwatch;

export const {
  gc,
  getOptions,
  setOptions,
  statsHistory,
  HeapDiff,
  leakTest,
  assertNoLeak,
  writeSnapshot,
  snapshotOnSignal,
  snapshotOnLeak,
  htmlReport,
  reportNearLimit,
  watchResources,
  prometheus,
  openTelemetry,
  analyze,
  analyzeAsync,
  analyzeText,
  diffSnapshots,
  findLeaks,
  diffSnapshotsText,
  findLeaksText,
  buildInfo,
} = memwatch;

export const on = memwatch.on.bind(memwatch);
export const once = memwatch.once.bind(memwatch);
export const off = memwatch.off.bind(memwatch);
