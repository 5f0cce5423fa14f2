'use strict';
// Runs one scenario as a real HTTP service on 127.0.0.1, driven by a bounded load from a
// separate process, with memwatch-rs listening and natural GCs only (memwatch.gc() is never
// called). Prints one JSON line: when the first 'leak' came, after how many full GCs, and how
// many 'leak' events there were.
//
//   node bench/scenarios/run-one.js <scenario> <seconds> [--stop-at-leak] [--options JSON]
// --options are passed to memwatch.setOptions (e.g. '{"highWaterWindow":0}' for the bare rule).
const path = require('node:path');
const { fork } = require('node:child_process');
const memwatch = require('../..');
const { createServer } = require('./server');

const [name, secondsArg] = process.argv.slice(2);
const stopAtLeak = process.argv.includes('--stop-at-leak');
const scenario = require(path.join(__dirname, `${name}.js`));
const seconds = Number(secondsArg || 60);
const optionsAt = process.argv.indexOf('--options');
if (optionsAt > 0) memwatch.setOptions(JSON.parse(process.argv[optionsAt + 1]));

let started = 0;
let fullGcs = 0;
let lastStats = null;
const leaks = [];
memwatch.on('stats', (s) => {
  fullGcs++;
  lastStats = s;
});
memwatch.on('leak', (info) => {
  leaks.push({ at_s: (Date.now() - started) / 1000, full_gcs: fullGcs, growth: info.growth, reason: info.reason });
  if (stopAtLeak) finish();
});

let load = null;
let done = false;
let served = 0;
const server = createServer((ctx) => {
  served++;
  return scenario.handle(ctx);
});

function finish() {
  if (done) return;
  done = true;
  if (load) load.kill();
  console.log(
    JSON.stringify({
      scenario: name,
      kind: scenario.kind,
      seconds: (Date.now() - started) / 1000,
      requests: served,
      full_gcs: fullGcs,
      final_base: lastStats && lastStats.current_base,
      leaks,
    }),
  );
  process.exit(0);
}

server.listen(0, '127.0.0.1', () => {
  const url = `http://127.0.0.1:${server.address().port}/r/`;
  started = Date.now();
  load = fork(path.join(__dirname, 'load.js'), [url, String(seconds), '16']);
  load.on('exit', finish);
  setTimeout(finish, (seconds + 5) * 1000).unref();
});
