#!/usr/bin/env node
'use strict';
// Leak tests: what assertNoLeak costs, and how right it is, against leakage's method (the leak
// test most memwatch users had: a HeapDiff after each of 6 rounds of 30 calls, failing when more
// than 4 rounds grew the heap by over 1 kB), reimplemented here on memwatch-rs's own HeapDiff
// and run in the same run on the same inputs.
//
//   node bench/leaktest.js [--runs 3] [--sizes 10000,100000,1000000] [--no-corpus]
//
// Part 1: time of one assertNoLeak of a small handler, at 100 and 1,000 iterations, with 10k,
// 100k and 1M other live objects on the heap; leakage's method beside it. Each in a fresh process.
// Part 2: both methods over the corpus (__test__/fixtures/leak-corpus.js), each case in a fresh
// process, --runs times: leaks caught, false positives.
const path = require('node:path');
const { median, runJson, fmt, arg } = require('./lib/stats');

const CORPUS = path.join(__dirname, '..', '__test__', 'fixtures', 'leak-corpus.js');

/** leakage's method on our HeapDiff: 6 rounds of 30 calls; a leak if > 4 rounds grew > 1 kB. */
async function leakageMethod(memwatch, fn) {
  let growing = 0;
  for (let round = 0; round < 6; round++) {
    const hd = new memwatch.HeapDiff();
    for (let i = 0; i < 30; i++) {
      const r = fn(round * 30 + i);
      if (r && typeof r.then === 'function') await r;
    }
    if (hd.end().change.size_bytes > 1024) growing++;
  }
  return growing > 4;
}

if (process.argv[2] === '--child') {
  const memwatch = require(path.join(__dirname, '..'));
  const [what, method, a, b] = process.argv.slice(3);
  (async () => {
    if (what === 'time') {
      // A heap of `a` other live objects, then a small clean handler tested with `b` iterations.
      const others = Array.from({ length: Number(a) }, (_, i) => ({ i, s: `o${i % 1000}` }));
      const cache = new Map();
      const handler = async (i) => {
        const req = { id: i, path: `/x/${i % 10}` };
        cache.set(i % 50, req);
        await null;
        return req.path.length;
      };
      const t = process.hrtime.bigint();
      if (method === 'ours') await memwatch.assertNoLeak(handler, { iterations: Number(b) });
      else await leakageMethod(memwatch, handler);
      console.log(JSON.stringify({ ms: Number(process.hrtime.bigint() - t) / 1e6, others: others.length }));
    } else {
      const corpus = require(CORPUS);
      const fn = corpus.CLEAN[a] || corpus.LEAKING[a].fn;
      let leaked;
      let named = false;
      // console.log's output must not reach the parent's JSON line.
      if (a === 'console.log') console.log = (...args) => process.stderr.write(`${args.join(' ')}\n`);
      if (method === 'ours') {
        const r = await memwatch.leakTest(fn);
        leaked = r.leaked;
        const want = corpus.LEAKING[a] && corpus.LEAKING[a].what;
        named = Boolean(want) && r.groups.some((g) => g.what === want || (g.steps.length && g.steps[g.steps.length - 1].className === want));
      } else {
        leaked = await leakageMethod(memwatch, fn);
      }
      corpus.cleanUp();
      process.stdout.write(`${JSON.stringify({ leaked, named })}\n`);
    }
  })();
  return;
}

const runs = Number(arg('runs', 3));
const sizes = arg('sizes', '10000,100000,1000000').split(',').map(Number);
const child = (...args) => runJson(__filename, ['--child', ...args.map(String)]);

console.log(`node ${process.version}; medians of ${runs} runs, each in a fresh process\n`);
console.log('| other live objects | assertNoLeak, 100 iterations | assertNoLeak, 1,000 iterations | leakage\'s method (180 calls) | ours at 100 / leakage |');
console.log('|---|---|---|---|---|');
for (const size of sizes) {
  const t = { o100: [], o1000: [], leakage: [] };
  for (let r = 0; r < runs; r++) {
    t.o100.push(child('time', 'ours', size, 100).ms);
    t.o1000.push(child('time', 'ours', size, 1000).ms);
    t.leakage.push(child('time', 'leakage', size, 0).ms);
  }
  const ratio = median(t.o100.map((x, i) => x / t.leakage[i]));
  console.log(`| ${size.toLocaleString('en')} | ${fmt(median(t.o100) / 1000, 2)} s | ${fmt(median(t.o1000) / 1000, 2)} s | ${fmt(median(t.leakage) / 1000, 2)} s | ${fmt(ratio, 2)}x |`);
}

if (!process.argv.includes('--no-corpus')) {
  const corpus = require(CORPUS);
  const cases = [...Object.keys(corpus.LEAKING).map((n) => [n, true]), ...Object.keys(corpus.CLEAN).map((n) => [n, false])];
  corpus.cleanUp();
  const score = { ours: { caught: 0, named: 0, fp: 0 }, leakage: { caught: 0, fp: 0 } };
  console.log(`\n| corpus case (${runs} runs each) | leaks? | memwatch-rs leakTest | leakage's method |`);
  console.log('|---|---|---|---|');
  for (const [name, leaks] of cases) {
    const ours = [];
    const theirs = [];
    for (let r = 0; r < runs; r++) {
      ours.push(child('corpus', 'ours', name));
      theirs.push(child('corpus', 'leakage', name));
    }
    const say = (results, s, withName) => {
      const hits = results.filter((x) => x.leaked).length;
      if (leaks) {
        s.caught += hits;
        if (withName) s.named += results.filter((x) => x.named).length;
        return `${hits}/${runs} caught${withName ? `, ${results.filter((x) => x.named).length}/${runs} named` : ''}`;
      }
      s.fp += hits;
      return hits ? `**${hits}/${runs} false positives**` : `0/${runs} false positives`;
    };
    console.log(`| ${name} | ${leaks ? 'yes' : 'no'} | ${say(ours, score.ours, true)} | ${say(theirs, score.leakage, false)} |`);
  }
  const leaking = Object.keys(corpus.LEAKING).length * runs;
  const clean = Object.keys(corpus.CLEAN).length * runs;
  console.log(`| **all** | | caught ${score.ours.caught}/${leaking}, named ${score.ours.named}/${leaking}, false positives ${score.ours.fp}/${clean} | caught ${score.leakage.caught}/${leaking}, false positives ${score.leakage.fp}/${clean} |`);
}
