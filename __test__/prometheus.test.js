'use strict';
// memwatch.prometheus(registry), end to end: a real Prometheus server (Debian's `prometheus`,
// installed by the development install step, scripts/dev-deps.js) scrapes a leaking and a steady
// service on 127.0.0.1, and its own query API must show memwatch's series, with
// memwatch_leak_suspected 1 for the leak and 0 all along for the steady one. Also: prom-client's
// AggregatorRegistry across cluster workers, idempotence, and clear errors.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const { spawn } = require('node:child_process');

const memwatch = require('..');

const PROMETHEUS = process.env.MEMWATCH_RS_PROMETHEUS || '/usr/bin/prometheus';
const SERVICE = path.join(__dirname, 'fixtures', 'metrics-service.js');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts a child and resolves with it once it printed its first JSON line. */
function startService(mode) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SERVICE, mode, '120'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`${mode} service exited early (${code})`)));
    child.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve({ child, port: JSON.parse(out.slice(0, nl)).port });
    });
  });
}

async function waitFor(what, fn, ms) {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e.message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: not within ${ms} ms (last: ${JSON.stringify(last)})`);
}

const prometheusMissing = !fs.existsSync(PROMETHEUS);
// In CI the install step puts it there; a missing server is then a failure, not a skip.
const skip = prometheusMissing && process.env.CI !== 'true'
  ? `Prometheus is not installed at ${PROMETHEUS} (Debian: apt-get install prometheus; npm install does it as root on Debian)`
  : false;

test('a real Prometheus scrapes memwatch: leak_suspected is 1 for a leaking service and stays 0 for a steady one', { skip, timeout: 120000 }, async (t) => {
  assert.ok(!prometheusMissing, `Prometheus must be installed at ${PROMETHEUS} for this test (the dev install step installs Debian's package)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memwatch-prom-'));
  const leaky = await startService('leak');
  const steady = await startService('steady');
  const promPort = await freePort();
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), [
    'global:',
    '  scrape_interval: 1s',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    '  - job_name: leaky',
    `    static_configs: [{ targets: ['127.0.0.1:${leaky.port}'] }]`,
    '  - job_name: steady',
    `    static_configs: [{ targets: ['127.0.0.1:${steady.port}'] }]`,
    '',
  ].join('\n'));
  const prom = spawn(PROMETHEUS, [
    `--config.file=${path.join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let promLog = '';
  prom.stderr.on('data', (d) => (promLog = (promLog + d).slice(-4000)));
  t.after(() => {
    for (const c of [prom, leaky.child, steady.child]) {
      c.removeAllListeners('exit');
      c.kill('SIGKILL');
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const api = `http://127.0.0.1:${promPort}`;
  const query = async (q) => {
    const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = await res.json();
    if (body.status !== 'success') throw new Error(`${q}: ${JSON.stringify(body)}`);
    return body.data.result;
  };
  const value = (result, job) => {
    const r = result.find((x) => x.metric.job === job);
    return r ? Number(r.value[1]) : undefined;
  };
  try {
    await waitFor('Prometheus ready', async () => (await fetch(`${api}/-/ready`)).ok, 30000);
    await waitFor('both targets up', async () => {
      const up = await query('up');
      return value(up, 'leaky') === 1 && value(up, 'steady') === 1;
    }, 30000);
  } catch (e) {
    throw new Error(`${e.message}\nprometheus log:\n${promLog}`);
  }
  // The series exist for both services, under Prometheus's own names, beside prom-client's.
  const names = ['memwatch_heap_base_bytes', 'memwatch_heap_limit_bytes', 'memwatch_heap_trend_bytes_per_second',
    'memwatch_heap_time_to_limit_seconds', 'memwatch_leak_suspected', 'memwatch_leak_events_total', 'memwatch_gc_full_total',
    'memwatch_gc_time_ratio', 'memwatch_resource_count', 'process_open_fds', 'nodejs_heap_size_used_bytes'];
  for (const name of names) {
    const r = await query(name);
    for (const job of ['leaky', 'steady']) assert.ok(r.some((x) => x.metric.job === job), `${name} of ${job} is in Prometheus`);
  }
  // The leak is seen through Prometheus: heap and fds.
  await waitFor('memwatch_leak_suspected{job="leaky",kind="heap"} == 1', async () => value(await query('memwatch_leak_suspected{kind="heap"}'), 'leaky') === 1, 60000);
  await waitFor('memwatch_leak_suspected{job="leaky",kind="fds"} == 1', async () => value(await query('memwatch_leak_suspected{kind="fds"}'), 'leaky') === 1, 30000);
  assert.ok(value(await query('memwatch_leak_events_total{kind="heap"}'), 'leaky') >= 1);
  const ttl = value(await query('memwatch_heap_time_to_limit_seconds'), 'leaky');
  assert.ok(ttl > 0 && Number.isFinite(ttl), `a finite time to the heap limit for the leak: ${ttl}`);
  assert.ok(value(await query('memwatch_heap_trend_bytes_per_second'), 'leaky') > 0);
  // An alert rule's expression, as the README gives it, selects the leaky service only.
  const alert = await query('max by (job) (memwatch_leak_suspected) == 1');
  assert.deepStrictEqual(alert.map((x) => x.metric.job), ['leaky']);
  // The steady service, scraped every second over the same time, never had a suspected leak.
  const window = Math.ceil(process.uptime()) + 5;
  const steadyMax = await query(`max_over_time(memwatch_leak_suspected{job="steady"}[${window}s])`);
  assert.ok(steadyMax.length >= 2, 'the steady service has heap and fds series');
  for (const s of steadyMax) assert.strictEqual(Number(s.value[1]), 0, `steady ${s.metric.kind}: ${JSON.stringify(s)}`);
  const steadyEvents = await query('memwatch_leak_events_total{job="steady"}');
  for (const s of steadyEvents) assert.strictEqual(Number(s.value[1]), 0);
  const gcs = await query('memwatch_gc_full_total');
  assert.ok(value(gcs, 'steady') > 10, 'full GCs are counted');
});

