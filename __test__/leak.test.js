'use strict';
// The 'leak' event, deterministic: batches of retained objects with memwatch.gc() between them
// (the pattern of a test harness). The natural-GC scenarios live in bench/scenarios
// (`npm run scenarios`), because they take minutes.
const test = require('node:test');
const assert = require('node:assert');
const v8 = require('node:v8');

const memwatch = require('..');
const { settle } = require('./helpers');

class Retained {
  constructor(i) {
    this.i = i;
    this.label = `retained-${i}`;
  }
}

function used() {
  return v8.getHeapStatistics().used_heap_size;
}

/** Runs `rounds` of (allocate a batch, gc()), recording 'leak' events and the heap after each gc(). */
async function harness(rounds, batch, keepBatches) {
  const leaks = [];
  const onLeak = (info) => leaks.push({ info, round: current });
  let current = 0;
  const kept = [];
  memwatch.on('leak', onLeak);
  const bases = [];
  try {
    memwatch.gc();
    bases.push(used());
    await settle(20);
    for (current = 1; current <= rounds; current++) {
      const objs = [];
      for (let i = 0; i < batch; i++) objs.push(new Retained(i));
      if (keepBatches) kept.push(objs);
      memwatch.gc();
      bases.push(used());
      await settle(20);
    }
  } finally {
    memwatch.removeListener('leak', onLeak);
  }
  return { leaks, bases, kept };
}

test('a harness leaking between gc() calls gets exactly one leak, on the 5th growth', async () => {
  // No extra samples: this is the bare rule, one sample per gc() call.
  memwatch.setOptions({ sampleGrowthPercent: 0 });
  try {
    const { leaks, bases } = await harness(7, 20000, true);
    assert.strictEqual(leaks.length, 1, `leak events: ${leaks.length}`);
    const { info, round } = leaks[0];
    assert.strictEqual(round, 5, 'fired after the 5th leaking batch, not before');
    assert.ok(info.start instanceof Date && info.end instanceof Date);
    assert.ok(info.start <= info.end);
    assert.ok(info.end.getTime() <= Date.now() && Date.now() - info.end.getTime() < 60000);
    // growth spans the streak: from the heap after batch 1 to the heap after batch 5.
    const retained = bases[5] - bases[1];
    assert.ok(retained > 4 * 20000 * 32, `retained ${retained}`);
    assert.ok(Math.abs(info.growth - retained) <= 0.1 * retained, `growth ${info.growth} vs retained ${retained}`);
    assert.match(info.reason, /^heap growth over 5 consecutive GCs \((\d+h )?(\d+m )?\d+s\) - -?[\d.]+ (bytes|kb|mb)\/hr$/);
  } finally {
    memwatch.setOptions({ sampleGrowthPercent: 25 });
  }
});

test('with default options the harness is caught within 5 gc() calls', async () => {
  const { leaks } = await harness(5, 20000, true);
  assert.ok(leaks.length >= 1, 'caught');
});

test('a loop of the same length that keeps nothing raises no leak', async () => {
  const { leaks } = await harness(12, 20000, false);
  assert.strictEqual(leaks.length, 0);
});

test('consecutiveGrowths is honoured and named in the reason', async () => {
  memwatch.setOptions({ consecutiveGrowths: 3, sampleGrowthPercent: 0 });
  try {
    const { leaks } = await harness(4, 20000, true);
    assert.strictEqual(leaks.length, 1);
    assert.strictEqual(leaks[0].round, 3);
    assert.match(leaks[0].info.reason, /^heap growth over 3 consecutive GCs/);
  } finally {
    memwatch.setOptions({ consecutiveGrowths: 5, sampleGrowthPercent: 25 });
  }
});

test('HeapDiff GCs do not feed the leak detector', async () => {
  memwatch.setOptions({ sampleGrowthPercent: 0 });
  const leaks = [];
  const onLeak = (info) => leaks.push(info);
  memwatch.on('leak', onLeak);
  const kept = [];
  try {
    memwatch.gc();
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 20000; i++) kept.push(new Retained(i));
      memwatch.gc();
      // Each HeapDiff runs several full GCs of a growing heap; none may count.
      new memwatch.HeapDiff().end();
      await settle(20);
    }
    assert.strictEqual(leaks.length, 0, '4 growths plus HeapDiff GCs are not 5 growths');
  } finally {
    memwatch.removeListener('leak', onLeak);
    memwatch.setOptions({ sampleGrowthPercent: 25 });
  }
});
