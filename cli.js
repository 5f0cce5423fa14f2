#!/usr/bin/env node
'use strict';
// memwatch-rs command line: offline analysis and comparison of V8 heap snapshots.
//
//   npx memwatch-rs analyze app.heapsnapshot [--json] [--top N] [--html report.html]
//   npx memwatch-rs diff before.heapsnapshot after.heapsnapshot [--json] [--top N] [--html f]
//   npx memwatch-rs leaks base.heapsnapshot target.heapsnapshot final.heapsnapshot [...]

const path = require('node:path');

const USAGE = `usage: memwatch-rs <command> <files...> [--json] [--top N] [--html report.html] [--timings]
       memwatch-rs <command> --help | --help | --version

commands:
  analyze <file>                 totals, suspects (objects retaining >10% of the heap, where
                                 their memory accumulates and how a GC root reaches them),
                                 per-class table, largest objects
  diff <before> <after>          per-class objects allocated and deleted between two
                                 snapshots, by node id (DevTools' Comparison view)
  leaks <base> <target> <final>  objects allocated between base and target that are still
                                 alive in final, grouped by the retainer path that holds them
  report <file.json>             a near-limit report (memwatch.reportNearLimit): the leak, the
                                 limits, what grew by constructor, sites, the heap over time

options:
  --json          the report as JSON
  --top N         rows per table (default 20)
  --html FILE     also write a self-contained HTML report (treemap, sortable tables, paths)
  --timings       phase timings on stderr at the end (analyze)
  --all           diff: also the classes whose new and deleted objects cancel out (+0)
  --no-source-maps  show locations in the generated JavaScript, not through source maps

A file given as - is read from standard input (one per command line).
Progress (phase and percent) shows on stderr when it is a terminal.

exit codes: 0 done; 1 a file could not be read or analysed (the message says why);
            2 a usage error (the message and this usage go to stderr).`;

const HELP = {
  analyze: `usage: memwatch-rs analyze <file.heapsnapshot | -> [--json] [--top N] [--html FILE] [--timings]

Totals, suspects (objects retaining more than 10% of the heap, where their memory accumulates
and the shortest path from a GC root), a per-class table and the largest objects. Reads
.heapsnapshot files from any Node or Chrome, gzip-compressed or not.`,
  diff: `usage: memwatch-rs diff <before> <after> [--json] [--top N] [--all] [--html FILE]

Per class, the objects allocated (ids only in <after>) and deleted (ids only in <before>) between
two snapshots of one process, largest growth first; classes whose new and deleted objects cancel
out only with --all. A warning comes first when the two cannot be from one process, or look given
in the wrong order.`,
  leaks: `usage: memwatch-rs leaks <base> <target> <final> [--json] [--top N] [--html FILE]

The three-snapshot technique: objects allocated between <base> and <target> that are still alive
in <final>, grouped by the retainer path that holds them.`,
  report: `usage: memwatch-rs report <memwatch-near-limit.*.json | -> [--json] [--top N] [--html FILE]

A near-limit report written by memwatch.reportNearLimit(): the leak, the limits, what grew by
constructor, allocation sites and the heap over time. --json prints the data.`,
};

function version() {
  return require('./package.json').version;
}

const ARITY = { analyze: 1, diff: 2, leaks: 3, report: 1 };

function parse(argv) {
  const [command, ...rest] = argv;
  const opts = { command, files: [], json: false, top: 20, html: null, timings: false };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === '--json') opts.json = true;
    else if (a === '--timings') opts.timings = true;
    else if (a === '--all' && command === 'diff') opts.all = true;
    else if (a === '--no-source-maps') opts.noSourceMaps = true;
    else if (a === '--top') {
      opts.top = Number(rest[++i]);
      if (!Number.isInteger(opts.top) || opts.top < 1 || opts.top > 100000) throw new UsageError('--top takes a whole number from 1 to 100000');
    } else if (a === '--html') {
      opts.html = rest[++i];
      if (!opts.html || opts.html.startsWith('-')) throw new UsageError('--html takes an output file name');
    } else if (a === '--help' || a === '-h') opts.help = true;
    else if (a === '-') opts.files.push(stdinPath());
    else if (a.startsWith('-')) throw new UsageError(`unknown option "${a}"`);
    else opts.files.push(a);
  }
  if (opts.help) return opts;
  if (opts.files.filter((f) => f === STDIN).length > 1) throw new UsageError('standard input (-) can be given once');
  const want = ARITY[command];
  if (!opts.help && opts.files.length !== want) {
    throw new UsageError(`${command} takes ${want} snapshot file${want > 1 ? 's' : ''}, got ${opts.files.length}`);
  }
  return opts;
}

class UsageError extends Error {}

