#!/usr/bin/env node
'use strict';
// Cost of the production features (issue 15): Prometheus metrics (prom-client, scraped every
// second), OpenTelemetry instruments (the SDK collecting every second) and watchResources on
// every kind at its default interval ('on'), against the same program with none of memwatch
// ('off') and with only a 'leak' listener ('leak': what a memwatch user already runs; the
// metrics need the same leak detector), in fresh processes, alternating, on two workloads:
//   gc:   the GC-overhead bench's allocation loop (bench/gc-overhead.js), run in chunks so that
//         timers (sampling, scrapes) fire in between; wall time.
//   http: a loopback HTTP service (JSON responses) under a keep-alive load generator in a second
//         process; requests per second.
// Prints the median of per-round ratios (on / off, on / leak, leak / off, and off / off: the
// noise floor of the machine, measured in the same run) for each, of wall time
// or throughput and of CPU time (gc: the process's, all threads; http: the server's per request).
//
//   node bench/production.js [--rounds 7] [--workload gc,http] [--seconds 5] [--iterations 20000000]
//        [--modes leak,on]      (also: sampling = a 'leak' listener with allocationSamplingBytes 524288)
const http = require('node:http');
const { spawn } = require('node:child_process');
const { median, runJson, arg, fmt } = require('./lib/stats');

const ROOT = require('node:path').resolve(__dirname, '..');

/** Turns everything on, as a production service would. Returns a scrape function. */
function instrument(mode) {
  const memwatch = require(ROOT);
  if (mode === 'leak' || mode === 'sampling') {
    // 'sampling': issue 13's allocation sampling at its recommended interval, on top of 'leak'.
    if (mode === 'sampling') memwatch.setOptions({ allocationSamplingBytes: 524288 });
    memwatch.on('leak', () => {});
    return null;
  }
  // MEMWATCH_BENCH_PARTS=prom,otel,resources picks a subset (to find what costs).
  const parts = (process.env.MEMWATCH_BENCH_PARTS || 'prom,otel,resources').split(',');
  const client = require(require.resolve('prom-client', { paths: [ROOT] }));
  const sdk = require(require.resolve('@opentelemetry/sdk-metrics', { paths: [ROOT] }));
  const registry = new client.Registry();
  if (parts.includes('prom')) memwatch.prometheus(registry);
  else memwatch.on('leak', () => {});
  class Reader extends sdk.MetricReader {
    constructor() {
      super({ aggregationTemporalitySelector: () => sdk.AggregationTemporality.CUMULATIVE });
    }
    async onForceFlush() {}
    async onShutdown() {}
  }
  const reader = new Reader();
  const provider = new sdk.MeterProvider({ readers: [reader] });
  if (parts.includes('otel')) memwatch.openTelemetry(provider.getMeter('bench'));
  if (parts.includes('resources')) memwatch.watchResources({ fds: true, handles: true, timers: true, external: true, intervalMs: 2000 });
  const scrape = setInterval(() => {
    registry.metrics().catch(() => {});
    reader.collect().catch(() => {});
  }, 1000);
  scrape.unref();
  return registry;
}

function gcChild(mode, iterations) {
  if (mode !== 'off') instrument(mode);
  let keep = [];
  let sink = 0;
  let i = 0;
  const start = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const chunk = () => {
    const end = Math.min(iterations, i + 200000);
    for (; i < end; i++) {
      const o = { id: i, name: `item-${i & 1023}`, tags: [i, i + 1, i + 2] };
      sink += o.tags.length;
      if ((i & 3) === 0) keep.push(o);
      if (keep.length > 1000000) keep = [];
    }
    if (i < iterations) return setImmediate(chunk);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    const c = process.cpuUsage(cpu0);
    console.log(JSON.stringify({ ms, cpuMs: (c.user + c.system) / 1000, sink }));
    process.exit(0);
  };
  chunk();
}

function httpServerChild(mode) {
  if (mode !== 'off') instrument(mode);
  const items = Array.from({ length: 40 }, (_, i) => ({ id: i, name: `item ${i}`, price: i * 1.5 }));
  let served = 0;
  let cpu0 = null;
  process.on('SIGTERM', () => {
    const c = process.cpuUsage(cpu0);
    console.log(JSON.stringify({ served, cpuUs: c.user + c.system }));
    process.exit(0);
  });
  // The load generator's first request starts the CPU clock (after start-up and listen).
  const server = http.createServer((req, res) => {
    if (cpu0 === null) cpu0 = process.cpuUsage();
    served++;
    const body = JSON.stringify({ path: req.url, at: Date.now(), items: items.map((x) => ({ ...x, seen: req.url.length })) });
    res.setHeader('content-type', 'application/json');
    res.end(body);
  });
  server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
}

function loadChild(port, seconds) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  let done = 0;
  let counting = false;
  const one = () => {
    http.get({ host: '127.0.0.1', port, path: `/items/${done % 100}`, agent }, (res) => {
      res.resume();
      res.on('end', () => {
        if (counting) done++;
        if (!stop) one();
      });
    }).on('error', () => {});
  };
  let stop = false;
  for (let i = 0; i < 16; i++) one();
  // One second of warm-up, then count.
  setTimeout(() => {
    counting = true;
    const t0 = process.hrtime.bigint();
    setTimeout(() => {
      stop = true;
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      console.log(JSON.stringify({ rps: done / s }));
      process.exit(0);
    }, seconds * 1000);
  }, 1000);
}

