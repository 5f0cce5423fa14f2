#!/usr/bin/env node
'use strict';
// memwatch-rs command line: offline analysis and comparison of V8 heap snapshots.
//
//   npx memwatch-rs analyze app.heapsnapshot [--json] [--top N] [--html report.html]
//   npx memwatch-rs diff before.heapsnapshot after.heapsnapshot [--json] [--top N] [--html f]
//   npx memwatch-rs leaks base.heapsnapshot target.heapsnapshot final.heapsnapshot [...]

const path = require('node:path');

const USAGE = `usage: memwatch-rs <command> <files...> [--json] [--top N] [--html report.html] [--timings]

commands:
  analyze <file>                 totals, suspects (objects retaining >10% of the heap, where
                                 their memory accumulates and how a GC root reaches them),
                                 per-class table, largest objects
  diff <before> <after>          per-class objects allocated and deleted between two
                                 snapshots, by node id (DevTools' Comparison view)
  leaks <base> <target> <final>  objects allocated between base and target that are still
                                 alive in final, grouped by the retainer path that holds them

options:
  --json          the report as JSON
  --top N         rows per table (default 20)
  --html FILE     also write a self-contained HTML report (treemap, sortable tables, paths)
  --timings       phase timings on stderr at the end (analyze)

Progress (phase and percent) shows on stderr when it is a terminal.`;

const ARITY = { analyze: 1, diff: 2, leaks: 3 };

function parse(argv) {
  const [command, ...rest] = argv;
  const opts = { command, files: [], json: false, top: 20, html: null, timings: false };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === '--json') opts.json = true;
    else if (a === '--timings') opts.timings = true;
    else if (a === '--top') {
      opts.top = Number(rest[++i]);
      if (!Number.isInteger(opts.top) || opts.top < 1 || opts.top > 100000) throw new UsageError('--top takes a whole number from 1 to 100000');
    } else if (a === '--html') {
      opts.html = rest[++i];
      if (!opts.html || opts.html.startsWith('-')) throw new UsageError('--html takes an output file name');
    } else if (a.startsWith('-')) throw new UsageError(`unknown option "${a}"`);
    else opts.files.push(a);
  }
  const want = ARITY[command];
  if (opts.files.length !== want) {
    throw new UsageError(`${command} takes ${want} snapshot file${want > 1 ? 's' : ''}, got ${opts.files.length}`);
  }
  return opts;
}

class UsageError extends Error {}

function main(argv) {
  const command = argv[0];
  if (!command || command === '-h' || command === '--help') {
    console.log(USAGE);
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
    console.error(`memwatch-rs: ${e.message}\n\n${USAGE}`);
    return 2;
  }
  const memwatch = require(path.join(__dirname, 'index.js'));
  const progress = Boolean(process.stderr.isTTY);
  try {
    let report;
    if (command === 'analyze') {
      if (!o.json && !o.html) {
        process.stdout.write(memwatch.analyzeText(o.files[0], { top: o.top, timings: o.timings, progress }));
        return 0;
      }
      report = memwatch.analyze(o.files[0], { top: o.top, timings: o.timings, progress });
    } else if (command === 'diff') {
      report = memwatch.diffSnapshots(o.files[0], o.files[1], { top: o.top, progress });
    } else {
      report = memwatch.findLeaks(o.files[0], o.files[1], o.files[2], { top: o.top, progress });
    }
    if (o.html) {
      const written = require('./report-html.js').writeHtml(o.html, { kind: command, report, files: o.files });
      console.error(`memwatch-rs: HTML report written to ${written}`);
    }
    if (o.json) process.stdout.write(JSON.stringify(report) + '\n');
    else process.stdout.write(toText(command, report));
    return 0;
  } catch (e) {
    console.error(e.message);
    return 1;
  }
}

// Text for diff and leaks, from their JSON (analyze has its own text renderer natively).
function toText(command, r) {
  const n = (x) => Number(x).toLocaleString('en-US');
  const s = (x) => (x > 0 ? '+' : x < 0 ? '-' : '') + n(Math.abs(x));
  const pad = (x, w, left = false) => (left ? String(x).padEnd(w) : String(x).padStart(w));
  const lines = [];
  if (command === 'analyze') {
    // With --html, a short summary: the page has the rest.
    lines.push(`heap: ${n(r.totalSize)} bytes in ${n(r.nodes)} nodes, ${n(r.edges)} edges`);
    for (const x of r.suspects) lines.push(`suspect: ${x.object.className} @${x.object.id} retains ${n(x.object.retainedSize)} bytes (${x.percent.toFixed(1)}%)`);
  } else if (command === 'diff') {
    lines.push(`before: ${n(r.before.size)} bytes in ${n(r.before.nodes)} nodes`);
    lines.push(`after:  ${n(r.after.size)} bytes in ${n(r.after.nodes)} nodes (${s(r.after.size - r.before.size)} bytes)`, '');
    lines.push(`${pad('class', 40, true)} ${pad('# new', 10)} ${pad('# deleted', 10)} ${pad('# delta', 10)} ${pad('size delta', 14)}`);
    for (const c of r.classes) {
      const name = c.className.length > 40 ? c.className.slice(0, 39) + '…' : c.className;
      lines.push(`${pad(name, 40, true)} ${pad(n(c.addedCount), 10)} ${pad(n(c.removedCount), 10)} ${pad(s(c.countDelta), 10)} ${pad(s(c.sizeDelta), 14)}`);
    }
  } else {
    lines.push(`${n(r.leakedObjects)} objects (${n(r.leakedShallowSize)} bytes) were allocated between base and target and are still alive in final.`, '');
    if (!r.groups.length) lines.push('No leaked objects.');
    else lines.push('by retainer path (largest retained first):');
    r.groups.forEach((g, i) => {
      lines.push('', `${i + 1}. ${n(g.count)} x ${g.className} (${n(g.objects)} objects in all) retain ${n(g.retainedSize)} bytes`);
      lines.push(`   held by: ${g.signature}`, `   e.g. ${g.samplePath}`);
    });
    if (r.classes.length) {
      lines.push('', 'by class:', `${pad('class', 40, true)} ${pad('count', 10)} ${pad('shallow bytes', 16)}`);
      for (const c of r.classes) lines.push(`${pad(c.className.slice(0, 40), 40, true)} ${pad(n(c.count), 10)} ${pad(n(c.shallowSize), 16)}`);
    }
  }
  return lines.join('\n') + '\n';
}

// `memwatch-rs analyze big.heapsnapshot | head` closes the pipe early: that is not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

process.exitCode = main(process.argv.slice(2));
