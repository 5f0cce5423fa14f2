'use strict';
// Warn before it dies: real processes under real limits (V8's heap limit, a memory cgroup made
// here as root, `ulimit -n`) leak until the limit kills them, and each must have raised a 'leak'
// for that limit at least 3 s, and a quarter of its life, before it died. Programs that sit near
// their limits without leaking must raise none. All run at once (they mostly sleep).
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const { spawn } = require('node:child_process');

const FIXTURE = path.join(__dirname, 'fixtures', 'near-limit.js');
const MB = 1 << 20;

/** A memory cgroup limited to `bytes` (v1 or v2), or null with the reason where we may not make one. */
function makeCgroup(bytes) {
  const name = `memwatch-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const candidates = [
    { dir: path.join('/sys/fs/cgroup/memory', name), limit: 'memory.limit_in_bytes' },
    { dir: path.join('/sys/fs/cgroup', name), limit: 'memory.max' },
  ];
  const errors = [];
  for (const c of candidates) {
    if (!fs.existsSync(path.dirname(c.dir))) continue;
    try {
      fs.mkdirSync(c.dir);
      fs.writeFileSync(path.join(c.dir, c.limit), String(bytes));
      try {
        fs.writeFileSync(path.join(c.dir, 'memory.swappiness'), '0');
      } catch {}
      return { ...c, remove: () => { try { fs.rmdirSync(c.dir); } catch {} } };
    } catch (e) {
      errors.push(`${c.dir}: ${e.code || e.message}`);
      try { fs.rmdirSync(c.dir); } catch {}
    }
  }
  return { skip: `cannot make a memory cgroup here (${errors.join('; ') || 'no cgroup file system'})` };
}

/**
 * Runs the fixture; resolves `{ events, done, code, signal, diedAt, stderr }` (`diedAt`: ms from
 * the start to the process's end, as seen here).
 */
function run(scenario, { nodeArgs = [], seconds = 20, rate, cgroup, nofile, timeoutMs = 90_000, env = {} } = {}) {
  const args = [...nodeArgs, FIXTURE, scenario, String(seconds)];
  if (rate !== undefined) args.push(String(rate));
  const quoted = [process.execPath, ...args].map((a) => `'${a}'`).join(' ');
  const pre = [];
  if (cgroup) pre.push(`echo $$ > '${cgroup.dir}/cgroup.procs'`);
  if (nofile) pre.push(`ulimit -n ${nofile}`);
  const child = spawn('sh', ['-c', `${pre.join(' && ')}${pre.length ? ' && ' : ''}exec ${quoted}`], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const started = Date.now();
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
      resolve({ events: lines.filter((l) => !l.done), done: lines.find((l) => l.done) || null, code, signal, diedAt: Date.now() - started, stderr: err });
    });
  });
}

function assertWarnedBeforeDeath(name, r, kind) {
  assert.ok(!r.done, `${name}: the leak should have killed the process (code ${r.code}, signal ${r.signal})`);
  const warning = r.events.find((e) => e.kind === kind && e.runway);
  assert.ok(warning, `${name}: no runway 'leak' of kind ${kind} before it died at ${r.diedAt} ms; events: ${JSON.stringify(r.events)}; stderr: ${r.stderr.slice(-400)}`);
  const lead = r.diedAt - warning.at;
  assert.ok(lead >= 3000, `${name}: 'leak' at ${warning.at} ms, death at ${r.diedAt} ms: only ${lead} ms before`);
  assert.ok(lead >= r.diedAt / 4, `${name}: 'leak' at ${warning.at} ms, death at ${r.diedAt} ms: less than a quarter of its life before`);
  assert.ok(warning.timeToLimit > 0 && warning.timeToLimit < 60, `${name}: timeToLimit ${warning.timeToLimit}`);
  assert.match(warning.reason, /at this rate/, name);
  return warning;
}

function assertSilentNear(name, r, reached) {
  assert.ok(r.done, `${name}: the control should end by itself (code ${r.code}, signal ${r.signal}); stderr: ${r.stderr.slice(-400)}`);
  assert.deepStrictEqual(r.events, [], `${name}: no 'leak' expected`);
  reached(r.done);
}

test('every death by a limit is preceded by a leak for that limit; no alarm near a limit without a leak', { timeout: 180_000 }, async (t) => {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const memCg = root ? makeCgroup(200 * MB) : { skip: 'not root' };
  const loadCg = root ? makeCgroup(300 * MB) : { skip: 'not root' };
  const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'memwatch-near-limit-'));
  try {
    const heap192 = ['--max-old-space-size=192'];
    const jobs = {
      // A 15 MB/s heap leak on a 192 MB heap dies of V8's out-of-memory abort in ~10 s.
      heap: run('heap', { nodeArgs: heap192, rate: 15, env: { MEMWATCH_REPORT_DIR: reportDir } }),
      // 1 MiB Buffers at 20 MB/s in a 200 MB cgroup: killed by the kernel in ~10 s.
      memory: memCg.skip ? null : run('memory', { cgroup: memCg, rate: 20 }),
      // 50 files/s under `ulimit -n 1024`: EMFILE (an uncaught throw) in ~20 s.
      fds: run('fds', { nofile: 1024, rate: 50 }),
      cache: run('cache', { nodeArgs: heap192 }),
      batch: run('batch', { nodeArgs: heap192 }),
      steady: run('steady', { nodeArgs: heap192 }),
      load: loadCg.skip ? null : run('load', { cgroup: loadCg }),
      pool: run('pool', { nofile: 1024 }),
    };
    const r = {};
    for (const [k, p] of Object.entries(jobs)) r[k] = p && (await p);

    await t.test('heap: V8 heap limit', () => {
      const w = assertWarnedBeforeDeath('heap', r.heap, 'heap');
      assert.ok(r.heap.signal === 'SIGABRT' || r.heap.code === 134, `died of V8's abort: ${r.heap.code} ${r.heap.signal}`);
      assert.strictEqual(w.limitKind, 'heap');
      assert.strictEqual(w.limit, 192 * MB, "the old generation's limit, --max-old-space-size, on every node");
    });
    await t.test('heap: the near-limit report outlives the process and names the leaking class first', () => {
      const files = fs.readdirSync(reportDir);
      assert.strictEqual(files.length, 1, `one report: ${files}`);
      assert.match(files[0], /^memwatch-near-limit\.\d{8}T\d{6}\.\d+\.001\.json$/);
      const file = path.join(reportDir, files[0]);
      assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600);
      const report = JSON.parse(fs.readFileSync(file, 'utf8'));
      assert.strictEqual(report.leak.kind, 'heap');
      assert.strictEqual(report.leak.runway, true);
      assert.strictEqual(report.grew[0].what, 'OrderRecord', JSON.stringify(report.grew.slice(0, 3)));
      assert.ok(report.grew[0].growth > 100_000, `${report.grew[0].growth} OrderRecords`);
      assert.ok(report.history.length >= 3 && report.history.at(-1).current_base > report.history[0].current_base);
      assert.strictEqual(report.limits.heap.runwayLimit, 192 * MB);
      const cli = require('node:child_process').spawnSync(process.execPath, [path.join(__dirname, '..', 'cli.js'), 'report', file], { encoding: 'utf8' });
      assert.strictEqual(cli.status, 0, cli.stderr);
      assert.match(cli.stdout, /^leak \(heap\): heap grew .* limit in \d+m?s$/m);
      assert.match(cli.stdout, /^grew since then, by constructor:\n {2}\+[\d,]+ OrderRecord/m);
    });
    await t.test('memory: a container limit', { skip: memCg.skip }, () => {
      const w = assertWarnedBeforeDeath('memory', r.memory, 'memory');
      assert.strictEqual(r.memory.signal, 'SIGKILL', 'killed by the kernel');
      assert.strictEqual(w.limitKind, 'container');
      assert.strictEqual(w.limit, 200 * MB);
      assert.match(w.reason, /^rss grew .* the container's 200 mb limit in \d+m?s$/);
    });
    await t.test('fds: ulimit -n', () => {
      const w = assertWarnedBeforeDeath('fds', r.fds, 'fds');
      assert.match(r.fds.stderr, /EMFILE/);
      assert.strictEqual(w.limit, 1024);
      assert.strictEqual(w.limitKind, 'open-files');
    });
    await t.test('a cache warming to a third of the heap', () => assertSilentNear('cache', r.cache, (d) => assert.ok(d.peak.heap > d.heapLimit * 0.3, `peak ${d.peak.heap} of ${d.heapLimit}`)));
    await t.test('a batch job climbing to 45% of the heap limit and falling', () => assertSilentNear('batch', r.batch, (d) => assert.ok(d.peak.heap > d.heapLimit * 0.4, `peak ${d.peak.heap} of ${d.heapLimit}`)));
    await t.test('a heap steady near 75% of its limit', () => assertSilentNear('steady', r.steady, (d) => assert.ok(d.peak.heap > d.heapLimit * 0.65, `peak ${d.peak.heap} of ${d.heapLimit}`)));
    await t.test("a one-off load of 40% of the container's memory", { skip: loadCg.skip }, () => assertSilentNear('load', r.load, (d) => assert.ok(d.peak.rss > d.memLimit * 0.4 && d.memLimit === 300 * MB, `peak ${d.peak.rss} of ${d.memLimit}`)));
    await t.test('a pool of 600 files opened at once and kept', () => assertSilentNear('pool', r.pool, (d) => assert.ok(d.peak.fds > 600, `peak ${d.peak.fds} fds`)));
  } finally {
    fs.rmSync(reportDir, { recursive: true, force: true });
    if (memCg.remove) memCg.remove();
    if (loadCg.remove) loadCg.remove();
  }
});

