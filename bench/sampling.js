#!/usr/bin/env node
'use strict';
// CPU cost of allocation sampling (`allocationSamplingBytes`): a request-like allocation loop
// (short-lived objects, a bounded medium-lived ring, natural GCs only) timed in fresh processes
// with a 'leak' listener and sampling off (the anchor), and with sampling at each interval,
// alternating; prints the median slowdown of each against the anchor of the same run.
//
//   node bench/sampling.js [--rounds 7] [--iterations 40000000] [--intervals 524288,131072]
const { median, runJson, arg } = require('./lib/stats');

if (process.argv[2] === '--child') {
  const memwatch = require('..');
  const interval = Number(process.argv[3]);
  const iterations = Number(process.argv[4]);
  memwatch.setOptions({ allocationSamplingBytes: interval });
  memwatch.on('leak', () => {});
  const ring = new Array(20000);
  function request(i) {
    const body = { id: i, path: `/items/${i % 1000}`, headers: { a: 'x', b: i }, parts: [i, i + 1, i + 2] };
    if (i % 10 === 0) ring[i % ring.length] = body; // medium-lived
    return body.parts.length + body.path.length;
  }
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink += request(i);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(JSON.stringify({ ms, sink }));
  process.exit(0);
}

const rounds = Number(arg('rounds', 7));
const iterations = String(arg('iterations', 40000000));
const intervals = String(arg('intervals', '524288,131072')).split(',').map(Number);
const times = new Map([[0, []], ...intervals.map((i) => [i, []])]);
for (let r = 0; r < rounds; r++) {
  for (const interval of times.keys()) times.get(interval).push(runJson(__filename, ['--child', String(interval), iterations]).ms);
}
const anchor = median(times.get(0));
console.log(`allocation sampling, node ${process.version}, ${rounds} rounds of ${iterations} requests, medians`);
console.log(`  off (anchor): ${anchor.toFixed(0)} ms`);
for (const interval of intervals) {
  const m = median(times.get(interval));
  console.log(`  every ${interval} B: ${m.toFixed(0)} ms, ${((m / anchor - 1) * 100).toFixed(2)}% vs off`);
}
