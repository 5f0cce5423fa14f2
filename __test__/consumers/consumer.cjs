// @ts-check
// A plain CommonJS consumer, type-checked as JavaScript.
const memwatch = require('memwatch-rs');
const { HeapDiff, gc } = require('memwatch-rs');

gc();
const diff = new HeapDiff({ retainers: 1 }).end();
console.log(diff.retainers.length, diff.change.size);
memwatch.on('leak', (info) => console.log(info.start.toISOString(), info.reason));