// Standard input (-): copied in chunks to a private temporary file (0600, in a fresh 0700
// directory, removed on exit) that the streaming reader opens like any file. /dev/stdin is not
// enough: a socket (what a parent process's pipe often is) cannot be opened through it.
const STDIN = '-';
let stdinCopy = null;
function stdinPath() {
  return STDIN;
}
function copyStdin() {
  if (stdinCopy) return stdinCopy;
  const fs = require('node:fs');
  const os = require('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memwatch-stdin-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'stdin');
  const out = fs.openSync(file, 'wx', 0o600);
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    for (;;) {
      let n;
      try {
        n = fs.readSync(0, buf, 0, buf.length, null);
      } catch (e) {
        if (e.code === 'EAGAIN') {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
          continue;
        }
        if (e.code === 'EOF') break;
        throw e;
      }
      if (n === 0) break;
      fs.writeSync(out, buf, 0, n);
    }
  } finally {
    fs.closeSync(out);
  }
  stdinCopy = file;
  return file;
}

function main(argv) {
  const command = argv[0];
  if (!command) {
    console.error(`memwatch-rs: say what to do\n\n${USAGE}`);
    return 2;
  }
  if (command === '-h' || command === '--help' || command === 'help') {
    console.log(argv[1] && HELP[argv[1]] ? HELP[argv[1]] : USAGE);
    return 0;
  }
  if (command === '-V' || command === '--version') {
    console.log(`memwatch-rs ${version()}`);
    return 0;
  }
  if (!ARITY[command]) {
    console.error(`memwatch-rs: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  let o;
  try {
    o = parse(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`memwatch-rs: ${e.message}\n\n${HELP[command]}`);
    return 2;
  }
  if (o.help) {
    console.log(HELP[command]);
    return 0;
  }
  const memwatch = require(path.join(__dirname, 'index.js'));
  const progress = Boolean(process.stderr.isTTY);
  try {
    const opts = { top: o.top, progress };
    if (o.all) opts.all = true;
    if (o.noSourceMaps) opts.sourceMaps = false;
    const [a, b, c] = o.files.map((f) => (f === STDIN ? copyStdin() : f));
    if (command === 'report') {
      const nearLimit = require('./lib/nearlimit.js');
      const data = nearLimit.readReport(a);
      if (o.html) {
        const written = require('./lib/report/html.js').writeHtml(o.html, { kind: 'near-limit', report: data, files: [a], stats: data.history, leak: data.leak });
        console.error(`memwatch-rs: HTML report written to ${written}`);
      }
      process.stdout.write(o.json ? `${JSON.stringify(data)}\n` : nearLimit.reportText(data, o.top));
      return 0;
    }
    if (!o.json && !o.html) {
      // Text only: each command's own (native) text renderer, one analysis.
      if (command === 'analyze') process.stdout.write(memwatch.analyzeText(a, { ...opts, timings: o.timings }));
      else if (command === 'diff') process.stdout.write(memwatch.diffSnapshotsText(a, b, opts));
      else process.stdout.write(memwatch.findLeaksText(a, b, c, opts));
      return 0;
    }
    let report;
    if (command === 'analyze') report = memwatch.analyze(a, { ...opts, timings: o.timings });
    else if (command === 'diff') report = memwatch.diffSnapshots(a, b, opts);
    else report = memwatch.findLeaks(a, b, c, opts);
    if (o.html) {
      const written = require('./lib/report/html.js').writeHtml(o.html, { kind: command, report, files: [a, b, c].filter(Boolean) });
      console.error(`memwatch-rs: HTML report written to ${written}`);
    }
    if (o.json) process.stdout.write(JSON.stringify(report) + '\n');
    else process.stdout.write(require('./lib/native.js').terminalSafe(summary(command, report)));
    return 0;
  } catch (e) {
    console.error(e.message);
    return 1;
  }
}

// With --html, stdout gets a short summary: the page has the rest.
function summary(command, r) {
  const n = (x) => Number(x).toLocaleString('en-US');
  const lines = [];
  if (command === 'analyze') {
    lines.push(`heap: ${n(r.totalSize)} bytes in ${n(r.nodes)} nodes, ${n(r.edges)} edges`);
    for (const x of r.suspects) lines.push(`suspect: ${x.object.className} @${x.object.id} retains ${n(x.object.retainedSize)} bytes (${x.percent.toFixed(1)}%)`);
  } else if (command === 'diff') {
    lines.push(`before: ${n(r.before.size)} bytes in ${n(r.before.nodes)} nodes; after: ${n(r.after.size)} bytes in ${n(r.after.nodes)} nodes`);
    for (const c of r.classes.slice(0, 5)) lines.push(`grew: ${c.className} ${c.countDelta >= 0 ? '+' : ''}${n(c.countDelta)} objects, ${c.sizeDelta >= 0 ? '+' : ''}${n(c.sizeDelta)} bytes`);
  } else {
    lines.push(`${n(r.leakedObjects)} objects allocated between base and target are still alive in final`);
    for (const g of r.groups) lines.push(`leak: ${n(g.count)} x ${g.className} retain ${n(g.retainedSize)} bytes, held by ${g.signature}`);
  }
  return lines.join('\n') + '\n';
}

// `memwatch-rs analyze big.heapsnapshot | head` closes the pipe early: that is not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

process.exitCode = main(process.argv.slice(2));
