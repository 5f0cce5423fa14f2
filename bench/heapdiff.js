#!/usr/bin/env node
'use strict';
// HeapDiff speed and memory on a heap of 1,000,000 live objects, in one run, alternating:
//   (a) memwatch-rs  new HeapDiff() + end()
//   (b) @airbnb/node-memwatch  new HeapDiff() + end()         (the anchor to beat)
//   (c) the floor: two bare V8 snapshots, taken the way memwatch-rs takes them, not walked
// Each measurement runs in a fresh process; peak RSS is that process's VmHWM minus its RSS
// just before the diff (the heap itself is the same in every mode). Prints medians and the
// ratios a/c, a/b and peak-RSS a/b. Then times memwatch-rs on a 1,000,000-deep linked list.
//
//   node bench/heapdiff.js [--runs 3] [--objects 1000000] [--depth 1000000]
//
// The airbnb anchor is installed for the benchmark only:
//   npm_config_nodedir=/usr npm install --no-save @airbnb/node-memwatch@3.0.0
const fs = require('node:fs');
const path = require('node:path');
const { median, runJson, available, fmt, arg: argText } = require('./lib/stats');

const arg = (name, fallback) => Number(argText(name, fallback));

const ROOT = path.resolve(__dirname, '..');

function rssKb(field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

// 1,000 shared names: the heap is ~1.04 snapshot nodes per object, as in REFERENCE.md.
const NAMES = Array.from({ length: 1000 }, (_, i) => `item-${i}`);

function buildHeap(objects) {
  class Item {
    constructor(i) {
      this.id = i;
      this.name = NAMES[i % 1000];
    }
  }
  const items = new Array(objects);
  for (let i = 0; i < objects; i++) items[i] = new Item(i);
  return items;
}

function buildList(depth) {
  class ListNode {
    constructor(next) {
      this.next = next;
    }
  }
  let head = null;
  for (let i = 0; i < depth; i++) head = new ListNode(head);
  return head;
}

function child(mode, size) {
  const heap = mode.endsWith('-list') ? buildList(size) : buildHeap(size);
  let run;
  if (mode.startsWith('memwatch-rs')) {
    const m = require(ROOT);
    run = () => {
      const hd = new m.HeapDiff();
      const d = hd.end();
      return d.after.nodes;
    };
  } else if (mode.startsWith('airbnb')) {
    const m = require(require.resolve('@airbnb/node-memwatch', { paths: [ROOT] }));
    run = () => {
      const hd = new m.HeapDiff();
      const d = hd.end();
      return d.after.nodes;
    };
  } else {
    const native = require(path.join(ROOT, 'prebuilds', `${process.platform}-${process.arch}`, `memwatch-rs.abi${process.versions.modules}.node`));
    run = () => {
      native._bareHeapSnapshot();
      return native._bareHeapSnapshot();
    };
  }
  const rssBefore = rssKb('VmRSS');
  const t = process.hrtime.bigint();
  const nodes = run();
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  const peakExtraMb = (rssKb('VmHWM') - rssBefore) / 1024;
  console.log(JSON.stringify({ mode, ms, nodes, peakExtraMb, kept: heap ? 1 : 0 }));
}

function main() {
  const c = process.argv.indexOf('--child');
  if (c > 0) return child(process.argv[c + 1], Number(process.argv[c + 2]));

  const runs = arg('runs', 3);
  const objects = arg('objects', 1e6);
  const depth = arg('depth', 1e6);
  const modes = ['memwatch-rs', 'floor'];
  if (available('@airbnb/node-memwatch')) modes.splice(1, 0, 'airbnb');
  else console.log('(@airbnb/node-memwatch not installed; see the header of this file)');

  const res = Object.fromEntries(modes.map((m) => [m, []]));
  const rounds = [];
  for (let r = 0; r < runs; r++) {
    const order = modes.map((_, i) => modes[(i + r) % modes.length]);
    const round = {};
    for (const mode of order) {
      const x = runJson(__filename, ['--child', mode, String(objects)], { nodeArgs: ['--max-old-space-size=8192'] });
      res[mode].push(x);
      round[mode] = x;
      process.stderr.write(`run ${r + 1}/${runs} ${mode}: ${x.ms.toFixed(0)} ms, +${x.peakExtraMb.toFixed(0)} MB peak, ${x.nodes} nodes\n`);
    }
    rounds.push(round);
  }
  // This machine's load drifts: ratios within a round (measured minutes apart at most) are
  // steadier than ratios of medians taken over the whole run; both are printed.
  const roundRatio = (x, y, key = 'ms') => median(rounds.map((r) => r[x][key] / r[y][key]));
  const t = (m) => median(res[m].map((x) => x.ms));
  const p = (m) => median(res[m].map((x) => x.peakExtraMb));
  console.log(`\nHeapDiff on ${objects} live objects (~${res['memwatch-rs'][0].nodes} snapshot nodes), node ${process.version}, median of ${runs}\n`);
  console.log('| what | time (s) | peak extra RSS (MB) |');
  console.log('|---|---|---|');
  const label = { 'memwatch-rs': '(a) memwatch-rs new HeapDiff() + end()', airbnb: '(b) @airbnb/node-memwatch HeapDiff', floor: '(c) floor: two bare V8 snapshots' };
  for (const m of modes) console.log(`| ${label[m]} | ${fmt(t(m) / 1000, 2)} | ${fmt(p(m), 0)} |`);
  console.log('\nratio        of medians   median of per-round ratios   target');
  console.log(`a/c time     ${fmt(t('memwatch-rs') / t('floor')).padStart(10)}   ${fmt(roundRatio('memwatch-rs', 'floor')).padStart(26)}   <= 1.10`);
  if (res.airbnb) {
    console.log(`a/b time     ${fmt(t('memwatch-rs') / t('airbnb')).padStart(10)}   ${fmt(roundRatio('memwatch-rs', 'airbnb')).padStart(26)}   <= 0.70`);
    console.log(`a/b peak RSS ${fmt(p('memwatch-rs') / p('airbnb')).padStart(10)}   ${fmt(roundRatio('memwatch-rs', 'airbnb', 'peakExtraMb')).padStart(26)}   <= 0.80`);
    console.log(`b/c time     ${fmt(t('airbnb') / t('floor')).padStart(10)}   ${fmt(roundRatio('airbnb', 'floor')).padStart(26)}   (how far the anchor is above the floor)`);
  }

  const list = runJson(__filename, ['--child', 'memwatch-rs-list', String(depth)], { nodeArgs: ['--max-old-space-size=8192'] });
  console.log(`\nmemwatch-rs HeapDiff on a ${depth}-deep linked list: ${fmt(list.ms / 1000, 2)} s, +${fmt(list.peakExtraMb, 0)} MB peak, no crash`);
}

main();
