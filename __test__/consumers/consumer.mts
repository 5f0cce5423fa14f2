// A TypeScript ESM consumer: default and named imports, end() narrowed by its options.
import memwatch, { HeapDiff, gc, on, setOptions, assertNoLeak as assertNoLeakNamed, reportNearLimit, type LeakInfo, type RunwayLeakInfo, type Stats, type HeapDiffResult } from 'memwatch-rs';

gc();
const withPaths = new HeapDiff({ retainers: 2 }).end();
const firstPath: string | undefined = withPaths.retainers[0]?.path;
const plain: HeapDiffResult = new memwatch.HeapDiff().end();
const where1: string | undefined = new HeapDiff({ stacks: true }).end().stacks[0]?.text;
const both = new HeapDiff({ stacks: true, retainers: 1 }).end();
const line1: number | undefined = both.stacks[0]?.frames[0]?.line ?? both.retainers.length;
console.log(where1, line1);
const grew: number = plain.change.details.filter((d) => d['+'] > 0).length;
on('leak', (info: LeakInfo) => console.log(info.reason, info.growth, firstPath, grew));
memwatch.on('stats', (s: Stats) => console.log(s.current_base, s.usage_trend));
setOptions({ consecutiveGrowths: 5 });

const result = await memwatch.leakTest(async (i) => i * 2, { iterations: 100 });
const names: string[] = result.classes.map((c) => `${c.what} ${c.perIteration}`);
const where: (string | null)[] = result.groups.map((g) => g.location);
await assertNoLeakNamed(() => undefined, { name: 'noop' });
console.log(names, where);

// The runway 'leak' narrows on `runway`; reportNearLimit's handle stops it.
memwatch.on('leak', (info) => {
  if ('runway' in info && info.runway) {
    const r: RunwayLeakInfo = info;
    console.log(r.limitKind, r.timeToLimit);
  }
});
const near = reportNearLimit({ dir: '.', keep: 2 });
near?.stop();
