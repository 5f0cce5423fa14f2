#!/usr/bin/env node
'use strict';
// memwatch-rs command line: offline analysis of V8 heap snapshots.
//
//   npx memwatch-rs analyze app.heapsnapshot [--json] [--top N]

const path = require('node:path');

const USAGE = `usage: memwatch-rs analyze <file.heapsnapshot> [--json] [--top N] [--timings]

  analyze   totals, suspects (objects retaining >10% of the heap, where their memory
            accumulates and how a GC root reaches them), per-class table, largest objects
  --json    the same report as JSON
  --top N   rows per table (default 20)
  --timings phase timings on stderr at the end

  Progress (phase and percent) shows on stderr when it is a terminal.`;

function main(argv) {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help') {
    console.log(USAGE);
    return 0;
  }
  if (command !== 'analyze') {
    console.error(`memwatch-rs: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  let json = false;
  let timings = false;
  let top = 20;
  let file = null;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === '--json') json = true;
    else if (a === '--timings') timings = true;
    else if (a === '--top') {
      top = Number(rest[++i]);
      if (!Number.isInteger(top) || top < 1 || top > 100000) {
        console.error('memwatch-rs: --top takes a whole number from 1 to 100000');
        return 2;
      }
    } else if (a.startsWith('-')) {
      console.error(`memwatch-rs: unknown option "${a}"\n\n${USAGE}`);
      return 2;
    } else if (file) {
      console.error('memwatch-rs: analyze takes one snapshot file');
      return 2;
    } else file = a;
  }
  if (!file) {
    console.error(`memwatch-rs: analyze needs a .heapsnapshot file\n\n${USAGE}`);
    return 2;
  }
  const memwatch = require(path.join(__dirname, 'index.js'));
  try {
    process.stdout.write(memwatch.analyzeText(file, { top, json, timings, progress: Boolean(process.stderr.isTTY) }));
    if (json) process.stdout.write('\n');
    return 0;
  } catch (e) {
    console.error(e.message);
    return 1;
  }
}

// `memwatch-rs analyze big.heapsnapshot | head` closes the pipe early: that is not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

process.exitCode = main(process.argv.slice(2));
