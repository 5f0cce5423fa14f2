#!/usr/bin/env node
'use strict';
// What `exactSites` costs and gives, replayed on the recorded post-GC series of
// crates/memwatch-core/fixtures/series (live services with churn, as the replay harness uses them):
// - controls: each series played once, then its second half back and forth for --hours; the
//   share of the time inlining was off (each minute of it costs ~10% CPU per request, see
//   docs/benchmarks.md), and the spells per hour;
// - leaks: a linear leak of --rates (% of the series' median heap per minute) injected at each of
//   --starts minutes; the 'leak' detector (the default trend settings) and the suspicion run side
//   by side: how long before the 'leak' inlining went off (its lead), and in how many leaks the
//   lead was at least a minute (sites count only samples a minute old, so a shorter lead leaves
//   the first 'leak' with the caller's name).
// - the switch: what turning inlining off and on (each a deoptimisation of everything) takes in
//   this process with TypeScript's compiler loaded and warm, median of --switches.
//   node bench/inlining.js [--hours 6] [--rates 0.5,1,2,5,10] [--starts 10,25,40] [--switches 9]
const fs = require('node:fs');
const path = require('node:path');
const native = require('../lib/native.js');
const { InliningPolicy, setInlining } = require('../lib/inlining.js');
const { arg } = require('./lib/stats');

const DIR = path.join(__dirname, '..', 'crates', 'memwatch-core', 'fixtures', 'series');
const hours = Number(arg('hours', 6));
const rates = String(arg('rates', '0.5,1,2,5,10')).split(',').map(Number);
const starts = String(arg('starts', '10,25,40')).split(',').map(Number);
const MIN = 60000;
// Other suspicion settings to try (lib/inlining.js SUSPECT otherwise), e.g. --suspect '{"noiseFactor":2}'.
const suspect = JSON.parse(arg('suspect', '{}'));

function load(file) {
  const points = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const [t, v] = line.trim().split(/\s+/).map(Number);
    points.push([t, v]);
  }
  return points;
}

// As memwatch_core::replay::Series::extended: once, then the second half back and forth.
function extended(points, durationMs) {
  const out = points.slice();
  const half = points.slice(Math.floor(points.length / 2));
  let forward = false;
  while (out[out.length - 1][0] < durationMs) {
    const seq = forward ? half : half.slice().reverse();
    let t = out[out.length - 1][0];
    for (let i = 1; i < seq.length; i++) {
      t += Math.max(1, Math.abs(seq[i][0] - seq[i - 1][0]));
      out.push([t, seq[i][1]]);
    }
    forward = !forward;
  }
  return out.filter((p) => p[0] <= durationMs);
}

const median = (xs) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};

function leakDetector() {
  return new native.SeriesWatch({ windowMs: 20000, warmupMs: 180000, minGrowthPercent: 3, minGrowth: 0, reminderMs: 0 });
}

