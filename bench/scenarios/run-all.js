#!/usr/bin/env node
'use strict';
// The leak-detection table: every scenario under bench/scenarios, each a real HTTP service on
// 127.0.0.1 driven by a bounded load from a separate process, with natural GCs only.
// Leaks get up to 30 s of driving (stopping at the first 'leak'); controls run 60 s and must
// not raise any 'leak'.
//
//   npm run scenarios                  # all, once
//   node bench/scenarios/run-all.js --runs 3 [--only request-log,busy-server] [--options JSON]
const path = require('node:path');
const { runJson, median, arg } = require('../lib/stats');

const LEAKS = ['request-log', 'listeners', 'memo-cache', 'timers'];
const CONTROLS = ['lru-cache', 'busy-server', 'shrinking', 'noisy-queue'];

const runs = Number(arg('runs', 1));
const only = arg('only', null);
const leakSeconds = Number(arg('leak-seconds', 30));
const controlSeconds = Number(arg('control-seconds', 60));
const script = path.join(__dirname, 'run-one.js');

const rows = [];
for (const name of [...LEAKS, ...CONTROLS]) {
  if (only && !only.split(',').includes(name)) continue;
  const isLeak = LEAKS.includes(name);
  const results = [];
  for (let r = 0; r < runs; r++) {
    const args = [name, String(isLeak ? leakSeconds : controlSeconds)];
    if (isLeak) args.push('--stop-at-leak');
    if (arg('options', null)) args.push('--options', arg('options', null));
    const res = runJson(script, args, { timeout: 180000 });
    results.push(res);
    process.stderr.write(`${name} run ${r + 1}: ${res.leaks.length} leak event(s), ${res.full_gcs} full GCs, ${res.seconds}s\n`);
  }
  const caught = results.filter((x) => x.leaks.length > 0);
  rows.push({
    name,
    kind: isLeak ? 'leak' : 'control',
    caught: `${caught.length}/${runs}`,
    seconds: caught.length ? median(caught.map((x) => x.leaks[0].at_s)).toFixed(1) : '-',
    gcs: caught.length ? String(median(caught.map((x) => x.leaks[0].full_gcs))) : '-',
    falseAlarms: isLeak ? '-' : String(results.reduce((n, x) => n + x.leaks.length, 0)),
    driven: `${median(results.map((x) => x.seconds)).toFixed(0)}s, ${median(results.map((x) => x.full_gcs))} full GCs`,
  });
}

console.log(`\nleak detection, node ${process.version}, natural GCs only, ${runs} run(s) per scenario${arg('options', null) ? `, options ${arg('options', null)}` : ''}\n`);
console.log('| scenario | kind | leak caught | s to 1st leak | full GCs to 1st leak | false alarms | driven |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.name} | ${r.kind} | ${r.kind === 'leak' ? r.caught : '-'} | ${r.seconds} | ${r.gcs} | ${r.falseAlarms} | ${r.driven} |`);
}
