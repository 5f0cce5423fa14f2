'use strict';
// memwatch's HeapDiff: `new HeapDiff()` summarises the heap (after a full GC), `end()`
// summarises it again and returns what changed, per constructor, in memwatch's format; with
// `{ retainers: n }`, also how a GC root holds a new instance of each of the n classes that grew
// most; with `{ stacks: true }`, where the new objects of those classes were allocated. The
// summaries are the native side's compact id tables; no snapshot is held in between.

const native = require('./native.js');
const { checkOptions: checkOptionKeys } = require('./options.js');

/** Classes whose allocation stacks `stacks: true` reports, and stacks per class, frames each. */
const STACK_CLASSES = 5;
const STACKS_PER_CLASS = 3;
const STACK_DEPTH = 8;

/** Users of V8's allocation tracker in this isolate: it runs while there is at least one. */
let tracking = 0;

/** Starts V8's allocation tracker (shared by HeapDiffs and leak tests); returns its release. */
function trackAllocations() {
  if (tracking++ === 0) native.allocationTracking(true);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--tracking === 0) native.allocationTracking(false);
  };
}

function checkOptions(options) {
  const o = { retainers: null, stacks: false };
  checkOptionKeys('new memwatch.HeapDiff', options, ['retainers', 'stacks']);
  if (options === undefined) return o;
  const r = options.retainers;
  if (r !== undefined) {
    if (!Number.isInteger(r) || r < 0 || r > 50) throw new RangeError(`HeapDiff: "retainers" must be an integer from 0 to 50, got ${typeof r === 'number' ? r : `a ${typeof r}`}`);
    o.retainers = r;
  }
  if (options.stacks !== undefined) {
    if (typeof options.stacks !== 'boolean') throw new TypeError(`HeapDiff: "stacks" must be true or false, got a ${typeof options.stacks}`);
    o.stacks = options.stacks;
  }
  return o;
}

/** The classes that grew most (by bytes), at most `n`, from a diff's details. */
function grownClasses(result, n) {
  return result.change.details
    .filter((d) => d['+'] > 0 && d.size_bytes > 0)
    .sort((a, b) => b.size_bytes - a.size_bytes)
    .slice(0, n)
    .map((d) => d.what);
}

/** How many users the allocation tracker has now (tests). */
function trackingUsers() {
  return tracking;
}

// A HeapDiff with stacks that is dropped without end() (a test that throws between the two)
// must not leave V8's allocation tracker on for good (every allocation ~50x slower): its
// release runs when the HeapDiff is collected.
const dropped = new FinalizationRegistry((untrack) => untrack());

// `using hd = new HeapDiff(...)` (explicit resource management) ends its tracking at scope exit.
const DISPOSE = Symbol.dispose || Symbol.for('nodejs.dispose');

class HeapDiff {
  #before;
  #ended = false;
  /** null: no retainer paths asked for; a number (0 to 50): that many classes. */
  #retainers = null;
  /** While `stacks: true`: releases the allocation tracker. */
  #untrack = null;

  /**
   * `options.retainers` (0 to 50): for that many classes that grew most, `end()` adds
   * `retainers`: the shortest path from a GC root to the newest new instance.
   * `options.stacks`: V8's allocation tracker runs until `end()`, which adds `stacks`: where
   * the new objects of the classes that grew most were allocated.
   */
  constructor(options) {
    const o = checkOptions(options);
    this.#retainers = o.retainers;
    if (o.stacks) this.#untrack = trackAllocations();
    try {
      this.#before = native.takeHeapSummary();
    } catch (e) {
      if (this.#untrack) this.#untrack();
      throw e;
    }
    if (this.#untrack) dropped.register(this, this.#untrack, this);
  }

  /** Gives up a HeapDiff without a result: its allocation tracking stops and its summary goes. */
  [DISPOSE]() {
    if (this.#ended) return;
    this.#ended = true;
    this.#before = null;
    if (this.#untrack) {
      dropped.unregister(this);
      this.#untrack();
    }
  }

  end() {
    if (this.#ended) throw new Error('attempt to end() a HeapDiff that was already ended');
    this.#ended = true;
    const before = this.#before;
    this.#before = null;
    const untrack = this.#untrack;
    if (untrack) dropped.unregister(this);
    if (!this.#retainers && !untrack) {
      const result = native.diffHeapSummaries(before, native.takeHeapSummary());
      // Asked for with 0: the field is there (empty), as the options promise it.
      if (this.#retainers === 0) result.retainers = [];
      return result;
    }
    let after;
    try {
      after = native.takeHeapSummaryWithGraph();
    } finally {
      if (untrack) untrack();
    }
    const result = native.diffHeapSummaries(before, after);
    if (untrack) {
      const grown = grownClasses(result, STACK_CLASSES);
      result.stacks = native.heapDiffStacks(before, after, grown, STACKS_PER_CLASS, STACK_DEPTH, !this.#retainers);
    }
    if (this.#retainers === 0) result.retainers = [];
    else if (this.#retainers) {
      // The roots of what is new (no other new object holds them), with their parts: what
      // leaked at the top, before the Arrays and strings inside it.
      result.roots = native.heapDiffRoots(before, after, this.#retainers);
      result.retainers = native.heapDiffRetainers(before, after, grownClasses(result, this.#retainers));
    }
    // Code compiled in memory (ts-node, tsx, a test runner's transform): through node's own maps.
    return require('./livemaps.js').mapResult(result);
  }
}

module.exports = { HeapDiff, trackAllocations, trackingUsers, STACK_DEPTH };
