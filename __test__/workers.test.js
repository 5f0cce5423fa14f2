'use strict';
// Each worker isolate has its own hook and stats; workers that end in any way while listening
// must not crash the process or leave a hook behind.
const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { Worker } = require('node:worker_threads');

const memwatch = require('..');
const { nextEvent } = require('./helpers');

const WORKER = path.join(__dirname, 'fixtures', 'stats-worker.js');

function runWorker(mode) {
  return new Promise((resolve) => {
    const messages = [];
    const w = new Worker(WORKER, { workerData: { mode } });
    let error = null;
    w.on('message', (m) => {
      messages.push(m);
      if (m === 'ready' && mode === 'terminate') w.terminate();
    });
    w.on('error', (e) => (error = e));
    w.on('exit', (code) => resolve({ code, messages, error }));
  });
}

test('stats arrive inside a worker, counted separately from the main thread', async () => {
  const { code, messages, error } = await runWorker('report');
  assert.strictEqual(error, null);
  assert.strictEqual(code, 0);
  const stats = messages.filter((m) => typeof m === 'object');
  assert.ok(stats.length >= 2, `worker saw ${stats.length} stats events`);
  assert.strictEqual(stats[0].num_full_gc, 2, "a fresh isolate counts its own: its first gc() (V8's two full GCs) reports 2, not the main thread's count");
  assert.ok(stats[0].current_base > 0);
});

test('50 worker lifecycles across exit, throw, process.exit and terminate', async () => {
  const modes = ['exit', 'throw', 'process.exit', 'terminate'];
  const outcomes = {};
  for (let i = 0; i < 50; i++) {
    const mode = modes[i % modes.length];
    const r = await runWorker(mode);
    outcomes[mode] = outcomes[mode] || [];
    outcomes[mode].push(r.code);
    if (mode === 'throw') assert.match(String(r.error), /worker boom/);
    else assert.strictEqual(r.error, null, `${mode}: ${r.error}`);
  }
  assert.ok(outcomes.exit.every((c) => c === 0));
  assert.ok(outcomes['process.exit'].every((c) => c === 7));
  assert.ok(outcomes.terminate.every((c) => c === 1));
  assert.ok(outcomes.throw.every((c) => c === 1));
  // The main thread's monitor is untouched by all of that.
  const s = nextEvent(memwatch, 'stats');
  memwatch.gc();
  assert.ok((await s).num_full_gc >= 1);
});