test('the machine is the limit where there is no container', () => {
  const { memoryLimit } = require('../lib/runway.js');
  const m = memoryLimit();
  const constrained = Number(process.constrainedMemory());
  if (constrained > 0 && constrained < os.totalmem()) assert.deepStrictEqual([m.kind, m.limit], ['container', constrained]);
  else assert.deepStrictEqual([m.kind, m.limit], ['machine', os.totalmem()]);
});

test("the last resort: a heap filled in under a second still gets its 'leak' and its report, from V8's near-heap-limit callback", { timeout: 60_000 }, async () => {
  const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'memwatch-burst-'));
  try {
    const r = await run('burst', { nodeArgs: ['--max-old-space-size=64'], rate: 8, env: { MEMWATCH_REPORT_DIR: reportDir } });
    assert.ok(!r.done && (r.signal === 'SIGABRT' || r.code === 134), `died of V8's abort: ${r.code} ${r.signal}`);
    const last = r.events.find((e) => e.nearLimit);
    assert.ok(last, `a near-limit 'leak' before the abort: ${JSON.stringify(r.events)} ${r.stderr.slice(-300)}`);
    assert.strictEqual(last.kind, 'heap');
    assert.match(last.reason, /^the heap reached V8's [\d.]+ mb limit; memwatch-rs raised it once, to [\d.]+ mb/);
    const files = fs.readdirSync(reportDir);
    assert.strictEqual(files.length, 1, `one report: ${files}`);
    const report = JSON.parse(fs.readFileSync(path.join(reportDir, files[0]), 'utf8'));
    assert.strictEqual(report.grew[0].what, 'OrderRecord', JSON.stringify(report.grew.slice(0, 3)));
    assert.strictEqual(report.leak.nearLimit, true);
  } finally {
    fs.rmSync(reportDir, { recursive: true, force: true });
  }
});
