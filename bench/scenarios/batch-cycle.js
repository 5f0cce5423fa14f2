'use strict';
// CONTROL (trap): a batch job on a cycle. Every 20 s a bulk load accumulates rows for 14 s,
// then the batch is flushed and dropped: the heap rises for seconds and falls back.
let batch = [];
const CYCLE_MS = 20000;
const started = Date.now();

module.exports = {
  kind: 'control',
  description: 'a batch cycle: rows accumulate for 14 s of every 20 s, then are dropped',
  handle(ctx) {
    const phase = (Date.now() - started) % CYCLE_MS;
    if (phase < 14000) batch.push({ id: ctx.id, row: `row-${ctx.id}`.repeat(6) });
    else if (batch.length) batch = [];
  },
};
