'use strict';
// memwatch.openTelemetry(meter) with the real OpenTelemetry SDK (@opentelemetry/sdk-metrics, a
// dev dependency): a metric reader collects memwatch's instruments, with their units, and sees
// the leak state change for a leak.
const test = require('node:test');
const assert = require('node:assert');
const { MeterProvider, MetricReader, AggregationTemporality } = require('@opentelemetry/sdk-metrics');

const memwatch = require('..');
const { settle } = require('./helpers');

class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  async onForceFlush() {}
  async onShutdown() {}
}

async function collect(reader) {
  const { resourceMetrics, errors } = await reader.collect();
  assert.deepStrictEqual(errors, []);
  const out = {};
  for (const sm of resourceMetrics.scopeMetrics) {
    for (const md of sm.metrics) out[md.descriptor.name] = { unit: md.descriptor.unit, type: md.dataPointType, points: md.dataPoints };
  }
  return out;
}

const point = (m, attrs = {}) => m && m.points.find((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v));

test('openTelemetry(meter): the SDK collects the instruments with units, and the leak state follows a leak', async (t) => {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  const handle = memwatch.openTelemetry(provider.getMeter('memwatch-test'));
  const watch = memwatch.watchResources({ fds: true, timers: true, external: true, intervalMs: 20 });
  const beat = setInterval(() => {}, 60000);
  t.after(() => {
    handle.stop();
    watch.stop();
    clearInterval(beat);
    delete globalThis.__otelLeak;
    return provider.shutdown();
  });
  memwatch.gc();
  await settle(80);
  let m = await collect(reader);
  const units = {
    'memwatch.heap.base': 'By',
    'memwatch.heap.estimated_base': 'By',
    'memwatch.heap.size_limit': 'By',
    'memwatch.memory.limit': 'By',
    'memwatch.resource.limit': '{resource}',
    'memwatch.heap.trend': 'By/s',
    'memwatch.leak.suspected': '1',
    'memwatch.leak.events': '{event}',
    'memwatch.gc.full': '{gc}',
    'memwatch.gc.time_ratio': '1',
    'memwatch.resource.count': '{resource}',
    'memwatch.external.memory': 'By',
    'v8js.memory.heap.used': 'By',
    'v8js.memory.heap.space.size': 'By',
    'v8js.memory.heap.space.available_size': 'By',
    'v8js.memory.heap.space.physical_size': 'By',
    'v8js.resource.active': '{resource}',
  };
  for (const [name, unit] of Object.entries(units)) {
    assert.ok(m[name], `${name} collected`);
    assert.strictEqual(m[name].unit, unit, `${name} in ${unit}`);
  }
  assert.ok(point(m['memwatch.heap.base']).value > 0);
  assert.ok(point(m['memwatch.heap.size_limit'], { 'memwatch.limit.kind': 'heap' }).value >= point(m['memwatch.heap.base']).value, "V8's limit binds without a container");
  assert.strictEqual(point(m['memwatch.memory.limit'], { 'memwatch.limit.kind': 'machine' }).value, require('node:os').totalmem());
  assert.ok(point(m['memwatch.resource.limit'], { 'memwatch.resource.kind': 'fds' }).value >= 1024, 'the soft ulimit -n');
  assert.ok(point(m['v8js.memory.heap.used'], { 'v8js.heap.space.name': 'old_space' }).value > 0, 'per heap space, named as the conventions name them');
  assert.ok(point(m['memwatch.resource.count'], { 'memwatch.resource.kind': 'fds' }).value >= 3);
  assert.ok(point(m['v8js.resource.active'], { 'v8js.resource.type': 'Timeout' }).value >= 1, 'active timers by type, as the conventions name them');
  assert.ok(point(m['memwatch.external.memory'], { 'memwatch.memory.type': 'total' }).value > 0);
  assert.strictEqual(point(m['memwatch.leak.suspected'], { 'memwatch.leak.kind': 'heap' }).value, 0);
  const gcsBefore = point(m['memwatch.gc.full']).value;
  // A harness-paced leak: 2 MB more after every gc(); the forced-GC path decides within 10 calls.
  globalThis.__otelLeak = [];
  for (let i = 0; i < 14; i++) {
    globalThis.__otelLeak.push(Array.from({ length: 20000 }, (_, j) => ({ i, j, s: `leak-${String(j).padStart(6, '0')}` })));
    memwatch.gc();
    await settle(10);
  }
  m = await collect(reader);
  assert.strictEqual(point(m['memwatch.leak.suspected'], { 'memwatch.leak.kind': 'heap' }).value, 1, 'the leak is suspected');
  assert.ok(point(m['memwatch.leak.events'], { 'memwatch.leak.kind': 'heap' }).value >= 1);
  assert.ok(point(m['memwatch.gc.full']).value >= gcsBefore + 14, 'full GCs counted, cumulatively');
  assert.ok(point(m['memwatch.heap.trend']).value > 0);
  assert.ok(point(m['memwatch.heap.time_to_limit']).value > 0, 'a time to the heap limit while it rises');
});

test('openTelemetry: { v8js: false } leaves the per-space instruments to the runtime instrumentation; bad meters are refused', async () => {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  const handle = memwatch.openTelemetry(provider.getMeter('memwatch-test-2'), { v8js: false });
  memwatch.gc();
  await settle(50);
  const m = await collect(reader);
  assert.ok(m['memwatch.heap.base']);
  assert.strictEqual(Object.keys(m).some((n) => n.startsWith('v8js.')), false);
  const before = point(m['memwatch.heap.base']).value;
  handle.stop();
  // After stop() the callback no longer runs: the SDK keeps reporting the last value it saw.
  globalThis.__otelStop = Array.from({ length: 50000 }, (_, i) => ({ i }));
  memwatch.gc();
  await settle(50);
  const after = await collect(reader);
  delete globalThis.__otelStop;
  const last = point(after['memwatch.heap.base']);
  assert.ok(last === undefined || last.value === before, 'stop() ends the observations');
  await provider.shutdown();
  assert.throws(() => memwatch.openTelemetry({}), /expected an OpenTelemetry Meter/);
  assert.throws(() => memwatch.openTelemetry(provider.getMeter('x'), { v8: false }), /unknown option "v8"; known options: v8js/);
});

test('openTelemetry() without a meter uses the global meter provider of @opentelemetry/api', async () => {
  const api = require('@opentelemetry/api');
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  api.metrics.setGlobalMeterProvider(provider);
  const handle = memwatch.openTelemetry();
  memwatch.gc();
  const m = await collect(reader);
  assert.ok(m['memwatch.gc.time_ratio']);
  const ratio = point(m['memwatch.gc.time_ratio']).value;
  assert.ok(ratio >= 0 && ratio <= 1);
  handle.stop();
  api.metrics.disable();
  await provider.shutdown();
});
