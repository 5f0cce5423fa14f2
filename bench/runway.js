#!/usr/bin/env node
'use strict';
// Warn before it dies, measured: leaks that kill a process in about 10 s, 30 s and 5 minutes at
// each limit (V8's heap limit, a memory cgroup, `ulimit -n`), and the traps that sit near a limit
// without leaking. For each death: when the 'leak' came, how long before the death, and what
// share of the process's life that was. For each trap: the alarms raised. The anchor is the
// death itself, in the same run. Needs root for the cgroup (skipped with a note otherwise).
//
//   node bench/runway.js [--only heap,memory,fds,traps] [--runs 1] [--report]
//
// --report also writes a near-limit report in each heap death and checks it names OrderRecord.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { arg } = require('./lib/stats');

const FIXTURE = path.join(__dirname, '..', '__test__', 'fixtures', 'near-limit.js');
const MB = 1 << 20;

function cgroup(bytes) {
  const dir = path.join('/sys/fs/cgroup/memory', `memwatch-bench-${process.pid}-${Math.random().toString(36).slice(2, 7)}`);
  try {
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'memory.limit_in_bytes'), String(bytes));
    try {
      fs.writeFileSync(path.join(dir, 'memory.swappiness'), '0');
    } catch {}
    return dir;
  } catch (e) {
    return { error: e.message };
  }
}

function run({ scenario, seconds = 30, rate, nodeArgs = [], cg, nofile, env = {} }) {
  const argv = [...nodeArgs, FIXTURE, scenario, String(seconds)];
  if (rate !== undefined) argv.push(String(rate));
  const pre = [];
  if (cg) pre.push(`echo $$ > '${cg}/cgroup.procs'`);
  if (nofile) pre.push(`ulimit -n ${nofile}`);
  const cmd = `${pre.join(' && ')}${pre.length ? ' && ' : ''}exec ${[process.execPath, ...argv].map((a) => `'${a}'`).join(' ')}`;
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', () => {});
    const timer = setTimeout(() => child.kill('SIGKILL'), 15 * 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
      resolve({ events: lines.filter((l) => !l.done), done: lines.find((l) => l.done), code, signal, life: Date.now() - started });
    });
  });
}

const s = (ms) => `${(ms / 1000).toFixed(1)} s`;

async function main() {
  const only = (arg('only', 'heap,memory,fds,traps') || '').split(',');
  const withReport = process.argv.includes('--report');
  const root = process.getuid && process.getuid() === 0;
  const cases = [];
  const cgroups = [];
  const mkcg = (bytes) => {
    const c = root ? cgroup(bytes) : { error: 'not root' };
    if (typeof c === 'string') cgroups.push(c);
    return c;
  };
  const reportDir = withReport ? fs.mkdtempSync(path.join(os.tmpdir(), 'memwatch-runway-')) : null;
  for (const [label, rate] of [['~10 s', 15], ['~30 s', 5], ['~5 min', 0.5]]) {
    if (only.includes('heap')) {
      const dir = reportDir && fs.mkdtempSync(path.join(reportDir, 'heap-'));
      cases.push({ limit: 'heap (--max-old-space-size=192)', label, kind: 'heap', dir, job: { scenario: 'heap', rate, nodeArgs: ['--max-old-space-size=192'], env: dir ? { MEMWATCH_REPORT_DIR: dir } : {} } });
    }
  }
  for (const [label, rate] of [['~10 s', 25], ['~30 s', 8.5], ['~5 min', 0.85]]) {
    if (only.includes('memory')) {
      const cg = mkcg(300 * MB);
      cases.push({ limit: 'memory (300 MB cgroup)', label, kind: 'memory', job: typeof cg === 'string' ? { scenario: 'memory', rate, cg } : null, skip: cg.error });
    }
  }
  for (const [label, rate] of [['~10 s', 100], ['~30 s', 33], ['~5 min', 3.3]]) {
    if (only.includes('fds')) cases.push({ limit: 'fds (ulimit -n 1024)', label, kind: 'fds', job: { scenario: 'fds', rate, nofile: 1024 } });
  }
  if (only.includes('traps')) {
    const heap = ['--max-old-space-size=192'];
    cases.push({ trap: 'a cache warming to a third of the heap', job: { scenario: 'cache', seconds: 120, nodeArgs: heap } });
    cases.push({ trap: 'a batch job climbing to 45% of the heap and falling (8 s cycle)', job: { scenario: 'batch', seconds: 120, nodeArgs: heap } });
    cases.push({ trap: 'a heap steady near 75% of its limit', job: { scenario: 'steady', seconds: 120, nodeArgs: heap } });
    const cg = mkcg(300 * MB);
    cases.push({ trap: "a one-off load of 40% of the container's memory", job: typeof cg === 'string' ? { scenario: 'load', seconds: 120, cg } : null, skip: cg.error });
    cases.push({ trap: 'a pool of 600 files opened at once and kept', job: { scenario: 'pool', seconds: 120, nofile: 1024 } });
  }
  // All at once: they mostly sleep, and each is judged against its own death.
  const results = await Promise.all(cases.map((c) => (c.job ? run(c.job) : null)));
  for (const c of cgroups) {
    try {
      fs.rmdirSync(c);
    } catch {}
  }
  console.log(`\nWarn before it dies: node ${process.version}, all cases at once on ${os.cpus().length} cores\n`);
  console.log('| limit | leak | died after | first runway \'leak\' | before death | share of life left | report names OrderRecord |');
  console.log('|---|---|---|---|---|---|---|');
  const traps = [];
  cases.forEach((c, i) => {
    const r = results[i];
    if (c.trap) {
      traps.push(`| ${c.trap} | ${r ? `${r.events.length} alarms over ${s(r.done ? r.done.at : r.life)}${r.done ? '' : ' (did not finish!)'}` : `skipped: ${c.skip}`} |`);
      return;
    }
    if (!r) {
      console.log(`| ${c.limit} | ${c.label} | skipped: ${c.skip} | | | | |`);
      return;
    }
    const w = r.events.find((e) => e.runway && e.kind === c.kind);
    const died = r.done ? 'survived!' : s(r.life);
    let named = '';
    if (c.dir) {
      const files = fs.readdirSync(c.dir).filter((f) => f.endsWith('.json'));
      const rep = files.length ? JSON.parse(fs.readFileSync(path.join(c.dir, files[0]), 'utf8')) : null;
      const rank = rep ? rep.grew.findIndex((g) => g.what === 'OrderRecord') : -1;
      named = rep ? (rank >= 0 ? `yes (#${rank + 1})` : 'NO') : 'no report';
    }
    console.log(`| ${c.limit} | ${c.label} | ${died} | ${w ? s(w.at) : 'none'} | ${w ? s(r.life - w.at) : '-'} | ${w ? `${Math.round(((r.life - w.at) / r.life) * 100)}%` : '-'} | ${named} |`);
  });
  if (traps.length) {
    console.log('\n| trap (120 s each) | alarms |\n|---|---|');
    for (const t of traps) console.log(t);
  }
}

main();