test('prometheus(): prom-client cluster aggregation across workers', { timeout: 60000 }, () => {
  const r = require('node:child_process').spawnSync(process.execPath, [path.join(__dirname, 'fixtures', 'cluster-metrics.js')], { encoding: 'utf8', timeout: 50000 });
  assert.strictEqual(r.status, 0, r.stderr);
  const { text } = JSON.parse(r.stdout.trim().split('\n').pop());
  const sample = (name) => Number((new RegExp(`^${name} (\\S+)$`, 'm').exec(text) || [])[1]);
  assert.ok(sample('memwatch_heap_base_bytes') > 0, text);
  // Summed over the two workers: two heap limits, labelled with whose limit binds (V8's here:
  // no container), and the memory limit that will stop each (the machine's).
  const labelled = (name, label) => Number((new RegExp(`^${name}\\{${label}\\} (\\S+)$`, 'm').exec(text) || [])[1]);
  const limit = labelled('memwatch_heap_limit_bytes', 'limit="heap"');
  const memory = labelled('memwatch_memory_limit_bytes', 'limit="machine"');
  assert.strictEqual(memory, 2 * require('node:os').totalmem(), text);
  const one = require('node:v8').getHeapStatistics().heap_size_limit;
  assert.ok(limit > 1.9 * one && limit < 2.1 * one, `two workers' limits: ${limit} vs one ${one}`);
  assert.match(text, /^memwatch_leak_suspected\{kind="heap"\} 0$/m, 'the leak state aggregates by max');
  assert.ok(sample('memwatch_gc_full_total') >= 4, 'full GCs are summed over the workers');
});

test('prometheus(): one set of metrics per registry, clear errors, and stop()', () => {
  const client = require('prom-client');
  const registry = new client.Registry();
  const h = memwatch.prometheus(registry);
  assert.strictEqual(memwatch.prometheus(registry), h, 'a second call on the same registry returns the same handle');
  assert.ok(registry.getSingleMetric('memwatch_leak_suspected'));
  h.stop();
  assert.strictEqual(registry.getSingleMetric('memwatch_leak_suspected'), undefined, 'stop() removes the metrics');
  const clash = new client.Registry();
  new client.Gauge({ name: 'memwatch_heap_base_bytes', help: 'someone else', registers: [clash] });
  assert.throws(() => memwatch.prometheus(clash), /already has a metric named memwatch_heap_base_bytes that memwatch did not register/);
  assert.throws(() => memwatch.prometheus({}), /expected a prom-client Registry/);
  assert.throws(() => memwatch.prometheus(42), /expected a prom-client Registry .*got 42/);
  const { loadPeer } = require('../lib/metrics.js');
  assert.throws(() => loadPeer('memwatch-no-such-peer', 'prometheus'), (e) => {
    assert.strictEqual(e.code, 'MEMWATCH_PEER_MISSING');
    assert.match(e.message, /^memwatch\.prometheus\(\) needs the optional peer dependency memwatch-no-such-peer, which is not installed: npm install memwatch-no-such-peer$/);
    return true;
  });
});

test('prometheus() without prom-client installed says how to install it; the rest of memwatch works', () => {
  // A copy of the package outside this checkout, where no prom-client can be found.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memwatch-nopeer-'));
  try {
    const pkg = path.join(dir, 'node_modules', 'memwatch-rs');
    fs.mkdirSync(pkg, { recursive: true });
    for (const f of ['index.js', 'package.json', 'lib', 'prebuilds']) fs.cpSync(path.join(__dirname, '..', f), path.join(pkg, f), { recursive: true });
    const r = require('node:child_process').spawnSync(process.execPath, ['-e', `
      const m = require('memwatch-rs');
      try { m.prometheus(); } catch (e) { console.log(e.message); }
      try { m.openTelemetry(); } catch (e) { console.log(e.message); }
      m.gc();
      console.log('still works');
    `], { cwd: dir, encoding: 'utf8', env: { ...process.env, NODE_PATH: '' } });
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(r.stdout, /memwatch\.prometheus\(\) needs the optional peer dependency prom-client, which is not installed: npm install prom-client/);
    assert.match(r.stdout, /memwatch\.openTelemetry\(\) needs the optional peer dependency @opentelemetry\/api/);
    assert.match(r.stdout, /still works/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
