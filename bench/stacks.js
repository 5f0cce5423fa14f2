#!/usr/bin/env node
'use strict';
// Allocation stacks' cost: how much slower the code between `new HeapDiff({ stacks: true })`
// and `end()` runs, against the same code between a plain `new HeapDiff()` and `end()` (the
// anchor, measured in the same run), and the same for leakTest({ stacks: true }) against
// leakTest(). Each measurement in a fresh process, alternating, medians of per-round ratios.
//
//   node bench/stacks.js [--rounds 5] [--requests 20000]
const path = require('node:path');
const { median, runJson, fmt, arg } = require('./lib/stats');

const rounds = Number(arg('rounds', 5));
const requests = Number(arg('requests', 20000));

// The child: a request-handler-like workload (objects, arrays, strings, closures; one record in
// ten kept), timed between new and end() only.
if (process.argv[2] === '--child') {
  const memwatch = require(path.join(__dirname, '..'));
  const [mode, n] = [process.argv[3], Number(process.argv[4])];
  const kept = [];
  function parse(i) {
    return { id: i, path: `/items/${i}`, query: { page: i % 7, tags: ['a', 'b', String(i % 13)] } };
  }
  function handle(i) {
    const req = parse(i);
    const body = JSON.stringify({ ok: true, items: req.query.tags.map((t) => ({ t, n: req.id })) });
    if (i % 10 === 0) kept.push({ req, size: body.length, done: () => req.id });
    return body.length;
  }
  const work = (count) => {
    let total = 0;
    for (let i = 0; i < count; i++) total += handle(i);
    return total;
  };
  (async () => {
    let ms;
    if (mode === 'heapdiff' || mode === 'heapdiff-stacks') {
      const hd = new memwatch.HeapDiff(mode === 'heapdiff-stacks' ? { stacks: true } : undefined);
      const t = process.hrtime.bigint();
      work(n);
      ms = Number(process.hrtime.bigint() - t) / 1e6;
      hd.end();
    } else {
      const t = process.hrtime.bigint();
      await memwatch.leakTest(() => work(n / 250), { iterations: 200, warmup: 50, stacks: mode === 'leaktest-stacks' });
      ms = Number(process.hrtime.bigint() - t) / 1e6;
    }
    console.log(JSON.stringify({ ms }));
  })();
  return;
}

const modes = ['heapdiff', 'heapdiff-stacks', 'leaktest', 'leaktest-stacks'];
const times = Object.fromEntries(modes.map((m) => [m, []]));
for (let r = 0; r < rounds; r++) {
  for (const m of r % 2 ? [...modes].reverse() : modes) times[m].push(runJson(__filename, ['--child', m, String(requests)]).ms);
  console.error(`round ${r + 1}: ${modes.map((m) => `${m} ${fmt(times[m][r], 0)} ms`).join(', ')}`);
}
const ratio = (a, b) => median(times[a].map((t, i) => t / times[b][i]));
console.log(`\n${requests} requests between new and end(), ${rounds} rounds, node ${process.version}`);
console.log('| what | median time | vs the anchor (median of per-round ratios) |');
console.log('|---|---|---|');
console.log(`| HeapDiff() (anchor) | ${fmt(median(times.heapdiff), 0)} ms | 1 |`);
console.log(`| HeapDiff({ stacks: true }) | ${fmt(median(times['heapdiff-stacks']), 0)} ms | ${fmt(ratio('heapdiff-stacks', 'heapdiff'), 2)}x |`);
console.log(`| leakTest() (anchor, whole test) | ${fmt(median(times.leaktest), 0)} ms | 1 |`);
console.log(`| leakTest({ stacks: true }) | ${fmt(median(times['leaktest-stacks']), 0)} ms | ${fmt(ratio('leaktest-stacks', 'leaktest'), 2)}x |`);
