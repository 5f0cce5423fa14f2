// @ts-check
// A plain ESM consumer, type-checked as JavaScript.
import memwatch, { HeapDiff, analyze, statsHistory } from 'memwatch-rs';

const diff = new HeapDiff().end();
console.log(diff.change.allocated_nodes, statsHistory().length, typeof analyze);
memwatch.once('stats', (s) => console.log(s.num_full_gc));
