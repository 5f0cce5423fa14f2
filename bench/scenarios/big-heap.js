'use strict';
// CONTROL: a large, steady heap: ~300 MB of reference data loaded at start (a big in-memory
// index), then ordinary requests. Full GCs are rarer and each one sees a heap dominated by the
// static data, with the request churn on top.
const index = [];
for (let i = 0; i < 1500000; i++) index.push({ id: i, key: `item-${i}`, score: i % 997, tags: [i % 13, i % 7] });

module.exports = {
  kind: 'control',
  description: 'a 300 MB steady heap (big in-memory index) under load',
  handle(ctx) {
    const hit = index[(ctx.id * 7919) % index.length];
    return { key: hit.key, score: hit.score };
  },
};
