'use strict';
// Heap snapshots on demand and their triggers: `writeSnapshot` (0600, complete or not at all),
// `snapshotOnSignal`, `snapshotOnLeak` (rate-limited, newest few kept, optional HTML report),
// and `htmlReport` (analyse a snapshot into one self-contained page).

const fs = require('node:fs');
const path = require('node:path');
const native = require('./native.js');
const { memwatch, statsHistory, setLeakConsumer, describeValue } = require('./monitor.js');
const { analyze } = require('./analysis.js');
const { checkOptions } = require('./options.js');

let leakSnapshots = null; // options of snapshotOnLeak, when on

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
function writeSnapshot(file) {
  if (file !== undefined && (typeof file !== 'string' || file === '')) {
    throw new TypeError('memwatch.writeSnapshot: expected a file path (or nothing for a default name)');
  }
  let target = file === undefined ? defaultSnapshotName() : file;
  if (file !== undefined && fs.existsSync(file) && fs.statSync(file).isDirectory()) target = path.join(file, defaultSnapshotName());
  return native.writeSnapshot(path.resolve(target));
}

const signalHandlers = new Map();

/** Default rate limit of snapshotOnSignal: a snapshot blocks the process for seconds and
 * weighs ~1.4 KB per heap object on disk, so a burst of signals must not become a burst of them. */
const SIGNAL_MIN_INTERVAL_MS = 30_000;

/**
 * Opt-in: writes a snapshot whenever this process receives `signal` (default 'SIGUSR2'), into
 * `options.dir` (default: the current directory), and prints its path on stderr. Off unless
 * called (unlike heapdump). Signals that arrive while a snapshot is being written are folded
 * into it, and after one is written no other is for `options.minIntervalMs` (default 30 s;
 * 0: none); refused signals are said on stderr. Returns a function that turns it off again.
 */
// Signals that mean "stop" or "you crashed": a snapshot there would run in a process the user
// asked to end, or one whose state is broken.
const REFUSED_SIGNALS = new Map([
  ['SIGSEGV', 'reports a crash (a snapshot of a broken process cannot be trusted)'],
  ['SIGBUS', 'reports a crash (a snapshot of a broken process cannot be trusted)'],
  ['SIGILL', 'reports a crash (a snapshot of a broken process cannot be trusted)'],
  ['SIGFPE', 'reports a crash (a snapshot of a broken process cannot be trusted)'],
  ['SIGABRT', 'reports a crash (a snapshot of a broken process cannot be trusted)'],
  ['SIGINT', 'asks the process to stop (Ctrl-C): taking it over would keep the process from stopping'],
  ['SIGTERM', 'asks the process to stop: taking it over would keep the process from stopping'],
  ['SIGHUP', 'tells the process its terminal is gone'],
  ['SIGQUIT', 'asks the process to quit'],
]);
// Snapshots on a signal: this prefix, the newest SIGNAL_KEEP kept whatever the interval (a storm
// of signals with minIntervalMs 0 once wrote 87 MB in 6 s).
const SIGNAL_PREFIX = 'Heap';
const SIGNAL_KEEP = 5;