const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.txt'));
let controlMs = 0;
let offMs = 0;
let spells = 0;
const controlRows = [];
const shares = [];
const byRate = {};
let named = 0;
let leaksSeen = 0;
let leaksRun = 0;
const began = Date.now();
for (const file of files) {
  const base = load(path.join(DIR, file));
  const t0 = base[0][0];
  const points = base.map(([t, v]) => [t - t0, v]);
  const mid = median(points.map((p) => p[1]));
  // Control.
  const control = extended(points, hours * 3600000);
  const policy = new InliningPolicy(() => true, { suspect });
  let now = 0;
  for (const [t, v] of control) policy.observe(v, (now = t));
  policy.restore(now, 'reset');
  controlMs += now;
  offMs += policy.offMs;
  spells += policy.switches;
  controlRows.push(`${file.replace('.txt', '').padEnd(14)} ${((100 * policy.offMs) / now).toFixed(2).padStart(6)}%  ${policy.switches} spells${policy.firstSpell ? `, the first from ${(policy.firstSpell / 1000).toFixed(0)} s` : ''}`);
  // Leaks.
  for (const rate of rates) {
    for (const startMin of starts) {
      const startMs = startMin * MIN;
      const run = extended(points, startMs + 60 * MIN);
      const p = new InliningPolicy(() => true, { suspect });
      const d = leakDetector();
      let offAt = null;
      let leakAt = null;
      leaksRun++;
      let report = null;
      for (const [t, v] of run) {
        const added = t > startMs ? ((t - startMs) / MIN) * (rate / 100) * mid : 0;
        p.observe(v + added, t);
        report = d.observe(v + added, t);
        if (report) break;
      }
      if (!report) continue;
      leaksSeen++;
      // The samples the first 'leak' counts for its sites (memwatch_core::sites): from the
      // window's start (two minutes before its end at least) to a minute before its end. The
      // leaking function is named when the samples taken without inlining are a tenth of the
      // caller's at least: then at least 1/11 of that span.
      const from = Math.min(report.start, report.end - 2 * MIN);
      const to = report.end - MIN;
      let offInside = 0;
      for (const [a, b] of p.recent) offInside += Math.max(0, Math.min(b === null ? report.end : b, to) - Math.max(a, from));
      const share = offInside / (to - from);
      shares.push(share);
      if (share >= 1 / 11) named++;
      byRate[rate] = byRate[rate] || [0, 0];
      byRate[rate][1]++;
      if (share >= 1 / 11) byRate[rate][0]++;
      if (process.env.DEBUG) console.log(file, rate, startMin, 'window', (from - startMs) / 1000, (to - startMs) / 1000, 'spells', JSON.stringify(p.recent.map(([a, b]) => [(a - startMs) / 1000, b && (b - startMs) / 1000])), 'share', share.toFixed(2));
    }
  }
}
console.log(`exactSites replayed on ${files.length} recorded series, ${hours} h of control each (${((Date.now() - began) / 1000).toFixed(1)} s)`);
console.log(`controls: inlining off ${((100 * offMs) / controlMs).toFixed(2)}% of ${(controlMs / 3600000).toFixed(0)} hours, ${(spells / (controlMs / 3600000)).toFixed(2)} spells per hour`);
for (const row of controlRows) console.log(`  ${row}`);
console.log(`leaks (${rates.join(', ')} %/min, from minute ${starts.join(', ')}): ${leaksSeen} of ${leaksRun} caught within an hour;`);
console.log(`  named by rate: ${rates.map((r) => `${r}%/min ${byRate[r] ? `${byRate[r][0]}/${byRate[r][1]}` : '-'}`).join(', ')}`);
console.log(`  share of the first 'leak''s sampled span with inlining off: median ${(100 * median(shares)).toFixed(0)}%; at least 1/11 (the leaking function named) in ${named} of ${leaksSeen}`);

// The switch: V8 walks the whole heap for each (coverage mode changes), on the main thread, so
// it is timed in processes holding 10 to 1000 MB of live objects.
const switches = Number(arg('switches', 5));
const { spawnSync } = require('node:child_process');
const rows = [];
for (const mb of [10, 100, 400, 1000]) {
  const script = `
    const { setInlining } = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'inlining.js'))});
    const keep = [];
    for (let i = 0; i < ${mb} * 1048576 / 80; i++) keep.push({ a: i, b: 'x', c: null });
    const t = [];
    for (let i = 0; i < ${switches}; i++) {
      const s = process.hrtime.bigint();
      setInlining(false);
      setInlining(true);
      t.push(Number(process.hrtime.bigint() - s) / 2e6);
    }
    t.sort((a, b) => a - b);
    console.log(JSON.stringify({ ms: t[t.length >> 1], heapMb: process.memoryUsage().heapUsed / 1048576 }));`;
  const r = spawnSync(process.execPath, ['--max-old-space-size=4096', '-e', script], { encoding: 'utf8' });
  const res = JSON.parse(r.stdout.trim().split('\n').pop());
  rows.push(`${res.heapMb.toFixed(0)} MB heap: ${res.ms.toFixed(0)} ms`);
}
console.log(`one switch (a deoptimisation of everything), median of ${switches}: ${rows.join(', ')}`);
