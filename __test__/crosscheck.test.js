'use strict';
// Cross-check of the analyzer against DevTools' algorithm, as memlab (a dev-only dependency)
// ports it: on snapshots node writes here, the root's retained size (the whole heap) and the
// retained sizes of the fixture's classes and objects must agree exactly.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const memwatch = require('..');

const { utils, analysis, config } = require('@memlab/core');

config.muteConsole = true;

/** DevTools' class name (the same rule the analyzer documents). */
function className(n) {
  if (n.type === 'object' || n.type === 'native') return n.name;
  if (n.type === 'hidden') return '(system)';
  if (n.type === 'code') return '(compiled code)';
  return `(${n.type})`;
}

async function memlabView(file) {
  const heap = await utils.getSnapshotFromFile(file, { buildNodeIdIndex: true });
  analysis.preparePathFinder(heap); // dominators and retained sizes
  const byId = new Map();
  let root = null;
  heap.nodes.forEach((n) => {
    if (root === null) root = n;
    byId.set(n.id, { retained: n.retainedSize, cls: className(n), dom: n.dominatorNode ? n.dominatorNode.id : null });
  });
  // Per-class retained size without double counting instances nested under the same class.
  const classes = new Map();
  for (const [id, x] of byId) {
    let nested = false;
    for (let d = x.dom, hops = 0; d !== null && d !== root.id && d !== id && hops < 100000; hops++) {
      const up = byId.get(d);
      if (!up) break;
      if (up.cls === x.cls) {
        nested = true;
        break;
      }
      if (up.dom === d) break;
      d = up.dom;
    }
    if (!nested) classes.set(x.cls, (classes.get(x.cls) || 0) + x.retained);
  }
  return { total: root.retainedSize, byId, classes };
}

function fixtureSnapshot(tag, setup) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `memwatch-rs-cross-${tag}-`));
  const file = path.join(dir, `${tag}.heapsnapshot`);
  const r = spawnSync(process.execPath, ['-e', `${setup}\nrequire('v8').writeHeapSnapshot(${JSON.stringify(file)});`], { encoding: 'utf8' });
  assert.strictEqual(r.status, 0, r.stderr);
  return file;
}

const FIXTURES = {
  // Nested instances of one class (a tree), a shared object (dominated by neither holder),
  // weak references, a Map cache, closures and an emitter.
  mixed: `
    const { EventEmitter } = require('node:events');
    class TreeNode { constructor(depth) { this.kids = depth ? [new TreeNode(depth - 1), new TreeNode(depth - 1)] : []; this.pad = 'p'.repeat(depth * 8); } }
    class Shared { constructor() { this.blob = new Array(500).fill(7); } }
    class Holder { constructor(s) { this.shared = s; this.own = { x: new Array(100).fill(1) }; } }
    class CacheEntry { constructor(k) { this.k = k; this.v = 'v' + k; } }
    const shared = new Shared();
    globalThis.keep = {
      tree: new TreeNode(9),
      holders: [new Holder(shared), new Holder(shared)],
      cache: new Map(Array.from({ length: 3000 }, (_, i) => ['k' + i, new CacheEntry(i)])),
      weak: new WeakRef(new Holder(new Shared())),
      bus: new EventEmitter(),
    };
    for (let i = 0; i < 200; i++) { const ctx = { i }; keep.bus.on('tick', () => ctx.i); }
  `,
  // A deep chain: dominators 5,000 levels deep.
  deep: `
    class Link { constructor(next) { this.next = next; } }
    let head = null; for (let i = 0; i < 5000; i++) head = new Link(head);
    globalThis.chain = head;
  `,
};

for (const [tag, setup] of Object.entries(FIXTURES)) {
  test(`retained sizes agree with DevTools' algorithm (memlab) on a node snapshot: ${tag}`, async () => {
    const file = fixtureSnapshot(tag, setup);
    const ours = memwatch.analyze(file, { top: 100000 });
    const theirs = await memlabView(file);
    assert.strictEqual(ours.totalSize, theirs.total, 'the root retains the whole heap, in both');
    // Every class of the fixture, and the big structural classes.
    const mine = new Map(ours.classes.map((c) => [c.className, c.retainedSize]));
    const names = ['TreeNode', 'Shared', 'Holder', 'CacheEntry', 'Link', 'Map', 'EventEmitter', 'Array', 'Object', '(closure)', '(array)', '(string)'];
    let compared = 0;
    for (const name of names) {
      if (!theirs.classes.has(name)) continue;
      assert.strictEqual(mine.get(name), theirs.classes.get(name), `class ${name}`);
      compared++;
    }
    assert.ok(compared >= (tag === 'deep' ? 3 : 10), `${compared} classes compared`);
    // The largest objects, one by one.
    for (const o of ours.largest.slice(0, 50)) {
      assert.strictEqual(o.retainedSize, theirs.byId.get(o.id).retained, `${o.className} @${o.id}`);
    }
    fs.rmSync(path.dirname(file), { recursive: true });
  });
}
