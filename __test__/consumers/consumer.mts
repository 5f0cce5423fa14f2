// A TypeScript ESM consumer: default and named imports, end() narrowed by its options.
import memwatch, { HeapDiff, gc, on, setOptions, type LeakInfo, type Stats, type HeapDiffResult } from 'memwatch-rs';

gc();
const withPaths = new HeapDiff({ retainers: 2 }).end();
const firstPath: string | undefined = withPaths.retainers[0]?.path;
const plain: HeapDiffResult = new memwatch.HeapDiff().end();
const grew: number = plain.change.details.filter((d) => d['+'] > 0).length;
on('leak', (info: LeakInfo) => console.log(info.reason, info.growth, firstPath, grew));
memwatch.on('stats', (s: Stats) => console.log(s.current_base, s.usage_trend));
setOptions({ consecutiveGrowths: 5 });