function httpRound(mode, seconds) {
  return new Promise((resolve, reject) => {
    const server = spawn(process.execPath, [__filename, '--child', 'http-server', mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let started = false;
    server.stdout.on('data', (d) => {
      out += d;
      if (started || !out.includes('\n')) return;
      started = true;
      const { port } = JSON.parse(out.split('\n')[0]);
      let r;
      try {
        r = runJson(__filename, ['--child', 'load', String(port), String(seconds)]);
      } catch (e) {
        server.kill();
        return reject(e);
      }
      server.on('close', () => {
        const { served, cpuUs } = JSON.parse(out.trim().split('\n').pop());
        resolve({ rps: r.rps, cpuPerRequestUs: cpuUs / served });
      });
      server.kill('SIGTERM');
    });
  });
}

async function main() {
  const c = process.argv.indexOf('--child');
  if (c > 0) {
    const [kind, a, b] = process.argv.slice(c + 1);
    if (kind === 'gc') return gcChild(a, Number(b));
    if (kind === 'http-server') return httpServerChild(a);
    if (kind === 'load') return loadChild(Number(a), Number(b));
    throw new Error(kind);
  }
  const rounds = Number(arg('rounds', 7));
  const workloads = String(arg('workload', 'gc,http')).split(',');
  const seconds = Number(arg('seconds', 5));
  const iterations = String(arg('iterations', 2e7));
  console.log(`memwatch's production costs, node ${process.version}, ${rounds} rotating rounds: off = no memwatch, leak = a 'leak' listener, on = leak detector + prometheus + openTelemetry + watchResources (all kinds), sampling = leak + allocationSamplingBytes 524288`);
  // 'off' runs twice a round: 'off again' against 'off' is the noise floor of this machine.
  // --modes picks others: 'sampling' is a 'leak' listener with allocationSamplingBytes 524288.
  const MODES = ['off', 'off again', ...String(arg('modes', 'leak,on')).split(',').filter((m) => m && m !== 'off')];
  for (const w of workloads) {
    const values = Object.fromEntries(MODES.map((m) => [m, []]));
    const cpu = Object.fromEntries(MODES.map((m) => [m, []]));
    // Per round, the cost of `a` against `b`: more time (gc), or less throughput (http).
    const cost = (round, a, b) => (w === 'gc' ? round[a] / round[b] : round[b] / round[a]);
    const PAIRS = [
      ...MODES.filter((m) => m !== 'off' && m !== 'off again').map((m) => [m, 'off']),
      ...(MODES.includes('leak') ? MODES.filter((m) => !['off', 'off again', 'leak'].includes(m)).map((m) => [m, 'leak']) : []),
      ['off again', 'off'],
    ];
    const ratios = Object.fromEntries(PAIRS.map(([a, b]) => [`${a} vs ${b}`, []]));
    const cpuRatios = Object.fromEntries(PAIRS.map(([a, b]) => [`${a} vs ${b}`, []]));
    for (let r = 0; r < rounds; r++) {
      // Rotate the order so drift in machine load favours no mode.
      const order = MODES.map((_, i) => MODES[(i + r) % MODES.length]);
      const round = {};
      const roundCpu = {};
      for (const mode of order) {
        const child = mode === 'off again' ? 'off' : mode;
        const res = w === 'gc' ? runJson(__filename, ['--child', 'gc', child, iterations]) : await httpRound(child, seconds);
        round[mode] = w === 'gc' ? res.ms : res.rps;
        roundCpu[mode] = w === 'gc' ? res.cpuMs : res.cpuPerRequestUs;
        values[mode].push(round[mode]);
        cpu[mode].push(roundCpu[mode]);
      }
      for (const [a, b] of PAIRS) {
        ratios[`${a} vs ${b}`].push(cost(round, a, b));
        cpuRatios[`${a} vs ${b}`].push(roundCpu[a] / roundCpu[b]);
      }
      process.stderr.write(`${w} round ${r + 1}/${rounds}: ${MODES.map((m) => `${m} ${fmt(round[m], 0)}`).join(', ')}\n`);
    }
    const unit = w === 'gc' ? 'ms' : 'requests/s';
    const cpuUnit = w === 'gc' ? 'ms CPU' : 'µs CPU per request';
    console.log(`  ${w}: medians ${MODES.map((m) => `${m} ${fmt(median(values[m]), 0)} ${unit}`).join(', ')}`);
    console.log(`  ${' '.repeat(w.length)}  ${MODES.map((m) => `${m} ${fmt(median(cpu[m]), 1)} ${cpuUnit}`).join(', ')}`);
    const pct = (x) => `${x >= 1 ? '+' : ''}${fmt((x - 1) * 100, 2)}%`;
    for (const name of Object.keys(ratios)) {
      const list = ratios[name];
      const c = cpuRatios[name];
      console.log(`    cost ${name.padEnd(17)} ${w === 'gc' ? 'wall' : 'throughput'} ${pct(median(list)).padStart(8)} (spread ${pct(Math.min(...list))} to ${pct(Math.max(...list))}), ` +
        `CPU ${pct(median(c)).padStart(8)} (spread ${pct(Math.min(...c))} to ${pct(Math.max(...c))})`);
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
