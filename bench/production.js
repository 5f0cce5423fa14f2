#!/usr/bin/env node
'use strict';
// Cost of the production features (issue 15): Prometheus metrics (prom-client, scraped every
// second), OpenTelemetry instruments (the SDK collecting every second) and watchResources on
// every kind at its default interval ('on'), against the same program with none of memwatch
// ('off') and with only a 'leak' listener ('leak': what a memwatch user already runs; the
// metrics need the same leak detector), in fresh processes (two at a time by default), on two workloads:
//   gc:   the GC-overhead bench's allocation loop (bench/gc-overhead.js), run in chunks so that
//         timers (sampling, scrapes) fire in between; wall time.
//   http: a loopback HTTP service (JSON responses) under a keep-alive load generator in a second
//         process; requests per second.
// Prints the median of per-round ratios (on / off, on / leak, leak / off, and off / off: the
// noise floor of the machine, measured in the same run) for each, of wall time
// or throughput and of CPU time (gc: the process's, all threads; http: the server's per request).
//
//   node bench/production.js [--rounds 10] [--workload gc,http] [--seconds 4] [--iterations 20000000]
//        [--pairs off:off,leak:off,on:base,on:off,sampling:leak,base:leak] [--pin]
//        side by side (the default): the two modes of a pair run at the same time (see
//        httpPairRound), which takes out most of the machine's drift between runs (off:off, the
//        noise floor, within +-2% instead of +-20% for runs one after the other). Modes: off, leak,
//        base (prom-client and the OpenTelemetry SDK loaded and collected, a 'leak' listener, no
//        memwatch metrics), on, sampling (a 'leak' listener with allocationSamplingBytes 524288),
//        noinline (sampling, in a node run with --no-turbo-inlining --no-maglev-inlining: what
//        exact allocation sites cost, see README 'leak' sites).
//   node bench/production.js --sequential [--modes leak,on]   fresh processes one after the other
const http = require('node:http');
const { spawn } = require('node:child_process');
const { median, runJson, arg, fmt } = require('./lib/stats');

const ROOT = require('node:path').resolve(__dirname, '..');

/** V8 flags a mode's child runs with. */
const MODE_FLAGS = { noinline: ['--no-turbo-inlining', '--no-maglev-inlining'] };
const flagsOf = (mode) => MODE_FLAGS[mode] || [];

/** Turns everything on, as a production service would. Returns a scrape function. */
function instrument(mode) {
  const memwatch = require(ROOT);
  if (mode === 'noinline') mode = 'sampling';
  if (mode === 'leak' || mode === 'sampling') {
    // 'sampling': issue 13's allocation sampling at its recommended interval, on top of 'leak'.
    if (mode === 'sampling') memwatch.setOptions({ allocationSamplingBytes: 524288 });
    memwatch.on('leak', () => {});
    return null;
  }
  // MEMWATCH_BENCH_PARTS=prom,otel,resources picks a subset (to find what costs).
  // 'base': prom-client and the OpenTelemetry SDK loaded, a registry and a reader collected every
  // second, and a 'leak' listener, but none of memwatch's metrics: what a service that already
  // exports metrics runs before it turns memwatch's on. ('leak' loads neither library, and they
  // cost by themselves: more live heap for each of a small server's frequent full GCs.)
  const parts = mode === 'base' ? [] : (process.env.MEMWATCH_BENCH_PARTS || 'prom,otel,resources').split(',');
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

// Drives every port given (comma-separated) with its own closed loop of 16 / ports keep-alive
// connections, at the same time; prints requests per second per port.
function loadChild(ports, seconds) {
  const list = String(ports).split(',').map(Number);
  const per = Math.max(1, Math.round(16 / list.length));
  const done = list.map(() => 0);
  let counting = false;
  let stop = false;
  list.forEach((port, k) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: per });
    const one = () => {
      http.get({ host: '127.0.0.1', port, path: `/items/${done[k] % 100}`, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (counting) done[k]++;
          if (!stop) one();
        });
      }).on('error', () => {});
    };
    for (let i = 0; i < per; i++) one();
  });
  // One second of warm-up, then count.
  setTimeout(() => {
    counting = true;
    const t0 = process.hrtime.bigint();
    setTimeout(() => {
      stop = true;
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      const rps = done.map((d) => d / s);
      console.log(JSON.stringify({ rps: rps[0], each: rps }));
      process.exit(0);
    }, seconds * 1000);
  }, 1000);
}

