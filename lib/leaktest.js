'use strict';
// Leak tests for unit tests: `leakTest(fn)` runs `fn` many times and says which classes leak,
// `assertNoLeak(fn)` turns that into a test failure that names them. Not a profiler: it answers
// "does calling this leave objects behind, in proportion to the calls" and nothing else.
//
// How it decides. After `warmup` calls (JIT, lazy initialisation, caches filling), it takes a
// compact heap summary (the ids HeapDiff keeps, after a full GC), then `rounds` times: `k`
// calls, another summary. Per class it counts the objects allocated in each round that are still
// alive at the end of the round (new ids) minus those of the class that died (a bounded cache
// evicting as much as it adds nets zero). A class leaks when it is left behind in *every* round
// after the first, at least once per `1 / minPerCall` calls overall: one-off allocations
// (the first call of something, a cache reaching its bound) happen in one or two rounds, a leak
// in all of them. No timing, no byte thresholds: counts of objects, deterministic for a
// deterministic `fn`.

const assert = require('node:assert');
const native = require('./native.js');
const { trackAllocations, STACK_DEPTH } = require('./heapdiff.js');
const { checkOptions, describeValue } = require('./options.js');
const { formatSize } = native;

const DEFAULTS = Object.freeze({ iterations: 200, rounds: 4, warmup: 50, minPerCall: 0.02, retainers: 5, stacks: false, timeoutMs: 10_000 });

/** Our own objects each round leaves alive: the summary kept from the round before, a native
 * wrapper (its class) and the object napi ties to it. Counted out, so a clean `fn` nets zero. */
const OWN = { HeapSummary: 1, Object: 1 };

