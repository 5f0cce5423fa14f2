#!/usr/bin/env node
'use strict';
// GC-hook overhead: an allocation-heavy loop (many scavenges, some full GCs) timed with no
// listener, with a memwatch-rs 'stats' listener, and with an @airbnb/node-memwatch 'stats'
// listener, each in a fresh process, alternating, and the median slowdown of each against no
// listener in the same run.
//
//   node bench/gc-overhead.js [--rounds 9] [--iterations 20000000]
//
// The airbnb anchor is installed for the benchmark only:
//   npm_config_nodedir=/usr npm install --no-save @airbnb/node-memwatch@3.0.0

const path = require('node:path');
const { median, runJson, available, fmt, arg: argText } = require('./lib/stats');

const arg = (name, fallback) => Number(argText(name, fallback));

const ROOT = path.resolve(__dirname, '..');

function workload(mode, iterations) {
  let stats = 0;
  let fullGcs = 0;
  if (mode === 'memwatch-rs') {
    const m = require(ROOT);
    m.on('stats', (s) => {
      stats++;
      fullGcs = s.num_full_gc;
    });
  } else if (mode === 'airbnb') {
    const m = require(require.resolve('@airbnb/node-memwatch', { paths: [ROOT] }));
    m.on('stats', () => stats++);
  }
  // Short-lived garbage (scavenges) plus a slowly turning-over retained set (promotions and
  // full GCs), the shape of a busy server.
  let keep = [];
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  let sink = 0;
  for (let i = 0; i < iterations; i++) {
    const o = { id: i, name: `item-${i & 1023}`, tags: [i, i + 1, i + 2] };
    sink += o.tags.length;
    if ((i & 3) === 0) keep.push(o);
    if (keep.length > 1000000) keep = [];
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  setImmediate(() => {
    console.log(JSON.stringify({ mode, ms, cpuMs, stats, fullGcs, sink }));
  });
}

function main() {
  const child = process.argv.indexOf('--child');
  if (child > 0) {
    workload(process.argv[child + 1], arg('iterations', 2e7));
    return;
  }
  const rounds = arg('rounds', 9);
  const iterations = arg('iterations', 2e7);
  const modes = ['none', 'memwatch-rs'];
  if (available('@airbnb/node-memwatch')) modes.push('airbnb');
  else {
    console.log('(@airbnb/node-memwatch not installed: run');
    console.log('   npm_config_nodedir=/usr npm install --no-save @airbnb/node-memwatch@3.0.0');
    console.log(' to include it as an anchor)');
  }
  const times = Object.fromEntries(modes.map((m) => [m, []]));
  const ratios = Object.fromEntries(modes.map((m) => [m, []]));
  const cpuRatios = Object.fromEntries(modes.map((m) => [m, []]));
  let events = 0;
  for (let r = 0; r < rounds; r++) {
    // Rotate the order each round so drift in machine load does not favour one mode.
    const order = modes.map((_, i) => modes[(i + r) % modes.length]);
    const round = {};
    const roundCpu = {};
    for (const mode of order) {
      const res = runJson(__filename, ['--child', mode, '--iterations', String(iterations)]);
      round[mode] = res.ms;
      roundCpu[mode] = res.cpuMs;
      times[mode].push(res.ms);
      if (mode === 'memwatch-rs') events = res.stats;
    }
    for (const mode of modes) {
      ratios[mode].push(round[mode] / round.none);
      cpuRatios[mode].push(roundCpu[mode] / roundCpu.none);
    }
    process.stderr.write(`round ${r + 1}/${rounds}: ${modes.map((m) => `${m} ${round[m].toFixed(0)} ms`).join(', ')}\n`);
  }
  console.log(`\nGC-hook overhead, node ${process.version}, ${iterations} iterations, ${rounds} alternating rounds`);
  console.log(`memwatch-rs delivered ${events} 'stats' events per run\n`);
  const pct = (x) => `${x >= 0 ? '+' : ''}${fmt(x, 2)}%`;
  console.log('mode          median wall ms   slowdown vs no listener (median of per-round ratios)');
  console.log('                               wall time      CPU time (all threads)');
  for (const mode of modes) {
    const wall = (median(ratios[mode]) - 1) * 100;
    const cpu = (median(cpuRatios[mode]) - 1) * 100;
    console.log(`${mode.padEnd(13)} ${fmt(median(times[mode]), 1).padStart(14)}   ${mode === 'none' ? '(anchor)' : `${pct(wall).padEnd(14)} ${pct(cpu)}`}`);
  }
  if (modes.includes('airbnb')) {
    const rel = median(ratios['memwatch-rs'].map((x, i) => x / ratios.airbnb[i]));
    console.log(`\nmemwatch-rs / airbnb time ratio (median of per-round ratios): ${fmt(rel)}`);
  }
}

main();
