'use strict';
// Runway: 'leak' before a limit kills the process. While leaks are watched ('leak' listener or
// consumer), the process's resident memory is sampled on an unref'd timer and judged against
// the limit that will kill it (the container's memory limit, else the machine's memory) by the
// core's runway judge (memwatch_core::runway, through native RunwayWatch); the heap's runway is
// judged on the GC path (src/monitor.rs) and delivered by the monitor; open file descriptors by
// watchResources. Also here: which limit binds, for every 'leak' event and the metrics.
// Not here: the trend detector (slow leaks), the report written near a limit (report.js).

const os = require('node:os');
const native = require('./native.js');

// RSS readings: every SAMPLE_MS (process.memoryUsage.rss() reads /proc, a few µs).
const SAMPLE_MS = 500;
// The container's limit is read again this often (a cgroup can be changed while running).
const LIMIT_REFRESH_MS = 10_000;
// constrainedMemory() reports "no limit" as 0, undefined or a value near 2^64.
const NO_LIMIT = 2 ** 60;

let limitCache = null; // { limit, kind, at }

/**
 * The memory limit that will stop this process: `{ limit, kind: 'container' | 'machine' }`.
 * The container's (cgroup v1 or v2, as libuv reads it) when it is below the machine's memory.
 */
function memoryLimit(now = Date.now()) {
  if (limitCache && now - limitCache.at < LIMIT_REFRESH_MS) return limitCache;
  const machine = os.totalmem();
  let constrained = typeof process.constrainedMemory === 'function' ? Number(process.constrainedMemory()) : 0;
  if (!Number.isFinite(constrained) || constrained <= 0 || constrained >= NO_LIMIT) constrained = 0;
  limitCache = constrained > 0 && constrained < machine
    ? { limit: constrained, kind: 'container', at: now }
    : { limit: machine, kind: 'machine', at: now };
  return limitCache;
}

const LIMIT_WORDS = { container: "the container's", machine: "the machine's" };

const MIB = 1 << 20;
// The young generation's share of V8's heap limit, by V8 major version, measured: node 20 and 22
// (V8 11, 12) put 48 MiB on top of the old generation, node 24 (V8 13) 192, node 26 (V8 14) 96.
const YOUNG_RESERVE_BY_V8 = { 11: 48, 12: 48, 13: 192, 14: 96 };
let youngReserveCache = null;

/** The `--max-old-space-size` this process runs with (flags or NODE_OPTIONS), MiB, or null. */
function maxOldSpaceMib() {
  const args = [...process.execArgv, ...(process.env.NODE_OPTIONS || '').split(/\s+/)];
  let found = null;
  for (let i = 0; i < args.length; i++) {
    const m = /^--max[-_]old[-_]space[-_]size(?:=(\d+))?$/.exec(args[i]);
    if (m) found = Number(m[1] !== undefined ? m[1] : args[i + 1]);
  }
  return Number.isFinite(found) && found > 0 ? found : null;
}

/**
 * The young generation's reserve in V8's heap limit, bytes: the limit less
 * `--max-old-space-size` when the process says it, else what this V8 version is measured to put
 * on top. The old generation, the limit a heap leak dies at, is the heap limit less it.
 */
function youngReserve() {
  if (youngReserveCache !== null) return youngReserveCache;
  const limit = require('node:v8').getHeapStatistics().heap_size_limit;
  const old = maxOldSpaceMib();
  const major = Number(process.versions.v8.split('.')[0]);
  const byVersion = (YOUNG_RESERVE_BY_V8[major] || YOUNG_RESERVE_BY_V8[14]) * MIB;
  youngReserveCache = old !== null && limit > old * MIB ? limit - old * MIB : byVersion;
  return youngReserveCache;
}

/** What the used heap after a full GC can reach: V8's heap limit less the young generation. */
function heapOldLimit(heapLimit = require('node:v8').getHeapStatistics().heap_size_limit) {
  return native.heapRunwayLimit(heapLimit, youngReserve());
}

/**
 * The limit the V8 heap will be stopped by: V8's own (less the young generation's reserve), or
 * the container's when the memory outside the heap leaves the heap less than that.
 * `{ limit, kind: 'heap' | 'container' }`.
 */
function heapBindingLimit(heapLimit, usage = process.memoryUsage()) {
  const own = heapOldLimit(heapLimit);
  const mem = memoryLimit();
  if (mem.kind === 'container') {
    const outside = Math.max(0, usage.rss - usage.heapUsed);
    const room = mem.limit - outside;
    if (room < own) return { limit: Math.max(0, room), kind: 'container' };
  }
  return { limit: own, kind: 'heap' };
}

/** A 'leak' event from a runway report's numbers (see src/monitor.rs runway_values). */
function runwayLeak(kind, values, reason, limitKind) {
  return {
    kind,
    runway: true,
    start: new Date(values[0]),
    end: new Date(values[1]),
    growth: values[2],
    reason,
    rate: values[3],
    limit: values[4],
    limitKind,
    timeToLimit: values[5],
    current: values[6],
  };
}

/**
 * The last-resort 'leak': V8's near-heap-limit callback fired before the runway judge could speak
 * (a heap filled in under a second). `history` is the post-GC heap so far, for the growth.
 */
function nearLimitLeak(current, raisedTo, history) {
  const now = new Date();
  const first = history[0];
  const last = history[history.length - 1];
  const seconds = first && last ? (last.time - first.time) / 1000 : 0;
  const growth = first && last ? Math.max(0, last.current_base - first.current_base) : 0;
  return {
    kind: 'heap',
    runway: true,
    nearLimit: true,
    start: first ? new Date(first.time) : now,
    end: now,
    growth,
    reason: `the heap reached V8's ${native.formatSize(current)} limit; memwatch-rs raised it once, to ${native.formatSize(raisedTo)}, so that this 'leak' and its report could run: the process will most likely die of it soon`,
    rate: seconds > 0 ? growth / seconds : 0,
    limit: current,
    limitKind: 'heap',
    heapLimit: current,
    timeToLimit: 0,
    current: process.memoryUsage().heapUsed,
  };
}

/** Samples RSS against the memory limit while `on`; calls `emit(leak)` when it races there. */
class MemoryRunway {
  constructor(emit) {
    this.emit = emit;
    this.timer = null;
    this.judge = null;
  }

  set(on) {
    if (on && this.timer === null) {
      this.judge = new native.RunwayWatch('memory');
      this.timer = setInterval(() => this.sample(), SAMPLE_MS);
      this.timer.unref();
      this.sample();
    } else if (!on && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
      this.judge = null;
    }
  }

  sample() {
    const now = Date.now();
    const { limit, kind } = memoryLimit(now);
    const out = this.judge.observe(process.memoryUsage.rss(), now, limit, LIMIT_WORDS[kind]);
    if (out) this.emit(runwayLeak('memory', out[0], out[1], kind));
  }

  get inEpisode() {
    return this.judge !== null && this.judge.inEpisode;
  }
}

module.exports = { memoryLimit, heapBindingLimit, heapOldLimit, youngReserve, runwayLeak, nearLimitLeak, MemoryRunway, SAMPLE_MS };
