'use strict';
// The alerting rules and the Grafana dashboard shipped in alerting/: promtool (Debian's
// prometheus package, installed by the dev install step) checks the rules and runs their unit
// tests; every expression, the dashboard's included, is valid PromQL and uses only metrics that
// memwatch.prometheus() exports.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const DIR = path.join(__dirname, '..', 'alerting');
const PROMTOOL = process.env.MEMWATCH_RS_PROMTOOL || '/usr/bin/promtool';
const missing = !fs.existsSync(PROMTOOL);
const skip = missing && process.env.CI !== 'true' ? `promtool is not installed at ${PROMTOOL} (Debian: apt-get install prometheus)` : false;

function promtool(args, cwd = DIR) {
  assert.ok(!missing, `promtool must be installed at ${PROMTOOL} (the dev install step installs Debian's prometheus)`);
  return spawnSync(PROMTOOL, args, { cwd, encoding: 'utf8' });
}

/** The metric names memwatch.prometheus() registers. */
function exported() {
  const client = require('prom-client');
  const registry = new client.Registry();
  const h = require('..').prometheus(registry);
  const names = registry.getMetricsAsArray().map((m) => m.name);
  h.stop();
  return new Set(names);
}

/** memwatch_* names an expression uses. */
function metricNames(expr) {
  return [...new Set(expr.match(/\bmemwatch_[a-z_]+/g) || [])];
}

test('the alerting rules pass promtool check and their unit tests', { skip }, () => {
  const check = promtool(['check', 'rules', 'memwatch.rules.yml']);
  assert.strictEqual(check.status, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /SUCCESS: 5 rules found/);
  const unit = promtool(['test', 'rules', 'memwatch.rules.test.yml']);
  assert.strictEqual(unit.status, 0, unit.stdout + unit.stderr);
});

test('the rules and the dashboard use only exported metrics, in valid PromQL', { skip }, () => {
  const names = exported();
  const rules = fs.readFileSync(path.join(DIR, 'memwatch.rules.yml'), 'utf8');
  for (const n of metricNames(rules)) assert.ok(names.has(n), `rules use ${n}, which memwatch does not export`);
  const dash = JSON.parse(fs.readFileSync(path.join(DIR, 'grafana-dashboard.json'), 'utf8'));
  const exprs = dash.panels.flatMap((p) => p.targets.map((t) => t.expr));
  assert.ok(exprs.length >= 7);
  for (const e of exprs) for (const n of metricNames(e)) assert.ok(names.has(n), `the dashboard uses ${n}, which memwatch does not export`);
  // Grafana's variables substituted, each expression as a recording rule: promtool parses it.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'memwatch-dash-'));
  try {
    const body = exprs
      .map((e, i) => `      - record: dashboard_expr_${i}\n        expr: '${e.replace(/\$__rate_interval/g, '5m').replace(/\$(job|instance)/g, '.*').replace(/'/g, "''")}'`)
      .join('\n');
    fs.writeFileSync(path.join(tmp, 'dash.yml'), `groups:\n  - name: dashboard\n    rules:\n${body}\n`);
    const r = promtool(['check', 'rules', 'dash.yml'], tmp);
    assert.strictEqual(r.status, 0, r.stdout + r.stderr);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
