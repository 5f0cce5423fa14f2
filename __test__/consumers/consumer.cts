// A TypeScript CommonJS consumer.
import memwatch = require('memwatch-rs');

const diff = new memwatch.HeapDiff({ retainers: 1 }).end();
const steps: number = diff.retainers.reduce((n, r) => n + r.steps.length, 0);
memwatch.on('stats', (s) => console.log(s.current_base, s.heap_size_limit, steps));
const report: memwatch.AnalysisReport | null = null;
console.log(report, memwatch.getOptions().consecutiveGrowths);
