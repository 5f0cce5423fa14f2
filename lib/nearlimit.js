'use strict';
// The report that outlives the process: `reportNearLimit({ dir })`. When a runway 'leak' says a
// limit will stop the process soon (the heap's, the container's memory, open files), a compact
// JSON report is written into `dir` while there is still room: what grew since the watch began,
// counted by constructor over the whole live heap without a snapshot (V8's QueryObjects: memory
// bounded by the number of constructors), the allocation sites when sampling is on, the post-GC
// history, the leak and the limits. Written through the one safe writer (0600, complete or not
// at all). A full heap snapshot needs about the heap's size again in native memory, which is
// what kills a process near a container's limit, so one is written only when asked for and the
// measured headroom allows it. The CLI reads these reports (`memwatch-rs report file.json`).

const fs = require('node:fs');
const path = require('node:path');
const native = require('./native.js');
const monitor = require('./monitor.js');
const runway = require('./runway.js');
const { checkOptions } = require('./options.js');

const PREFIX = 'memwatch-near-limit';
const FORMAT = 'memwatch-rs near-limit report';
const FORMAT_VERSION = 1;
const TOP = 30;
const HISTORY = 300;
const OPTIONS = { dir: 'an existing directory', keep: 'an integer from 1 to 1000', minIntervalMs: 'a non-negative integer (ms)', snapshot: 'a boolean' };

let active = null; // { dir, keep, minIntervalMs, snapshot, baseline, last, seq }

function parseOptions(options) {
  checkOptions('memwatch.reportNearLimit', options, Object.keys(OPTIONS));
  const o = { dir: process.cwd(), keep: 3, minIntervalMs: 60_000, snapshot: false, ...options };
  if (typeof o.dir !== 'string' || !fs.existsSync(o.dir) || !fs.statSync(o.dir).isDirectory()) {
    throw new TypeError(`memwatch.reportNearLimit: "dir" must be ${OPTIONS.dir}, got ${monitor.describeValue(o.dir)}`);
  }
  if (!Number.isInteger(o.keep) || o.keep < 1 || o.keep > 1000) throw new RangeError(`memwatch.reportNearLimit: "keep" must be ${OPTIONS.keep}, got ${monitor.describeValue(o.keep)}`);
  if (!Number.isInteger(o.minIntervalMs) || o.minIntervalMs < 0) throw new RangeError(`memwatch.reportNearLimit: "minIntervalMs" must be ${OPTIONS.minIntervalMs}, got ${monitor.describeValue(o.minIntervalMs)}`);
  if (typeof o.snapshot !== 'boolean') throw new TypeError(`memwatch.reportNearLimit: "snapshot" must be ${OPTIONS.snapshot}, got ${monitor.describeValue(o.snapshot)}`);
  return o;
}

/** A census as a Map name -> count. */
function census() {
  const c = native.countObjects();
  return { total: c.total, counts: new Map(c.counts), at: Date.now() };
}

/**
 * Opt-in: writes a near-limit report into `dir` when a runway 'leak' fires (any kind), at most
 * once per `minIntervalMs` (60 s), keeping the newest `keep` (3). Works with or without a 'leak'
 * listener (it keeps the leak watch on). `reportNearLimit(false)` turns it off. Returns
 * `{ dir, stop() }`.
 */
function reportNearLimit(options = {}) {
  if (options === false) {
    stop();
    return null;
  }
  const o = parseOptions(options);
  stop();
  // The baseline census: what the program holds now, so the report can say what grew.
  active = { dir: path.resolve(o.dir), keep: o.keep, minIntervalMs: o.minIntervalMs, snapshot: o.snapshot, baseline: census(), last: 0, seq: 0 };
  monitor.setLeakConsumer(onLeak, true);
  return { dir: active.dir, stop };
}

function stop() {
  if (!active) return;
  active = null;
  monitor.setLeakConsumer(onLeak, false);
}

function onLeak(leak) {
  const o = active;
  if (!o || !leak.runway) return;
  const now = Date.now();
  if (o.last && now - o.last < o.minIntervalMs) return;
  o.last = now;
  try {
    const file = writeReport(o, leak);
    monitor.memwatch.emit('report', { path: file, trigger: 'near-limit', leak });
  } catch (e) {
    process.emitWarning(`memwatch-rs: could not write the near-limit report: ${e.message}`, 'MemwatchWarning');
  }
}

// The engine's own kinds rank at 90% of their growth, so the program's own class comes before
// the Arrays and Objects each of its instances holds (they grow as much, or a little more).
const BUILTIN = new Set(['Object', 'Array', 'Function', 'Map', 'Set', 'WeakMap', 'WeakSet', 'Promise', 'Error', 'RegExp', 'Date', 'ArrayBuffer', 'SharedArrayBuffer', 'DataView', 'Uint8Array', 'FastBuffer', 'Buffer', 'Number', 'String', 'Boolean', 'Symbol', 'BigInt', '']);

/** What grew between two censuses, most first (the program's own classes before the engine's kinds). */
function grewBetween(before, after) {
  const out = [];
  for (const [what, count] of after.counts) {
    const was = before.counts.get(what) || 0;
    if (count > was) out.push({ what, count, before: was, growth: count - was });
  }
  const rank = (x) => (BUILTIN.has(x.what) ? 0.9 : 1) * x.growth;
  return out.sort((a, b) => rank(b) - rank(a) || (a.what < b.what ? -1 : 1)).slice(0, TOP);
}

