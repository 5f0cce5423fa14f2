'use strict';
// memlab as a benchmark anchor: its core API parses the snapshot and computes dominators and
// retained sizes (DevTools' algorithm, ported); then a per-class summary like ours (an
// instance counts towards its class's retained size unless a dominator is of the same class).
// Prints the root's retained size and the top classes as JSON. Run with memlab resolvable
// (bench/analyze/run.js sets NODE_PATH).
const { config } = require('@memlab/core');
const { getFullHeapFromFile } = require('@memlab/heap-analysis');

config.muteConsole = true;

(async () => {
  const heap = await getFullHeapFromFile(process.argv[2]);
  let root = null;
  let nodes = 0;
  const classes = new Map();
  const className = (n) => {
    if (n.type === 'object' || n.type === 'native') return n.name;
    if (n.type === 'hidden') return '(system)';
    if (n.type === 'code') return '(compiled code)';
    return `(${n.type})`;
  };
  heap.nodes.forEach((n) => {
    nodes++;
    if (root === null) root = n;
    const c = className(n);
    let row = classes.get(c);
    if (!row) classes.set(c, (row = { count: 0, self: 0, retained: 0 }));
    row.count++;
    row.self += n.self_size;
    let d = n.dominatorNode;
    let nested = false;
    for (let hops = 0; d && d !== n && hops < 10000; hops++) {
      if (d.id === root.id) break;
      if (className(d) === c) {
        nested = true;
        break;
      }
      const next = d.dominatorNode;
      if (!next || next === d) break;
      d = next;
    }
    if (!nested) row.retained += n.retainedSize || 0;
  });
  const top = [...classes.entries()].sort((a, b) => b[1].retained - a[1].retained).slice(0, 10);
  console.log(JSON.stringify({ root_retained: root.retainedSize, nodes, classes: classes.size, top }));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
