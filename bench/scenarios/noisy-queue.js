'use strict';
// CONTROL: a work queue whose length wanders randomly around a steady mean (bounded random
// walk), so the heap goes up and down with no trend.
const queue = [];
const MEAN = 20000;
const rand = require('./rand').seeded(12345);

module.exports = {
  kind: 'control',
  description: 'a noisy steady queue (length wanders around 20,000)',
  handle(ctx) {
    const pushBias = queue.length < MEAN ? 0.55 : 0.45;
    const burst = 1 + Math.floor(rand() * 40);
    if (rand() < pushBias) for (let i = 0; i < burst; i++) queue.push({ id: ctx.id, payload: `p${ctx.id}`.repeat(4) });
    else queue.splice(0, Math.min(queue.length, burst));
  },
};