function checkInteger(fnName, name, value, min, max) {
  const text = `${fnName}: "${name}" must be an integer from ${min} to ${max}, got ${describeValue(value)}`;
  if (typeof value !== 'number') throw new TypeError(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(text);
}

const OPTION_NAMES = [...Object.keys(DEFAULTS), 'name'];

function parseOptions(fnName, options) {
  checkOptions(fnName, options, OPTION_NAMES);
  const o = { ...DEFAULTS, name: undefined, ...options };
  checkInteger(fnName, 'rounds', o.rounds, 2, 50);
  checkInteger(fnName, 'iterations', o.iterations, o.rounds, 10_000_000);
  checkInteger(fnName, 'warmup', o.warmup, 0, 10_000_000);
  checkInteger(fnName, 'retainers', o.retainers, 0, 50);
  checkInteger(fnName, 'timeoutMs', o.timeoutMs, 1, 2_147_483_647);
  if (typeof o.minPerCall !== 'number' || !(o.minPerCall > 0 && o.minPerCall <= 1000)) throw new RangeError(`${fnName}: "minPerCall" must be a number above 0 and at most 1000, got ${describeValue(o.minPerCall)}`);
  if (typeof o.stacks !== 'boolean') throw new TypeError(`${fnName}: "stacks" must be true or false, got ${describeValue(o.stacks)}`);
  if (o.name !== undefined && typeof o.name !== 'string') throw new TypeError(`${fnName}: "name" must be a string, got ${describeValue(o.name)}`);
  return o;
}

/** Runs `fn` `count` times, awaiting each result that is a promise; `fn`'s errors propagate. */
async function callTimes(fn, count, offset, o) {
  for (let i = 0; i < count; i++) {
    const r = fn(offset + i);
    if (r !== null && (typeof r === 'object' || typeof r === 'function') && typeof r.then === 'function') await settled(r, offset + i, o);
  }
}

/** `promise`, or a rejection naming the call when it has not settled within `o.timeoutMs`. */
function settled(promise, call, o) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${o.fnName}: call ${call} of ${o.name || 'the function'} did not settle within ${o.timeoutMs} ms (a promise that never resolves?); raise timeoutMs if it is only slow`));
    }, o.timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Lets what the calls scheduled run (resolved promises, cleared or immediate timers). */
function settle() {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

/** what -> net objects left behind (allocated minus freed) in one round's diff. */
function netByClass(diff) {
  const net = new Map();
  for (const d of diff.change.details) {
    const n = d['+'] - d['-'] - (OWN[d.what] || 0);
    if (n !== 0) net.set(d.what, n);
  }
  return net;
}

/**
 * Runs `fn` (sync or async) `warmup` times, then `iterations` times in `rounds` measured rounds,
 * and resolves to `{ leaked, iterations, classes, groups }`.
 */
async function leakTest(fn, options) {
  return run('memwatch.leakTest', fn, options);
}

async function run(fnName, fn, options) {
  if (typeof fn !== 'function') throw new TypeError(`${fnName}: the first argument must be the function to test, got ${describeValue(fn)}`);
  const o = parseOptions(fnName, options);
  o.fnName = fnName;
  if (o.name === undefined && fn.name) o.name = fn.name;
  await callTimes(fn, o.warmup, 0, o);
  await settle();
  // Filled in place: growing an array between summaries would itself be counted.
  const summaries = new Array(o.rounds + 1).fill(null);
  const perRound = Math.floor(o.iterations / o.rounds);
  summaries[0] = native.takeHeapSummary();
  let done = 0;
  for (let r = 1; r <= o.rounds; r++) {
    const k = r === o.rounds ? o.iterations - done : perRound;
    await callTimes(fn, k, o.warmup + done, o);
    done += k;
    await settle();
    summaries[r] = r === o.rounds ? native.takeHeapSummaryWithGraph() : native.takeHeapSummary();
  }
  const result = judge(summaries, o);
  if (o.stacks && result.leaked && result.groups.length) await addStacks(fn, o, perRound, o.warmup + done, result.groups);
  return result;
}

/**
 * One more round, under V8's allocation tracker, for the stacks of the leaking classes: new
 * objects of those classes alive after it, by the stack that allocated them. A round of its
 * own, with just the two snapshots around it: on node 22 the tracker stops recording the stacks
 * of objects allocated after a second snapshot is taken while it runs (rounds 2+ came back
 * stack-less), and the verdict needs no tracker (and runs faster without it).
 */
async function addStacks(fn, o, calls, offset, groups) {
  const untrack = trackAllocations();
  let stacks;
  try {
    const before = native.takeHeapSummary();
    await callTimes(fn, calls, offset, o);
    await settle();
    const after = native.takeHeapSummaryWithGraph();
    untrack();
    stacks = native.heapDiffStacks(before, after, groups.map((g) => g.what), 1, STACK_DEPTH, true);
  } finally {
    untrack();
  }
  for (const g of groups) g.stack = stacks.find((x) => x.what === g.what) || null;
  require('./livemaps.js').mapResult({ stacks });
}

/** What V8 makes on its own while code runs: its compilers tier functions up over thousands of
 * calls (Sparkplug, Maglev, TurboFan), so machine code can grow in every round of a clean
 * function. A program cannot leak code without leaking the closures that own it, which count. */
const NOT_LEAKS = new Set(['Code']);

function judge(summaries, o) {
  const rounds = summaries.length - 1;
  const nets = [];
  for (let r = 1; r <= rounds; r++) nets.push(netByClass(native.diffHeapSummaries(summaries[r - 1], summaries[r])));
  const total = native.diffHeapSummaries(summaries[0], summaries[rounds]);
  const laterCalls = o.iterations - Math.floor(o.iterations / o.rounds);
  const classes = [];
  for (const d of total.change.details) {
    if (NOT_LEAKS.has(d.what)) continue;
    const later = nets.slice(1).map((m) => m.get(d.what) || 0);
    const leftBehind = later.reduce((a, b) => a + b, 0);
    if (!later.every((n) => n > 0) || leftBehind < o.minPerCall * laterCalls) continue;
    // Alive at the end and allocated since the first summary, less the summaries we keep.
    const count = d['+'] - rounds * (OWN[d.what] || 0);
    classes.push({ what: d.what, count, bytes: d.size_bytes, perIteration: round3(leftBehind / laterCalls) });
  }
  classes.sort((a, b) => b.bytes - a.bytes || b.count - a.count);
  let groups = [];
  const [first, last] = [summaries[0], summaries[rounds]];
  // The leak's roots: new objects of the leaking classes that no other new object holds, each
  // with what it holds (its parts), heaviest first. They lead the report; their parts are
  // their composition, not leaks of their own.
  let roots = [];
  if (classes.length) {
    const leaking = new Set(classes.map((c) => c.what));
    roots = native
      .heapDiffRoots(first, last, 20)
      .filter((r) => leaking.has(r.what) && r.count > 0)
      .map((r) => ({ ...r, perIteration: round3(r.count / o.iterations) }));
  }
  const want = [...new Set([...roots.map((r) => r.what), ...classes.map((c) => c.what)])].slice(0, o.retainers);
  if (want.length) {
    groups = native.heapDiffRetainers(first, last, want).map((s) => {
      const c = classes.find((x) => x.what === s.what);
      return { what: s.what, count: c ? c.count : 0, path: shortPath(s.path), location: s.location, steps: s.steps };
    });
  }
  // Code compiled in memory (ts-node, tsx, a test runner's transform): through node's own maps.
  return require('./livemaps.js').mapResult({ leaked: classes.length > 0, iterations: o.iterations, classes, roots, groups });
}

/** A retainer path without its last, always-same hops (`<- [7] in (GC roots) <- [1] in (root)`). */
function shortPath(path) {
  return path.replace(/ <- \S+ in \(GC roots\)(?: @\d+)? <- \S+ in \(root\)(?: @\d+)?$/, '');
}

/** A stack's text without its count and without the frames of this module (callTimes and the
 * leak test itself, through which every call of `fn` comes). */
function ownFramesOnly(text) {
  const cut = text.indexOf(` <- ${callTimes.name} (`);
  return (cut >= 0 ? text.slice(0, cut) : text).replace(/^\+\d+ /, '');
}

/** A class as a person names it: a closure by its function (`onTick()`), else its class. */
function label(what, group) {
  // Steps run root first: the last is the object itself.
  return what === 'Closure' && group && group.steps.length ? group.steps[group.steps.length - 1].className : what;
}

function round3(x) {
  return Math.round(x * 1000) / 1000;
}

/** `checkout leaks 1 SessionRecord (48 bytes) per call: 200 calls left 200 alive, held by ...`. */
/** A name from the heap on one line: its line breaks escaped (the message's own stay). */
function oneLine(text) {
  return String(text).replace(/\r/g, '\\r').replace(/\n/g, '\\n').replace(/\u2028/g, '\\u{2028}').replace(/\u2029/g, '\\u{2029}');
}

/**
 * The AssertionError's message. Names come from the heap, that is from the program: each is kept
 * on its line, and the whole shows control characters as escapes (`\x1b`), as the CLI's text
 * does, so an object key holding ESC or BEL cannot steer the test runner's terminal.
 */
function failureMessage(name, result) {
  return native.terminalSafe(failureLines(oneLine(name), result));
}

function failureLines(name, result) {
  const lines = [];
  const roots = result.roots || [];
  // Classes that are a root's parts are its composition, said with it.
  const covered = new Set(roots.flatMap((r) => [r.what, ...r.parts.map((p) => p.what)]));
  for (const [i, r] of roots.entries()) {
    const group = result.groups.find((g) => g.what === r.what);
    const what = oneLine(r.label);
    const each = formatSize(Math.round(r.bytes / r.count));
    const shown = r.parts.slice(0, 3).map((p) => `${formatCount(p.count / r.count)} ${oneLine(p.what)}`);
    if (r.parts.length > 3) shown.push('...');
    const parts = shown.length ? ` with its ${shown.join(', ')}` : '';
    const per = r.perIteration;
    const rate = per >= 1 ? `${formatCount(per)} ${what} (${each}${parts}) per call` : `1 ${what} (${each}${parts}) every ${formatCount(1 / per)} calls`;
    const where = r.location ? `; ${what} is at ${oneLine(r.location.script)}:${r.location.line}:${r.location.column}` : '';
    const held = group ? `, held by ${oneLine(group.path)}` : '';
    if (i === 0) lines.push(`${name} leaks ${rate}: ${result.iterations} calls left ${r.count} alive${held}${where}`);
    else lines.push(`  also ${rate}: ${r.count} alive${held}${where}`);
    if (group && group.stack) lines.push(`  ${oneLine(ownFramesOnly(group.stack.text))}`);
  }
  const restClasses = result.classes.filter((c) => !covered.has(c.what));
  if (!roots.length) {
    const [top] = restClasses;
    const group = result.groups.find((g) => g.what === top.what);
    const what = oneLine(label(top.what, group));
    const per = top.perIteration;
    const each = formatSize(Math.round(top.count > 0 ? top.bytes / top.count : top.bytes));
    const rate = per >= 1 ? `${formatCount(per)} ${what} (${each}) per call` : `1 ${what} (${each}) every ${formatCount(1 / per)} calls`;
    let head = `${name} leaks ${rate}: ${result.iterations} calls left ${top.count} alive`;
    if (group) head += `, held by ${oneLine(group.path)}${group.location ? `; ${what} is at ${oneLine(group.location)}` : ''}`;
    lines.push(head);
    if (group && group.stack) lines.push(`  ${oneLine(ownFramesOnly(group.stack.text))}`);
    restClasses.shift();
  }
  for (const c of restClasses) {
    const g = result.groups.find((x) => x.what === c.what);
    const where = g ? `, held by ${oneLine(g.path)}${g.location ? `; at ${oneLine(g.location)}` : ''}` : '';
    lines.push(`  also ${formatCount(c.perIteration)} ${oneLine(label(c.what, g))} per call (${c.count} alive, ${formatSize(c.bytes)})${where}`);
  }
  return lines.join('\n');
}

function formatCount(x) {
  return String(Math.round(x * 100) / 100);
}

/** Resolves when `fn` leaks nothing; rejects with an AssertionError naming what leaks and where. */
async function assertNoLeak(fn, options) {
  const result = await run('memwatch.assertNoLeak', fn, options);
  if (!result.leaked) return result;
  const name = (options && options.name) || (fn.name ? fn.name : 'the function');
  throw new assert.AssertionError({
    message: failureMessage(name, result),
    actual: result.classes,
    expected: [],
    operator: 'assertNoLeak',
    stackStartFn: assertNoLeak,
  });
}

module.exports = { leakTest, assertNoLeak, LEAK_TEST_DEFAULTS: DEFAULTS };
