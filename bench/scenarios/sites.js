#!/usr/bin/env node
'use strict';
// Accuracy of allocation sampling (issue 13): every leak scenario of bench/scenarios, run live
// with `allocationSamplingBytes` until its first 'leak'; is the event's top site the leaking code
// (a function the scenario names in `leakFunctions`, in the scenario's own file)?
//
//   node bench/scenarios/sites.js [--runs 3] [--jobs 3] [--bytes 524288] [--warmup-ms 30000] [--seconds 300]
//        [--node-flags "--no-turbo-inlining --no-maglev-inlining"] [--exact-sites false] [--out results.json]
// The warm-up is shortened (the default is 3 minutes) so that a run takes about a minute: the
// sites then cover less growth than they would in production, which makes this harder, not easier.
// --node-flags runs each service with those V8 flags (turning inlining off names a leaking
// function that would otherwise be inlined into its caller); --exact-sites false leaves V8's
// inlining alone (by default memwatch turns it off while a leak is suspected, lib/inlining.js);
// --out keeps every run's top 3 sites.
const path = require('node:path');
const { spawn } = require('node:child_process');
const { arg } = require('../lib/stats');

const LEAKS = ['request-log', 'listeners', 'memo-cache', 'timers', 'plugin-reload', 'slow-log'];
const runs = Number(arg('runs', 3));
const jobs = Number(arg('jobs', 3));
const bytes = Number(arg('bytes', 524288));
const warmup = Number(arg('warmup-ms', 30000));
const seconds = Number(arg('seconds', 300));
const nodeFlags = String(arg('node-flags', '')).split(' ').filter(Boolean);
const out = arg('out', '');
const exactSites = arg('exact-sites', 'true') !== 'false';

function runOne(name) {
  const options = JSON.stringify({ allocationSamplingBytes: bytes, leakWarmupMs: warmup, exactSites });
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...nodeFlags, path.join(__dirname, 'run-one.js'), name, String(seconds), '--stop-at-leak', '--options', options], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', () => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()));
      } catch {
        resolve({ scenario: name, leaks: [], error: out.slice(-500) });
      }
    });
  });
}

async function main() {
  const queue = [];
  for (let r = 0; r < runs; r++) for (const name of LEAKS) queue.push(name);
  const results = [];
  const worker = async () => {
    while (queue.length) {
      const name = queue.shift();
      const res = await runOne(name);
      const scenario = require(path.join(__dirname, `${name}.js`));
      const leak = res.leaks[0];
      const top = leak && leak.sites && leak.sites[0];
      const right = Boolean(top && top.script === `${name}.js` && scenario.leakFunctions.includes(top.function));
      const inFile = Boolean(top && top.script === `${name}.js`);
      const inTop3 = Boolean(leak && leak.sites && leak.sites.some((x) => x.script === `${name}.js` && scenario.leakFunctions.includes(x.function)));
      results.push({ name, caught: Boolean(leak), right, inFile, inTop3, top, at: leak && leak.at_s, sites: leak && leak.sites });
      process.stderr.write(`${name}: ${leak ? `leak at ${leak.at_s.toFixed(0)} s, top site ${top ? `${top.function} (${top.script}:${top.line}, ${(top.bytes / 1048576).toFixed(1)} MB)` : 'none'} ${right ? 'RIGHT' : 'WRONG'}` : 'no leak'}\n`);
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  if (out) require('node:fs').writeFileSync(out, JSON.stringify(results, null, 1));
  console.log(`allocation sampling accuracy, every ${bytes} B, node ${process.version}${nodeFlags.length ? ` ${nodeFlags.join(' ')}` : ''}${exactSites ? '' : ', exactSites off'}, ${runs} runs of ${LEAKS.length} leak scenarios (warm-up ${warmup} ms)`);
  console.log('scenario         caught  top site is the leak  top site in its file  leak in the top 3   top sites seen');
  for (const name of LEAKS) {
    const rs = results.filter((r) => r.name === name);
    const seen = [...new Set(rs.filter((r) => r.top).map((r) => `${r.top.function}:${r.top.line}`))].join(', ');
    console.log(`${name.padEnd(16)} ${`${rs.filter((r) => r.caught).length}/${rs.length}`.padEnd(7)} ${`${rs.filter((r) => r.right).length}/${rs.length}`.padEnd(21)} ${`${rs.filter((r) => r.inFile).length}/${rs.length}`.padEnd(21)} ${`${rs.filter((r) => r.inTop3).length}/${rs.length}`.padEnd(18)} ${seen}`);
  }
  const caught = results.filter((r) => r.caught);
  console.log(`all: top site is the leaking function in ${results.filter((r) => r.right).length}/${caught.length} caught leaks, in the leak's file in ${results.filter((r) => r.inFile).length}/${caught.length}, the leak in the top 3 in ${results.filter((r) => r.inTop3).length}/${caught.length}`);
}

main();