/** Keeps the newest `keep` snapshots named `<prefix>.<date>...heapsnapshot` of this process in `dir`. */
function keepNewest(dir, prefix, keep) {
  const mine = new RegExp(`^${prefix}\\.\\d{8}\\.\\d{6}\\.${process.pid}\\.\\d+\\.heapsnapshot$`);
  const ours = fs
    .readdirSync(dir)
    .filter((f) => mine.test(f))
    .map((f) => ({ f, t: fs.statSync(path.join(dir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t || (a.f < b.f ? 1 : -1));
  for (const { f } of ours.slice(keep)) fs.rmSync(path.join(dir, f), { force: true });
}

function snapshotOnSignal(signal = 'SIGUSR2', options = {}) {
  const os = require('node:os');
  if (typeof signal !== 'string' || !(signal in os.constants.signals) || ['SIGKILL', 'SIGSTOP'].includes(signal)) {
    throw new TypeError(`memwatch.snapshotOnSignal: "${signal}" is not a signal this process can catch`);
  }
  if (REFUSED_SIGNALS.has(signal)) {
    throw new TypeError(`memwatch.snapshotOnSignal: ${signal} ${REFUSED_SIGNALS.get(signal)}; use a signal meant for it, such as SIGUSR2 (the default) or SIGUSR1`);
  }
  checkOptions('memwatch.snapshotOnSignal', options, ['dir', 'minIntervalMs', 'keep']);
  const keep = options.keep === undefined ? SIGNAL_KEEP : options.keep;
  if (!Number.isInteger(keep) || keep < 1 || keep > 1000) throw new RangeError(`memwatch.snapshotOnSignal: "keep" must be an integer from 1 to 1000, got ${describeValue(keep)}`);
  const dir = options.dir === undefined ? process.cwd() : options.dir;
  if (typeof dir !== 'string' || !fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new TypeError(`memwatch.snapshotOnSignal: "dir" must be an existing directory, got ${describeValue(dir)}`);
  }
  const minIntervalMs = options.minIntervalMs === undefined ? SIGNAL_MIN_INTERVAL_MS : options.minIntervalMs;
  if (typeof minIntervalMs !== 'number' || !Number.isInteger(minIntervalMs) || minIntervalMs < 0) {
    throw new RangeError(`memwatch.snapshotOnSignal: "minIntervalMs" must be a non-negative integer, got ${describeValue(minIntervalMs)}`);
  }
  if (signalHandlers.has(signal)) process.removeListener(signal, signalHandlers.get(signal));
  // busy: from the first signal until the loop has delivered every signal that queued up while
  // the snapshot was written (they come in the poll phase right after; the flag clears in the
  // check phase after that).
  let busy = false;
  let lastDone = 0;
  const handler = () => {
    if (busy) return;
    const since = Date.now() - lastDone;
    if (lastDone && since < minIntervalMs) {
      process.stderr.write(`memwatch-rs: ${signal} ignored: a heap snapshot was written ${Math.round(since / 1000)} s ago (minIntervalMs ${minIntervalMs})\n`);
      return;
    }
    busy = true;
    setImmediate(() => {
      try {
        const written = writeSnapshot(path.join(dir, defaultSnapshotName(SIGNAL_PREFIX)));
        keepNewest(dir, SIGNAL_PREFIX, keep);
        process.stderr.write(`memwatch-rs: heap snapshot written to ${written}\n`);
        memwatch.emit('snapshot', { path: written, trigger: signal });
      } catch (e) {
        process.stderr.write(`${e.message}\n`);
      } finally {
        lastDone = Date.now();
        setImmediate(() => (busy = false));
      }
    });
  };
  signalHandlers.set(signal, handler);
  process.on(signal, handler);
  return function stop() {
    if (signalHandlers.get(signal) === handler) {
      process.removeListener(signal, handler);
      signalHandlers.delete(signal);
    }
  };
}

/**
 * Opt-in: when 'leak' fires, write a snapshot (and with `report: true` an HTML report of it,
 * with the heap over time) into `dir`, at most once per `minIntervalMs` (default 10 minutes),
 * keeping the newest `keep` (default 3) of these snapshots. Emits 'snapshot' with the path.
 * Works with or without a 'leak' listener. `snapshotOnLeak(false)` turns it off.
 */
function snapshotOnLeak(options = {}) {
  if (options === false || options === null) {
    leakSnapshots = null;
    setLeakConsumer(snapshotForLeak, false);
    return;
  }
  checkOptions('memwatch.snapshotOnLeak', options, ['dir', 'keep', 'minIntervalMs', 'report']);
  const o = { dir: process.cwd(), keep: 3, minIntervalMs: 10 * 60 * 1000, report: false, ...options };
  if (typeof o.dir !== 'string' || !fs.existsSync(o.dir) || !fs.statSync(o.dir).isDirectory()) {
    throw new TypeError(`memwatch.snapshotOnLeak: "dir" must be an existing directory, got ${describeValue(o.dir)}`);
  }
  if (!Number.isInteger(o.keep) || o.keep < 1 || o.keep > 1000) throw new RangeError(`memwatch.snapshotOnLeak: "keep" must be an integer from 1 to 1000, got ${describeValue(o.keep)}`);
  if (!Number.isInteger(o.minIntervalMs) || o.minIntervalMs < 0) throw new RangeError(`memwatch.snapshotOnLeak: "minIntervalMs" must be a non-negative integer, got ${describeValue(o.minIntervalMs)}`);
  leakSnapshots = { dir: path.resolve(o.dir), keep: o.keep, minIntervalMs: o.minIntervalMs, report: Boolean(o.report), last: 0 };
  setLeakConsumer(snapshotForLeak, true);
}

const LEAK_PREFIX = 'memwatch-leak';

function snapshotForLeak(leak) {
  const o = leakSnapshots;
  const now = Date.now();
  if (o.last && now - o.last < o.minIntervalMs) return;
  o.last = now;
  try {
    const written = writeSnapshot(path.join(o.dir, defaultSnapshotName(LEAK_PREFIX)));
    let report;
    if (o.report) report = htmlReport(written, `${written.replace(/\.heapsnapshot$/, '')}.html`, { stats: statsHistory(), leak });
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
function htmlReport(snapshot, htmlFile, options = {}) {
  if (typeof htmlFile !== 'string' || htmlFile === '') throw new TypeError('memwatch.htmlReport: expected an output file path');
  checkOptions('memwatch.htmlReport', options, ['top', 'stats', 'leak', 'timeoutMs']);
  const report = analyze(snapshot, { top: options.top === undefined ? 50 : options.top, timeoutMs: options.timeoutMs });
  return require('./report/html.js').writeHtml(htmlFile, { kind: 'analyze', report, files: [snapshot], stats: options.stats || null, leak: options.leak || null });
}

module.exports = { writeSnapshot, snapshotOnSignal, snapshotOnLeak, htmlReport };
