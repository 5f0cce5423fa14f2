'use strict';
// memwatch's HeapDiff: `new HeapDiff()` summarises the heap (after a full GC), `end()`
// summarises it again and returns what changed, per constructor, in memwatch's format; with
// `{ retainers: n }`, also how a GC root holds a new instance of each of the n classes that grew
// most. The summaries are the native side's compact id tables; no snapshot is held in between.

const native = require('./native.js');

class HeapDiff {
  #before;
  #ended = false;
  /** null: no retainer paths asked for; a number (0 to 50): that many classes. */
  #retainers = null;

  /**
   * `options.retainers` (0 to 50): for that many classes that grew most, `end()` adds
   * `retainers`: the shortest path from a GC root to the newest new instance.
   */
  constructor(options) {
    if (options !== undefined) {
      if (options === null || typeof options !== 'object') throw new TypeError('HeapDiff: options must be an object, e.g. { retainers: 3 }');
      const r = options.retainers;
      if (r !== undefined) {
        if (!Number.isInteger(r) || r < 0 || r > 50) throw new RangeError('HeapDiff: "retainers" must be an integer from 0 to 50');
        this.#retainers = r;
      }
    }
    this.#before = native.takeHeapSummary();
  }

  end() {
    if (this.#ended) throw new Error('attempt to end() a HeapDiff that was already ended');
    this.#ended = true;
    const before = this.#before;
    this.#before = null;
    if (!this.#retainers) {
      const result = native.diffHeapSummaries(before, native.takeHeapSummary());
      // Asked for with 0: the field is there (empty), as the options promise it.
      if (this.#retainers === 0) result.retainers = [];
      return result;
    }
    const after = native.takeHeapSummaryWithGraph();
    const result = native.diffHeapSummaries(before, after);
    const grown = result.change.details
      .filter((d) => d['+'] > 0 && d.size_bytes > 0)
      .sort((a, b) => b.size_bytes - a.size_bytes)
      .slice(0, this.#retainers)
      .map((d) => d.what);
    result.retainers = native.heapDiffRetainers(before, after, grown);
    return result;
  }
}

module.exports = { HeapDiff };