function plainLeak(leak) {
  const out = {};
  for (const [k, v] of Object.entries(leak)) out[k] = v instanceof Date ? v.toISOString() : v;
  return out;
}

function writeReport(o, leak) {
  const usage = process.memoryUsage();
  const v8 = require('node:v8').getHeapStatistics();
  const mem = runway.memoryLimit();
  const now = census();
  const report = {
    format: FORMAT,
    version: FORMAT_VERSION,
    time: new Date().toISOString(),
    pid: process.pid,
    node: process.version,
    argv: process.argv.slice(1),
    leak: plainLeak(leak),
    limits: {
      heap: { used: usage.heapUsed, limit: v8.heap_size_limit, runwayLimit: runway.heapOldLimit(v8.heap_size_limit) },
      memory: { rss: usage.rss, limit: mem.limit, kind: mem.kind },
    },
    memoryUsage: usage,
    grew: grewBetween(o.baseline, now),
    objects: { now: now.total, atStart: o.baseline.total, since: new Date(o.baseline.at).toISOString() },
    sites: leak.sites || null,
    history: monitor.statsHistory().slice(-HISTORY),
    snapshot: null,
  };
  const resources = require('./resources.js').resourceReadings();
  if (resources) report.resources = resources;
  o.seq += 1;
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  const base = path.join(o.dir, `${PREFIX}.${stamp}.${process.pid}.${String(o.seq).padStart(3, '0')}`);
  if (o.snapshot) report.snapshot = maybeSnapshot(`${base}.heapsnapshot`, usage, mem);
  const file = native.writeFile(`${base}.json`, `${JSON.stringify(report, null, 1)}\n`, []);
  prune(o);
  return file;
}

/**
 * A full snapshot only where it fits: V8 needs about the heap's size again in native memory to
 * take one, so there must be twice that left under the memory limit.
 */
function maybeSnapshot(file, usage, mem) {
  const need = 2 * usage.heapUsed;
  const left = mem.limit - usage.rss;
  if (left < need) return { skipped: `not enough memory left for a snapshot: it needs about ${native.formatSize(need)}, ${native.formatSize(Math.max(0, left))} is left under ${mem.kind === 'container' ? "the container's" : "the machine's"} limit` };
  return { path: native.writeSnapshot(file) };
}

function prune(o) {
  const ours = fs
    .readdirSync(o.dir)
    .filter((f) => f.startsWith(`${PREFIX}.`) && f.endsWith('.json'))
    .map((f) => ({ f, t: fs.statSync(path.join(o.dir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t || (a.f < b.f ? 1 : -1));
  for (const { f } of ours.slice(o.keep)) {
    fs.rmSync(path.join(o.dir, f), { force: true });
    fs.rmSync(path.join(o.dir, f.replace(/\.json$/, '.heapsnapshot')), { force: true });
  }
}

/** Reads a near-limit report back, checking it is one. */
function readReport(file) {
  const data = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!data || data.format !== FORMAT) throw new Error(`${file} is not a memwatch-rs near-limit report`);
  return data;
}

/** A near-limit report as text for a terminal: names from the heap are escaped. */
function reportText(r, top = 20) {
  const size = (b) => native.formatSize(b);
  const safe = (t) => native.terminalSafe(String(t));
  const lines = [];
  lines.push(`near-limit report of pid ${r.pid} (node ${r.node}) at ${r.time}`);
  if (r.leak) lines.push(`leak (${r.leak.kind}): ${safe(r.leak.reason)}`);
  const h = r.limits && r.limits.heap;
  const m = r.limits && r.limits.memory;
  if (h) lines.push(`heap: ${size(h.used)} used of ${size(h.runwayLimit)} (V8's limit ${size(h.limit)})`);
  if (m) lines.push(`memory: rss ${size(m.rss)} of ${size(m.limit)} (${m.kind === 'container' ? "the container's limit" : "the machine's memory"})`);
  if (r.resources && r.resources.fds !== undefined) lines.push(`open file descriptors: ${r.resources.fds}`);
  if (r.objects) lines.push(`live objects: ${r.objects.now.toLocaleString('en-US')} now, ${r.objects.atStart.toLocaleString('en-US')} at ${r.objects.since}`);
  if (r.grew && r.grew.length) {
    lines.push('grew since then, by constructor:');
    for (const g of r.grew.slice(0, top)) lines.push(`  +${g.growth.toLocaleString('en-US')} ${safe(g.what || '(anonymous)')} (${g.count.toLocaleString('en-US')} now)`);
  }
  if (r.sites && r.sites.length) {
    lines.push('allocation sites whose live bytes grew:');
    for (const site of r.sites.slice(0, top)) lines.push(`  ${size(site.bytes)} ${safe(site.text)}`);
  }
  if (r.history && r.history.length > 1) {
    const first = r.history[0];
    const last = r.history[r.history.length - 1];
    lines.push(`heap after full GCs: ${size(first.current_base)} -> ${size(last.current_base)} over ${native.formatDuration((last.time - first.time) / 1000)} (${r.history.length} GCs)`);
  }
  if (r.snapshot) lines.push(r.snapshot.path ? `heap snapshot: ${r.snapshot.path}` : `heap snapshot: ${r.snapshot.skipped}`);
  return `${lines.join('\n')}\n`;
}

module.exports = { reportNearLimit, readReport, reportText, FORMAT };
