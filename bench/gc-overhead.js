#!/usr/bin/env node
'use strict';
// GC-hook overhead: what a 'stats' listener and a 'leak' listener cost an allocation-heavy
// program, against the same program without memwatch-rs and against @airbnb/node-memwatch.
// Every run is a fresh process; the modes rotate each round so drift in machine load favours
// none; the figures are medians of per-round ratios against 'none' measured in the same round.
//
//   node bench/gc-overhead.js [--rounds 15] [--workload churn|ring|all]
//
// Workloads:
//   churn  a tight loop of short-lived objects with a slowly turning-over retained set;
//   ring   400 rounds of 20,000 objects { i, s, a: [i, r] }, each round's batch kept in a ring
//          of 64, setImmediate between rounds (yields like a server).
// Modes:
//   none    memwatch-rs not loaded (the anchor);
//   loaded  require('memwatch-rs'), no listener: what loading the package costs by itself;
//   stats   one 'stats' listener;
//   leak    one 'leak' listener (its sampling GCs included);
//   airbnb  @airbnb/node-memwatch with one 'stats' listener, when installed:
//             npm_config_nodedir=/usr npm install --no-save @airbnb/node-memwatch@3.0.0
//
// Why 'loaded' is reported: V8 sizes its first old-generation limit from the survival rate of
// the first scavenges, so any code a program loads before its work moves its first
// mark-compacts (`node --trace-gc` shows them). The full-GC column says when a mode
// changed the GC schedule rather than the cost of each GC.

const path = require('node:path');
const { median, runJson, available, fmt, arg: argText } = require('./lib/stats');

const ROOT = path.resolve(__dirname, '..');

function attach(mode, counters) {
  if (mode === 'loaded') {
    require(ROOT);
  } else if (mode === 'stats') {
    require(ROOT).on('stats', () => counters.stats++);
  } else if (mode === 'leak') {
    require(ROOT).on('leak', () => counters.leaks++);
  } else if (mode === 'airbnb') {
    require(require.resolve('@airbnb/node-memwatch', { paths: [ROOT] })).on('stats', () => counters.stats++);
  }
}

function churn(done) {
  let keep = [];
  let sink = 0;
  for (let i = 0; i < 20e6; i++) {
    const o = { id: i, name: `item-${i & 1023}`, tags: [i, i + 1, i + 2] };
    sink += o.tags.length;
    if ((i & 3) === 0) keep.push(o);
    if (keep.length > 1000000) keep = [];
  }
  done(sink);
}

function ring(done) {
  const kept = new Array(64);
  let r = 0;
  const round = () => {
    const batch = new Array(20000);
    for (let i = 0; i < 20000; i++) batch[i] = { i, s: 'x' + (i & 255), a: [i, r] };
    kept[r & 63] = batch;
    if (++r < 400) setImmediate(round);
    else done(kept.length);
  };
  round();
}

const WORKLOADS = { churn, ring };

function child(mode, workload) {
  const { PerformanceObserver, constants } = require('node:perf_hooks');
  let fullGcs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if ((e.detail ? e.detail.kind : e.kind) === constants.NODE_PERFORMANCE_GC_MAJOR) fullGcs++;
  });
  observer.observe({ entryTypes: ['gc'] });
  const counters = { stats: 0, leaks: 0 };
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  attach(mode, counters);
  WORKLOADS[workload]((sink) => {
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    const cpu = process.cpuUsage(cpu0);
    // GC entries reach the observer asynchronously, after the loop yields: give them a moment.
    setTimeout(() => {
      observer.disconnect();
      console.log(JSON.stringify({ mode, ms, cpuMs: (cpu.user + cpu.system) / 1000, fullGcs, ...counters, sink }));
    }, 100);
  });
}

const pct = (x) => `${x >= 0 ? '+' : ''}${fmt(x * 100, 1)}%`;

function measure(workload, modes, rounds) {
  const runs = Object.fromEntries(modes.map((m) => [m, []]));
  for (let r = 0; r < rounds; r++) {
    const order = modes.map((_, i) => modes[(i + r) % modes.length]);
    for (const mode of order) runs[mode].push(runJson(__filename, ['--child', mode, workload]));
    process.stderr.write(`${workload} ${r + 1}/${rounds}: ${modes.map((m) => `${m} ${runs[m][r].cpuMs.toFixed(0)} ms cpu`).join(', ')}\n`);
  }
  const ratio = (mode, field, anchor) => median(runs[mode].map((x, i) => x[field] / runs[anchor][i][field])) - 1;
  console.log(`\n${workload}: node ${process.version}, ${rounds} rotations; medians of per-round ratios`);
  console.log('mode      CPU ms   vs none: CPU     wall     vs loaded: CPU   full GCs   events');
  for (const mode of modes) {
    const rel = (anchor) => (mode === anchor ? '(anchor)' : pct(ratio(mode, 'cpuMs', anchor)));
    const vsLoaded = modes.includes('loaded') && mode !== 'none' && mode !== 'airbnb' ? rel('loaded') : '';
    const events = mode === 'leak' ? `${median(runs[mode].map((x) => x.leaks))} leak` : mode === 'stats' || mode === 'airbnb' ? `${median(runs[mode].map((x) => x.stats))} stats` : '';
    console.log(
      `${mode.padEnd(8)} ${fmt(median(runs[mode].map((x) => x.cpuMs)), 0).padStart(7)}   ${rel('none').padEnd(8)} ${(mode === 'none' ? '' : pct(ratio(mode, 'ms', 'none'))).padEnd(8)} ${vsLoaded.padEnd(14)}   ${String(median(runs[mode].map((x) => x.fullGcs))).padStart(8)}   ${events}`,
    );
  }
  if (modes.includes('airbnb')) {
    console.log(`stats / airbnb CPU (median of per-round ratios): ${fmt(median(runs.stats.map((x, i) => x.cpuMs / runs.airbnb[i].cpuMs)))}`);
  }
}

function main() {
  const at = process.argv.indexOf('--child');
  if (at > 0) {
    child(process.argv[at + 1], process.argv[at + 2]);
    return;
  }
  const rounds = Number(argText('rounds', 15));
  const which = argText('workload', 'all');
  const modes = ['none', 'loaded', 'stats', 'leak'];
  if (available('@airbnb/node-memwatch')) modes.push('airbnb');
  else console.log('(@airbnb/node-memwatch not installed; for the anchor: npm_config_nodedir=/usr npm install --no-save @airbnb/node-memwatch@3.0.0)');
  for (const workload of which === 'all' ? Object.keys(WORKLOADS) : [which]) {
    if (!WORKLOADS[workload]) throw new Error(`unknown workload ${workload}; known: ${Object.keys(WORKLOADS).join(', ')}`);
    measure(workload, modes, rounds);
  }
}

main();
