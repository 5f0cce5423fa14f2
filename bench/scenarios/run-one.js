'use strict';
// Runs one scenario as a real HTTP service on 127.0.0.1, driven by a bounded load from a
// separate process, with memwatch-rs listening and natural GCs only (memwatch.gc() is never
// called). Prints one JSON line: when the first 'leak' came, after how many full GCs, and how
// many 'leak' events there were.
//
//   node bench/scenarios/run-one.js <scenario> <seconds> [--stop-at-leak] [--options JSON]
//        [--no-churn] [--record FILE]
// --options are passed to memwatch.setOptions (e.g. '{"detector":"memwatch"}' for memwatch's rule).
// Every scenario gets the medium-lived data of churn.js unless --no-churn. --record writes the
// post-GC series (a fixture for the core's replay harness, see bench/detector).
const path = require('node:path');
const { fork } = require('node:child_process');
const memwatch = require('../..');
const fs = require('node:fs');
const { createServer } = require('./server');
const churn = require('./churn');

const [name, secondsArg] = process.argv.slice(2);
const stopAtLeak = process.argv.includes('--stop-at-leak');
const scenario = require(path.join(__dirname, `${name}.js`));
const seconds = Number(secondsArg || 60);
const withChurn = !process.argv.includes('--no-churn');
const recordAt = process.argv.indexOf('--record');
const recordFile = recordAt > 0 ? process.argv[recordAt + 1] : null;
const series = [];
let heapLimit = 0;
const optionsAt = process.argv.indexOf('--options');
if (optionsAt > 0) memwatch.setOptions(JSON.parse(process.argv[optionsAt + 1]));

let started = 0;
let fullGcs = 0;
let lastStats = null;
const leaks = [];
memwatch.on('stats', (s) => {
  fullGcs++;
  lastStats = s;
  heapLimit = s.heap_size_limit;
  if (started) series.push(`${Math.round(s.gc_ts / 1000 - started)} ${s.current_base}`);
});
memwatch.on('leak', (info) => {
  const entry = { at_s: (Date.now() - started) / 1000, full_gcs: fullGcs, growth: info.growth, reason: info.reason, window_s: (info.end - info.start) / 1000 };
  // With allocationSamplingBytes: the top sites, as { function, script (basename), line, bytes,
  // callerBytes, stack (innermost first, basenames) }.
  if (info.sites)
    entry.sites = info.sites.slice(0, 3).map((x) => ({
      function: x.function,
      script: path.basename(x.script),
      line: x.line,
      bytes: x.bytes,
      callerBytes: x.callerBytes,
      stack: x.frames.map((f) => `${f.function}@${path.basename(f.script)}:${f.line}`).join(' <- '),
    }));
  leaks.push(entry);
  if (stopAtLeak) finish();
});

let load = null;
let done = false;
let served = 0;
const server = createServer((ctx) => {
  served++;
  if (withChurn) churn.touch(ctx);
  return scenario.handle(ctx);
});

function finish() {
  if (done) return;
  done = true;
  if (load) load.kill();
  if (recordFile) {
    const head = `# memwatch-rs post-GC series: ${name} (${scenario.kind}${withChurn ? ', with churn' : ''}): ${scenario.description}\n# node ${process.version}, heap limit ${heapLimit}; lines: <ms since start> <used heap after full GC>\n`;
    fs.writeFileSync(recordFile, head + series.join('\n') + '\n');
  }
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
  // The load's request bound scales with the run (load.js's default, 5 million, ended a 600-s
  // memo-cache run alone at ~21,000 requests/s before its leak was judged).
  load = fork(path.join(__dirname, 'load.js'), [url, String(seconds), '16', String(seconds * 50000)], { execArgv: [] }); // the service's V8 flags are its own
  load.on('exit', finish);
  setTimeout(finish, (seconds + 5) * 1000).unref();
});
