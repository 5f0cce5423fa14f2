#!/usr/bin/env node
'use strict';
// The live leak-detection table: every scenario under bench/scenarios, each a real HTTP service on
// 127.0.0.1 driven by a bounded load from a separate process, with natural GCs only and the
// medium-lived data of churn.js on top (in-flight requests, a TTL cache, a ring of buffers).
// Leaks are driven until the first 'leak' (at most --leak-seconds: 10 minutes, since slow-log's
// slow leak on its churning heap takes 7 of them); controls (the traps: warm-up,
// a cache filling, a batch cycle, one step, bursts, ...) run --control-seconds and must raise none.
//
//   npm run scenarios                  # all, once
//   node bench/scenarios/run-all.js --runs 3 [--only request-log,busy-server] [--options JSON]
//        [--jobs 2] [--leak-seconds 600] [--control-seconds 300] [--no-churn]
const path = require('node:path');
const { spawn } = require('node:child_process');
const { median, arg } = require('../lib/stats');

const LEAKS = ['request-log', 'listeners', 'memo-cache', 'timers', 'plugin-reload', 'slow-log'];
const CONTROLS = ['lru-cache', 'busy-server', 'shrinking', 'noisy-queue', 'warmup', 'cache-fill', 'batch-cycle', 'step', 'ttl-burst', 'big-heap', 'sessions', 'job-queue'];

const runs = Number(arg('runs', 1));
const jobs = Number(arg('jobs', 1));
const only = arg('only', null);
const leakSeconds = Number(arg('leak-seconds', 600));
const controlSeconds = Number(arg('control-seconds', 300));
const script = path.join(__dirname, 'run-one.js');

function runOne(name, isLeak) {
  const args = [script, name, String(isLeak ? leakSeconds : controlSeconds)];
  if (isLeak) args.push('--stop-at-leak');
  if (arg('options', null)) args.push('--options', arg('options', null));
  if (process.argv.includes('--no-churn')) args.push('--no-churn');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${name} exited ${code}`));
      resolve(JSON.parse(out.trim().split('\n').pop()));
    });
  });
}

async function main() {
  const todo = [];
  for (const name of [...LEAKS, ...CONTROLS]) {
    if (only && !only.split(',').includes(name)) continue;
    for (let r = 0; r < runs; r++) todo.push({ name, isLeak: LEAKS.includes(name), run: r + 1 });
  }
  const results = new Map();
  async function worker() {
    for (let job = todo.shift(); job; job = todo.shift()) {
      const res = await runOne(job.name, job.isLeak);
      if (!results.has(job.name)) results.set(job.name, []);
      results.get(job.name).push(res);
      const first = res.leaks[0];
      process.stderr.write(`${job.name} run ${job.run}: ${res.leaks.length} leak event(s)${first ? ` (first at ${first.at_s.toFixed(1)} s: ${first.reason})` : ''}, ${res.full_gcs} full GCs, ${res.seconds}s\n`);
    }
  }
  await Promise.all(Array.from({ length: jobs }, worker));

  console.log(`\nleak detection, node ${process.version}, natural GCs only, ${runs} run(s) per scenario${arg('options', null) ? `, options ${arg('options', null)}` : ''}${process.argv.includes('--no-churn') ? ', no churn' : ', with churn'}\n`);
  console.log('| scenario | kind | leak caught | s to 1st leak (median) | full GCs to 1st leak | false alarms | driven (median) |');
  console.log('|---|---|---|---|---|---|---|');
  for (const name of [...LEAKS, ...CONTROLS]) {
    const rs = results.get(name);
    if (!rs) continue;
    const isLeak = LEAKS.includes(name);
    const caught = rs.filter((x) => x.leaks.length > 0);
    const row = [
      `${name}: ${require(path.join(__dirname, `${name}.js`)).description}`,
      isLeak ? 'leak' : 'control',
      isLeak ? `${caught.length}/${rs.length}` : '-',
      isLeak && caught.length ? median(caught.map((x) => x.leaks[0].at_s)).toFixed(1) : '-',
      isLeak && caught.length ? String(median(caught.map((x) => x.leaks[0].full_gcs))) : '-',
      isLeak ? '-' : String(rs.reduce((n, x) => n + x.leaks.length, 0)),
      `${median(rs.map((x) => x.seconds)).toFixed(0)}s, ${median(rs.map((x) => x.full_gcs))} full GCs`,
    ];
    console.log(`| ${row.join(' | ')} |`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