/** Starts an HTTP server child in `mode`; resolves with { port, stop() -> { served, cpuUs } }. */
function startServer(mode) {
  return new Promise((resolve, reject) => {
    const server = spawn(process.execPath, [...flagsOf(mode), __filename, '--child', 'http-server', mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let started = false;
    server.on('error', reject);
    server.on('exit', (code) => {
      if (!started) reject(new Error(`http server (${mode}) exited with ${code} before listening`));
    });
    server.stdout.on('data', (d) => {
      out += d;
      if (started || !out.includes('\n')) return;
      started = true;
      const { port } = JSON.parse(out.split('\n')[0]);
      const stop = () => new Promise((done) => {
        server.on('close', () => done(JSON.parse(out.trim().split('\n').pop())));
        server.kill('SIGTERM');
      });
      resolve({ port, stop });
    });
  });
}

/**
 * Side by side: two servers, `a` and `b`, at the same time, under one load generator that drives
 * each with its own 8 connections, so both see the same machine (other tenants, CPU frequency,
 * the generator itself) during the same seconds. Resolves with each one's throughput and CPU.
 */
async function httpPairRound(a, b, seconds, swap) {
  // Which one starts first (and is stopped first) alternates too: off:off showed a ~1% bias
  // against the first-started server when only the connection order alternated.
  const [sa, sb] = swap ? (await Promise.all([startServer(b), startServer(a)])).reverse() : await Promise.all([startServer(a), startServer(b)]);
  // Which server gets its connections opened first alternates between rounds.
  const ports = swap ? [sb.port, sa.port] : [sa.port, sb.port];
  let r;
  try {
    r = await runJsonAsync(__filename, ['--child', 'load', ports.join(','), String(seconds)]);
  } finally {
    var [ra, rb] = swap ? (await Promise.all([sb.stop(), sa.stop()])).reverse() : await Promise.all([sa.stop(), sb.stop()]);
  }
  const [rpsA, rpsB] = swap ? [r.each[1], r.each[0]] : r.each;
  return { a: { rps: rpsA, cpu: ra.cpuUs / ra.served }, b: { rps: rpsB, cpu: rb.cpuUs / rb.served } };
}

/** Like runJson, without blocking the event loop (two children at once). */
function runJsonAsync(script, args, { env = {}, prefix = [], flags = [] } = {}) {
  return new Promise((resolve, reject) => {
    const cmd = prefix.length ? prefix[0] : process.execPath;
    const argv = prefix.length ? [...prefix.slice(1), process.execPath, ...flags, script, ...args] : [...flags, script, ...args];
    const child = spawn(cmd, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${script} ${args.join(' ')} failed (${code}):\n${err}`));
      const lines = out.trim().split('\n');
      resolve(JSON.parse(lines[lines.length - 1]));
    });
  });
}

/**
 * Side by side for the GC loop: both children at once (with --pin, each pinned to its own core,
 * swapped every round).
 */
async function gcPairRound(a, b, iterations, swap, pin) {
  const cores = swap ? ['1', '0'] : ['0', '1'];
  const run = (mode, core) => runJsonAsync(__filename, ['--child', 'gc', mode, iterations], { prefix: pin ? ['taskset', '-c', core] : [], flags: flagsOf(mode) });
  const [ra, rb] = swap ? (await Promise.all([run(b, cores[1]), run(a, cores[0])])).reverse() : await Promise.all([run(a, cores[0]), run(b, cores[1])]);
  return { a: { ms: ra.ms, cpu: ra.cpuMs }, b: { ms: rb.ms, cpu: rb.cpuMs } };
}

// Student's t, two-sided 95%, by degrees of freedom (index); 1.96 beyond.
const T95 = [NaN, 12.71, 4.30, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23, 2.20, 2.18, 2.16, 2.14, 2.13, 2.12, 2.11, 2.10, 2.09, 2.09, 2.08, 2.07, 2.07, 2.06, 2.06, 2.06, 2.05, 2.05, 2.05, 2.04];

async function pairedMain(workloads, rounds, seconds, iterations) {
  const pairs = String(arg('pairs', 'off:off,leak:off,on:base,on:off,sampling:leak,base:leak')).split(',').map((p) => p.split(':'));
  // Unpinned by default: pinned to a core each, the pair's ratio swung twice as much (one vCPU
  // loses more to other tenants than the other); --pin to compare.
  const pin = process.argv.includes('--pin') && require('node:child_process').spawnSync('taskset', ['-c', '0', 'true']).status === 0;
  console.log(`memwatch's production costs, node ${process.version}, side by side (two processes at the same time), ${rounds} rounds per pair${pin ? ', gc children pinned to one core each' : ''}, first-started side alternating: ` +
    `off = no memwatch, leak = a 'leak' listener, on = leak detector + prometheus + openTelemetry + watchResources (all kinds), sampling = leak + allocationSamplingBytes 524288. off:off is the noise floor.`);
  const pct = (x) => `${x >= 1 ? '+' : ''}${fmt((x - 1) * 100, 2)}%`;
  for (const w of workloads) {
    for (const [a, b] of pairs) {
      const cost = [];
      const cpu = [];
      for (let r = 0; r < rounds; r++) {
        const swap = r % 2 === 1;
        const res = w === 'gc' ? await gcPairRound(a, b, iterations, swap, pin) : await httpPairRound(a, b, seconds, swap);
        // The cost of a against b: more wall time (gc), less throughput (http); CPU per unit of work.
        cost.push(w === 'gc' ? res.a.ms / res.b.ms : res.b.rps / res.a.rps);
        cpu.push(res.a.cpu / res.b.cpu);
        process.stderr.write(`${w} ${a} vs ${b} round ${r + 1}/${rounds}: ${w === 'gc' ? `${fmt(res.a.ms, 0)} / ${fmt(res.b.ms, 0)} ms` : `${fmt(res.a.rps, 0)} / ${fmt(res.b.rps, 0)} requests/s`}\n`);
      }
      // Median, and the mean with its 95% interval (t, over rounds): what the rounds allow to say.
      const q = (list) => {
        const n = list.length;
        const mean = list.reduce((x, y) => x + y, 0) / n;
        const sd = Math.sqrt(list.reduce((x, y) => x + (y - mean) ** 2, 0) / Math.max(1, n - 1));
        const half = (T95[Math.min(n - 1, T95.length - 1)] || 1.96) * sd / Math.sqrt(n);
        return `${pct(median(list)).padStart(8)} (mean ${pct(mean)}, 95% ${pct(mean - half)} to ${pct(mean + half)})`;
      };
      console.log(`  ${w.padEnd(4)} cost ${`${a} vs ${b}`.padEnd(17)} ${w === 'gc' ? 'wall      ' : 'throughput'} ${q(cost)}, CPU ${q(cpu)}`);
    }
  }
}

function httpRound(mode, seconds) {
  return new Promise((resolve, reject) => {
    const server = spawn(process.execPath, [...flagsOf(mode), __filename, '--child', 'http-server', mode], { stdio: ['ignore', 'pipe', 'inherit'] });
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
    if (kind === 'load') return loadChild(a, Number(b));
    throw new Error(kind);
  }
  const rounds = Number(arg('rounds', process.argv.includes('--sequential') ? 7 : 10));
  const workloads = String(arg('workload', 'gc,http')).split(',');
  const seconds = Number(arg('seconds', process.argv.includes('--sequential') ? 5 : 4));
  const iterations = String(arg('iterations', 2e7));
  if (!process.argv.includes('--sequential')) return pairedMain(workloads, rounds, seconds, iterations);
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
