#!/usr/bin/env node
'use strict';
// memwatch-rs demo: a small HTTP service with a classic leak (every request's session record is
// kept in a module-level array), driven by a bounded load on 127.0.0.1. memwatch-rs prints the
// heap after each full GC, announces the 'leak', and a HeapDiff names what leaked.
//
//   npm run demo
const http = require('node:http');
const path = require('node:path');
const { fork } = require('node:child_process');
const memwatch = require('..');

const MAX_SECONDS = 60;

// ---- the application, with its bug ----------------------------------------------------------
class SessionRecord {
  constructor(id, user, url) {
    this.id = id;
    this.user = user;
    this.url = url;
    this.startedAt = Date.now();
  }
}
const sessions = []; // BUG: nothing ever removes finished sessions

let served = 0;
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    sessions.push(new SessionRecord(++served, body.user, req.url));
    const payload = JSON.stringify({ ok: true, id: served });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(payload);
  });
});

// ---- memwatch-rs ----------------------------------------------------------------------------
// The trend detector ignores a service's first three minutes by default (caches and pools fill up
// then, which from the heap alone looks like a leak). This demo service has nothing to warm up
// and leaks from its first request, so it shortens that to 10 s to keep the demo short. A window
// of the trend needs a post-GC sample every few seconds; V8 runs few full GCs on a small heap,
// so the demo also asks for a sample at every 5% of growth (the default, 25%, suits big heaps).
memwatch.setOptions({ leakWarmupMs: 10000, sampleGrowthPercent: 5 });

const mb = (b) => `${(b / 1048576).toFixed(1)} MB`;
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;

memwatch.on('stats', (s) => {
  console.log(
    `[${elapsed().padStart(6)}] full GC #${s.num_full_gc}: heap after GC ${mb(s.current_base)}, ` +
      `estimated base ${mb(s.estimated_base)}, trend ${s.usage_trend}%`,
  );
});

let load = null;
let hd = null;
memwatch.once('leak', (info) => {
  console.log(`\n*** memwatch 'leak' after ${elapsed()} and ${served} requests`);
  console.log(`    ${info.reason}`);
  console.log(`    growth ${mb(info.growth)} between ${info.start.toISOString()} and ${info.end.toISOString()}`);
  const limit = info.timeToLimit === null ? 'never' : `in ${Math.round(info.timeToLimit)} s`;
  console.log(`    rate ${mb(info.rate * 60)}/min; the ${mb(info.heapLimit)} heap limit is reached ${limit} at this rate\n`);
  load.kill();
  console.log('HeapDiff since the server started (full GC + heap snapshot)...');
  const t = Date.now();
  const diff = hd.end();
  console.log(`done in ${Date.now() - t} ms: heap ${diff.before.size} -> ${diff.after.size} (${diff.change.size})\n`);
  const top = [...diff.change.details].sort((a, b) => b.size_bytes - a.size_bytes).slice(0, 6);
  console.log('  what                      +new      -freed    size change');
  for (const d of top) {
    console.log(`  ${d.what.padEnd(24)} ${String(d['+']).padStart(8)}  ${String(d['-']).padStart(8)}    ${d.size}`);
  }
  const culprit = top.find((d) => !['Array', 'String', 'Object', 'Code', 'Closure', 'Number', 'Native'].includes(d.what));
  if (culprit) {
    console.log(`\n=> ${culprit['+']} new ${culprit.what} objects are still alive (${culprit.size}): that is the leak.`);
    const sample = (diff.retainers || []).find((r) => r.what === culprit.what);
    if (sample) {
      if (sample.location) console.log(`   ${culprit.what} is defined at ${sample.location}`);
      console.log(`   held by: ${sample.path}`);
    }
  }
  server.close();
  process.exit(0);
});

server.listen(0, '127.0.0.1', () => {
  const url = `http://127.0.0.1:${server.address().port}/checkout/`;
  console.log(`memwatch-rs demo: leaky service on ${url}, driven for at most ${MAX_SECONDS}s\n`);
  hd = new memwatch.HeapDiff({ retainers: 3 }); // and say what holds the classes that grew
  load = fork(path.join(__dirname, '..', 'bench', 'scenarios', 'load.js'), [url, String(MAX_SECONDS), '16']);
  load.on('exit', () => {
    console.log(`no 'leak' within ${MAX_SECONDS}s (${served} requests)`);
    process.exit(1);
  });
});
