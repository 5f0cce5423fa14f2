// Type definitions for memwatch-rs (hand-written; they document the public API).

import { EventEmitter } from 'node:events';

declare namespace memwatch {
  /**
   * Emitted after every full (mark-sweep-compact) GC. Carries the fields of both memwatch
   * lineages, so code written for `memwatch`/`memwatch-next` or `@airbnb/node-memwatch` runs as is.
   * Byte counts are exact 64-bit values (JS numbers are exact up to 8 PiB).
   */
  interface Stats {
    // -- original memwatch lineage --
    /** Count of full (mark-sweep-compact) GCs seen while listening. */
    num_full_gc: number;
    /** Count of all other GCs (scavenges, minor mark-sweep, incremental marking steps...). */
    num_inc_gc: number;
    /** Full GCs fed to the base estimator (back-to-back GCs with no allocation between do not count). */
    heap_compactions: number;
    /** Percent change of the recent heap base against the ancient one, one decimal; negative when shrinking. */
    usage_trend: number;
    /** The recent (smoothed) heap base, bytes. */
    estimated_base: number;
    /** Used heap right after this GC, bytes. */
    current_base: number;
    /** Smallest current_base since the 3rd compaction (0 before). */
    min: number;
    /** Largest current_base since the 3rd compaction (0 before). */
    max: number;

    // -- @airbnb/node-memwatch lineage --
    /** Time of this GC, microseconds since the Unix epoch. */
    gc_ts: number;
    gcScavengeCount: number;
    /** Total scavenge time, nanoseconds. */
    gcScavengeTime: number;
    gcMarkSweepCompactCount: number;
    /** Total mark-sweep-compact time, nanoseconds. */
    gcMarkSweepCompactTime: number;
    gcIncrementalMarkingCount: number;
    /** Total incremental marking time, nanoseconds. */
    gcIncrementalMarkingTime: number;
    gcProcessWeakCallbacksCount: number;
    /** Total weak-callback processing time, nanoseconds. */
    gcProcessWeakCallbacksTime: number;
    total_heap_size: number;
    total_heap_size_executable: number;
    total_physical_size: number;
    total_available_size: number;
    used_heap_size: number;
    heap_size_limit: number;
    malloced_memory: number;
    peak_malloced_memory: number;
    /** Duration of this GC (prologue to epilogue), nanoseconds. */
    gc_time: number;

    // -- GC kinds newer than both lineages --
    /** Minor mark-sweep GCs (node 22+; minor mark-compact on older V8). */
    gcMinorMarkSweepCount: number;
    /** Total minor mark-sweep time, nanoseconds. */
    gcMinorMarkSweepTime: number;
    /** Share of wall time spent in GC (all kinds) over the last minute, 0 to 1. */
    gc_time_ratio: number;
  }

  /**
   * Emitted when the heap keeps growing: by default when the trend detector sees the post-GC
   * heap's floor rise steadily (see `Options.detector`); once per leak episode, again at most
   * every `leakReminderMs` while it goes on.
   */
  interface LeakInfo {
    /** Start of the growth (the trend's window, or the first growth of memwatch's streak). */
    start: Date;
    /** Time of the GC that decided. */
    end: Date;
    /** Heap growth from start to end, bytes. */
    growth: number;
    /**
     * e.g. `heap grew 14.2 mb in 41s (20.78 mb/min, steady over 37 full GCs); at this rate it
     * reaches its 4096 mb limit in 3h 12m`, or memwatch's `heap growth over 5 consecutive GCs
     * (20s) - 11.67 mb/hr` with `detector: 'memwatch'`.
     */
    reason: string;
    /** Growth rate of the trend, bytes per second. */
    rate: number;
    /**
     * The limit that will stop the heap, bytes: V8's heap limit, or, when the memory outside the
     * heap leaves it less under a container's limit, what the container leaves it (`limitKind`).
     */
    heapLimit: number;
    /** Which limit `heapLimit` is: V8's ('heap') or the container's ('container'). */
    limitKind: 'heap' | 'container';
    /** Seconds until the heap reaches heapLimit at this rate; null if it never does. */
    timeToLimit: number | null;
    /** What leaks: 'heap' for the heap. */
    kind: 'heap';
    /** Not a runway warning (see RunwayLeakInfo). */
    runway?: undefined;
    /**
     * Only with `allocationSamplingBytes` set: the allocation stacks whose sampled live bytes
     * grew most over the episode (from `start`, or 2 minutes before `end` when that is earlier),
     * counting only objects that have been through a full GC (and over two minutes or more,
     * only objects at least a minute old), most first (at most 10).
     */
    sites?: AllocationSite[];
  }

  /**
   * A quantity racing towards the limit that will stop the process, reported as soon as it will
   * reach it within about as long again as it has been growing, warm-up or not: the heap against
   * V8's limit, the process's memory (RSS) against its container's limit (or the machine's), open
   * file descriptors (with `watchResources({ fds })`) against `ulimit -n`.
   */
  /** What every 'leak' of a quantity other than the heap's trend says: when, how much, how fast. */
  interface GrowthInfo {
    /** When the growth began and the sample that decided. */
    start: Date;
    end: Date;
    /** Rise since `start`: bytes, or a count (fds, handles, timers). */
    growth: number;
    /** One line for people, e.g. `rss grew 150 mb in 15s (10 mb/s, now 160 mb); at this rate it reaches the container's 300 mb limit in 14s`. */
    reason: string;
    /** Per second, in the kind's unit. */
    rate: number;
    /** The level now (the latest reading). */
    current: number;
  }

  interface RunwayLeakInfo extends GrowthInfo {
    kind: 'heap' | 'memory' | 'fds';
    runway: true;
    /** The limit it races towards. */
    limit: number;
    /** Whose limit: V8's heap ('heap'), a container's memory, the machine's memory, `ulimit -n`. */
    limitKind: 'heap' | 'container' | 'machine' | 'open-files';
    /** Seconds until `limit` at `rate`. */
    timeToLimit: number;
    /** 'heap' only: the same as `limit`. */
    heapLimit?: number;
    /** 'heap' only, with `allocationSamplingBytes` set: as in LeakInfo. */
    sites?: AllocationSite[];
  }

  interface ReportNearLimitOptions {
    /** Directory for the reports (default: the current directory). */
    dir?: string;
    /** Reports kept, newest first (default 3). */
    keep?: number;
    /** At most one report per this many ms (default 60000). */
    minIntervalMs?: number;
    /** Also write a full heap snapshot, when twice the heap's size is left under the memory limit (default false). */
    snapshot?: boolean;
  }

  interface ReportEvent {
    /** Absolute path of the JSON report. */
    path: string;
    trigger: 'near-limit';
    leak: RunwayLeakInfo;
  }

  /** The kinds `watchResources` can watch. */
  type ResourceKind = 'fds' | 'handles' | 'timers' | 'external';

  /**
   * A leak outside the V8 heap, from `watchResources` (only for the kinds it watches): the same
   * trend detector as the heap's decided that the count (or external bytes) grows steadily.
   */
  interface ResourceLeakInfo extends GrowthInfo {
    kind: ResourceKind;
    /** The soft limit on open files for 'fds' where the system tells it (`ulimit -n`); null otherwise. */
    limit: number | null;
    /** Seconds until `limit` at this rate; null without a limit. */
    timeToLimit: number | null;
    /** handles and timers: the types that grew over the episode, e.g. `{ TCPSocketWrap: 118 }`. */
    byType?: Record<string, number>;
  }

  /** A kind's settings: `true` for the defaults, or thresholds a window's rise must reach. */
  interface ResourceKindOptions {
    /** Least rise (count, or bytes for external). Defaults: 16 for counts, 8 MiB for external. */
    minGrowth?: number;
    /** Least rise as a percent of the level. Defaults: 10 for counts, 5 for external. */
    minGrowthPercent?: number;
  }

  interface WatchResourcesOptions {
    /** Open file descriptors (/proc/self/fd or /dev/fd). */
    fds?: boolean | ResourceKindOptions;
    /** Active handles and requests other than timers (process.getActiveResourcesInfo()), by type. */
    handles?: boolean | ResourceKindOptions;
    /** Active, ref'd timers and immediates. */
    timers?: boolean | ResourceKindOptions;
    /** External memory: ArrayBuffers, Buffers and native objects outside the V8 heap. */
    external?: boolean | ResourceKindOptions;
    /** Sampling period, ms (default 2000). The timer never keeps the process alive. */
    intervalMs?: number;
    /** Windows that begin within this long of the start are not tested (default 180000). */
    warmupMs?: number;
    /** The shortest trend window, ms (default max(20000, 16 x intervalMs); at least 8 samples). */
    windowMs?: number;
  }

  interface ResourceWatch {
    readonly kinds: ResourceKind[];
    readonly intervalMs: number;
    readonly running: boolean;
    /** The latest readings: counts, bytes for external (plus arrayBuffers), and handles and timers by type. */
    read(): Partial<Record<ResourceKind | 'arrayBuffers', number | null>> & { types?: Record<string, number> };
    stop(): void;
  }

  interface PrometheusHandle {
    /** The prom-client Registry the metrics are on. */
    registry: unknown;
    /** The prom-client metrics, by name. */
    metrics: Record<string, unknown>;
    readonly active: boolean;
    /** Removes the metrics from the registry. */
    stop(): void;
  }

  interface OpenTelemetryHandle {
    meter: unknown;
    instruments: Record<string, unknown>;
    readonly active: boolean;
    /** Removes the batch callback: the instruments report nothing more. */
    stop(): void;
  }

  /** A frame of a sampled allocation stack, as V8 names it. */
  interface SiteFrame {
    /** `(anonymous)` for an unnamed function (the original name for minified code with a source map). */
    function: string;
    /**
     * The script's path or URL (`node:events` for node's own); empty for V8's own frames. Through
     * the script's source map when it has one (`/srv/app/src/orders.ts`).
     */
    script: string;
    /** 1-based line and column of the function; 0 when unknown. */
    line: number;
    column: number;
    /** Where the frame is in the generated JavaScript, when a source map moved it. */
    generated?: { script: string; line: number; column: number };
  }

  /**
   * A stack that allocated more and more live memory during a leak episode. Its function,
   * script, line and column are the innermost frame in the program's own code (not node's
   * internals) where the stack has one.
   */
  interface AllocationSite extends SiteFrame {
    /** Growth of the live bytes V8 estimates this stack allocated, over the episode. */
    bytes: number;
    /**
     * Of `bytes`, those V8 sampled in a caller's frame. V8 records physical frames only, so once
     * this function is inlined into its caller, its allocations are sampled there; such a caller
     * that grew is counted here (0 when none).
     */
    callerBytes: number;
    /** Innermost first, at most 8. */
    frames: SiteFrame[];
    /** `handle (/srv/app.js:12:3) <- route (/srv/app.js:40:5)`. */
    text: string;
  }

  interface HeapDiffTotals {
    nodes: number;
    size_bytes: number;
    /** e.g. `6.78 mb` */
    size: string;
  }

  interface HeapDiffDetail {
    /** Constructor name for objects; `Array`, `String`, `Code`, `Closure`, `RegExp`, `Number`, `Native` otherwise. */
    what: string;
    /** Shallow bytes allocated minus freed. */
    size_bytes: number;
    size: string;
    /** Instances allocated between the two snapshots (and still alive). */
    '+': number;
    /** Instances freed between the two snapshots. */
    '-': number;
  }

  interface HeapDiffResult {
    before: HeapDiffTotals;
    after: HeapDiffTotals;
    change: {
      size_bytes: number;
      size: string;
      freed_nodes: number;
      allocated_nodes: number;
      /** Sorted by `what`, byte order. */
      details: HeapDiffDetail[];
    };
  }

  /** One step of a retainer path, root side first. */
  interface RetainerStep {
    /** The edge into the object: a property name, or `[i]` for an element. */
    edge: string;
    /** What the object is, as DevTools names it: its class, `onTick()` for a closure, `(Stack roots)` for a GC root. */
    className: string;
    id: number;
  }

  /** A source location, 1-based; `script` relative to the directory the snapshot's scripts share. */
  interface SourceLocation {
    script: string;
    line: number;
    column: number;
  }

  /** A location through a source map: the original, and where the generated code is. */
  interface MappedLocation extends SourceLocation {
    generated?: SourceLocation;
  }

  /**
   * The leak's roots: new objects no other new object holds (1 `OrderRecord` per call, not its
   * Array, Object and strings), grouped, heaviest first.
   */
  interface LeakRoot {
    /** memwatch's name, as in `details[].what`. */
    what: string;
    /** As a person names it: `onTick()` for a closure, the original class of minified code. */
    label: string;
    count: number;
    /** The roots and all their parts, bytes. */
    bytes: number;
    /** What each root holds, the program's own names first (at most 6 kinds). */
    parts: { what: string; count: number }[];
    location: MappedLocation | null;
    /** A sample root's heap snapshot id. */
    id: number;
  }

  /** What a container or a group is made of: `what` is e.g. `onTick() at app/home.js:34:18`. */
  interface MadeOf {
    what: string;
    count: number;
    /** Where its code is (a closure's function, a located constructor), through source maps; null if V8 recorded none. */
    location: MappedLocation | null;
  }

  /** For a class that grew: its newest new instance and how a GC root holds it. */
  interface RetainerSample {
    /** The class, as in `details[].what`. */
    what: string;
    /** The sample's heap snapshot id. */
    id: number;
    /** Leaf first: "RequestLog @123 <- [1234] in Array @45 <- logs in Object @67 <- ...". */
    path: string;
    steps: RetainerStep[];
    /** `file:line:col` of the sample's constructor (or function, for a closure); null when V8 recorded none. */
    location: string | null;
  }

  interface HeapDiffWithRetainers extends HeapDiffResult {
    /** With `new HeapDiff({ retainers: n })`: for up to n classes that grew most (empty for n = 0). */
    retainers: RetainerSample[];
    /** With `retainers` above 0: the roots of what is new, with their parts (up to n groups). */
    roots?: LeakRoot[];
  }

  interface HeapDiffOptions {
    /** For this many classes that grew most (0 to 50), add a retainer path of a new instance. */
    retainers?: number;
    /** Run V8's allocation tracker until `end()`, which adds `stacks` (slows the code in between). */
    stacks?: boolean;
  }

  /** One frame of an allocation stack. */
  interface StackFrame {
    function: string;
    /** Relative to the directory the snapshot's scripts share; null when V8 knows no script. */
    script: string | null;
    /** 1-based; 0 when unknown. */
    line: number;
    column: number;
  }

  /** New objects of one class allocated at one stack, and still alive at `end()`. */
  interface AllocationStack {
    what: string;
    count: number;
    bytes: number;
    /** Innermost first. */
    frames: StackFrame[];
    /** `+10000 LeakingClass allocated at handleRequest (app.js:42:3) <- route (app.js:80:1)`. */
    text: string;
  }

  interface HeapDiffWithStacks extends HeapDiffResult {
    /** With `new HeapDiff({ stacks: true })`: for the 5 classes that grew most, their top 3 allocation stacks. */
    stacks: AllocationStack[];
  }

  /**
   * memwatch's heap diff: `new HeapDiff()` snapshots the heap (after a full GC). `R` is what
   * `end()` returns: with a `retainers` option the result carries `retainers`.
   */
  interface HeapDiff<R extends HeapDiffResult = HeapDiffResult> {
    /** Snapshots the heap again and returns what changed. Throws if called twice. */
    end(): R;
    /**
     * Gives the HeapDiff up without a result (`using hd = new HeapDiff(...)` calls it at scope
     * exit): allocation tracking (`stacks: true`) stops at once. A HeapDiff dropped without
     * `end()` stops it when it is collected.
     */
    [Symbol.dispose](): void;
  }

  interface HeapDiffConstructor {
    new (options: HeapDiffOptions & { retainers: number; stacks: true }): HeapDiff<HeapDiffWithRetainers & HeapDiffWithStacks>;
    new (options: HeapDiffOptions & { stacks: true }): HeapDiff<HeapDiffWithStacks>;
    new (options: HeapDiffOptions & { retainers: number }): HeapDiff<HeapDiffWithRetainers>;
    new (options?: HeapDiffOptions): HeapDiff<HeapDiffResult>;
    readonly prototype: HeapDiff<HeapDiffResult>;
  }

  interface SnapshotEvent {
    /** Absolute path of the snapshot written. */
    path: string;
    /** 'leak' or the signal's name. */
    trigger: string;
    /** The leak that triggered it (snapshotOnLeak). */
    leak?: LeakInfo;
    /** The HTML report written beside it (snapshotOnLeak with report: true). */
    report?: string;
  }

  interface SnapshotOnLeakOptions {
    /** Directory for the snapshots (default: the current directory). */
    dir?: string;
    /** Newest snapshots kept (default 3). */
    keep?: number;
    /** At most one snapshot per this many ms (default 600000). */
    minIntervalMs?: number;
    /** Also write an HTML report of each snapshot, with the heap over time (default false). */
    report?: boolean;
  }

  interface StatsSample {
    /** ms since the epoch. */
    time: number;
    current_base: number;
    estimated_base: number;
    used_heap_size: number;
  }

  interface ClassChange {
    className: string;
    addedCount: number;
    addedSize: number;
    removedCount: number;
    removedSize: number;
    countDelta: number;
    sizeDelta: number;
    /** What the new objects are beyond the class (closures by function, located constructors), most first. */
    madeOf: MadeOf[];
  }

  interface SnapshotDiff {
    before: { nodes: number; size: number };
    after: { nodes: number; size: number };
    /** What the ids say is wrong: the two cannot be from one process, or were given out of order. */
    warnings: string[];
    /** What is new at the top: new objects no other new object holds, with their parts (up to 10 groups, heaviest first). */
    roots: LeakRoot[];
    /** Classes whose count or size changed (with `all`, also those that only churned), largest size growth first. */
    classes: ClassChange[];
  }

  interface LeakGroup {
    /** The path to the leaked objects, element indices generalised. */
    signature: string;
    className: string;
    /** Where the sample's constructor (or function) is defined; null when V8 recorded none. */
    location: SourceLocation | null;
    /** What the group's leaked objects are, by function or located class, most first. */
    madeOf: MadeOf[];
    /** Leaked objects at the end of this path. */
    count: number;
    /** Leaked objects in all, these and those only they hold. */
    objects: number;
    retainedSize: number;
    sampleId: number;
    /** Leaf first. */
    samplePath: string;
    sampleSteps: RetainerStep[];
  }

  interface LeakReport {
    leakedObjects: number;
    leakedShallowSize: number;
    /** What the ids say is wrong: snapshots of different processes, or out of order. */
    warnings: string[];
    /** Largest retained first. */
    groups: LeakGroup[];
    classes: { className: string; count: number; shallowSize: number }[];
  }

  interface CompareOptions {
    /** Rows per table (default 20). */
    top?: number;
    /** Phase and percent on stderr. */
    progress?: boolean;
    /** diffSnapshots: also the classes whose new and deleted objects cancel out (default false). */
    all?: boolean;
    /** Locations through the scripts' source maps (default true). */
    sourceMaps?: boolean;
    /** Give up (throw) after this many milliseconds; no limit by default. */
    timeoutMs?: number;
  }

  interface AnalyzeOptions {
    /** Rows per table (default 20). */
    top?: number;
    /** Phase and percent on stderr while it works. */
    progress?: boolean;
    /** Phase timings on stderr at the end. */
    timings?: boolean;
    /** Locations through the scripts' source maps (default true). */
    sourceMaps?: boolean;
    /** Give up (throw, or reject) after this many milliseconds; no limit by default. */
    timeoutMs?: number;
  }

  interface AnalyzeAsyncOptions extends AnalyzeOptions {
    /** Cancels the analysis when it aborts: the promise rejects with an AbortError. */
    signal?: AbortSignal;
  }

  interface Options {
    /**
     * Which rule decides 'leak': 'trend' (default: a robust trend test on the post-GC heap's
     * floor, at time scales from 20 s to ~85 min) or 'memwatch' (memwatch's rule: the base grew
     * over consecutiveGrowths full GCs in a row, with the highWaterWindow guard).
     */
    detector: 'trend' | 'memwatch';
    /** While one leak episode goes on, 'leak' is emitted again at most this often, ms (default 1800000; 0: never). */
    leakReminderMs: number;
    /** The trend detector tests no window that begins within this long of the first GC it sees, ms (default 180000). */
    leakWarmupMs: number;
    /**
     * Allocation sampling for 'leak' (default 0: off): V8's sampling heap profiler records one
     * allocation per about this many bytes while a 'leak' listener (or snapshotOnLeak) is on, and
     * 'leak' carries `sites`. 524288 is recommended; 0 or at least 1024.
     */
    allocationSamplingBytes: number;
    /**
     * With allocation sampling: while the heap's growth looks like a leak (before 'leak' is
     * sure), V8's inlining is turned off and optimised code thrown away, so that `sites` name the
     * leaking function rather than the caller it was inlined into; back on after the 'leak', or
     * when the growth stops (default true; false leaves V8's compilers alone).
     */
    exactSites: boolean;
    /** Growths in a row that make a 'leak' (default 5). */
    consecutiveGrowths: number;
    /** The last consecutiveGrowths bases must all top every base of this many full GCs before them (default 120; 0: off). */
    highWaterWindow: number;
    /** Full GCs in the recent base's moving average (default 10). */
    recentPeriod: number;
    /** Full GCs in the ancient base's moving average (default 120). */
    ancientPeriod: number;
    /** With a 'leak' listener: ask V8 for an incremental full GC after this % of heap growth (default 25; 0: never). */
    sampleGrowthPercent: number;
    /** At most one such request per this many ms (default 1000). */
    sampleIntervalMs: number;
    /** A full GC preceded by at most this many allocated bytes is "back-to-back" (default 0: only a GC with no net allocation since the previous full GC). */
    backToBackBytes: number;
  }

  interface AnalyzedObject {
    id: number;
    className: string;
    /** As DevTools names it: `onTick()` for a closure, the class otherwise. */
    name: string;
    /** Its function's or constructor's location; null when V8 recorded none. */
    location: SourceLocation | null;
    selfSize: number;
    retainedSize: number;
  }

  interface AnalysisReport {
    nodes: number;
    edges: number;
    /** Sum of all self sizes: what the root retains. */
    totalSize: number;
    /** The scripts' common root that every `location.script` is relative to (`''` if none): `scriptRoot + script` is the full path or URL. */
    scriptRoot: string;
    /** Objects retaining more than 10% of the heap, largest first. */
    suspects: {
      object: AnalyzedObject;
      percent: number;
      /** Down the dominator tree, each step holding most of the previous one's memory. */
      mainlyIn: AnalyzedObject[];
      /** What the last of mainlyIn (or the object) holds: its dominated objects by what they are, largest first. */
      /** The program's own names first, then by retained size. */
      holds: { what: string; count: number; retainedSize: number; location: MappedLocation | null }[];
      /** Shortest path from the root, root side first. */
      retainerPath: { edge: string; object: AnalyzedObject }[];
    }[];
    classes: { className: string; count: number; shallowSize: number; retainedSize: number }[];
    largest: AnalyzedObject[];
    /** Top-level objects per class (directly under a GC root in the dominator tree): they partition the heap. */
    composition: { className: string; count: number; retainedSize: number; children: { className: string; count: number; retainedSize: number }[] }[];
  }

  interface BuildInfo {
    /** NODE_MODULE_VERSION the binary was compiled for. */
    abi: number;
    /** Node version of the headers it was compiled against. */
    node: string;
    /** V8 version of those headers. */
    v8: string;
  }

  interface MemWatch extends EventEmitter {
    on(event: 'stats', listener: (stats: Stats) => void): this;
    on(event: 'leak', listener: (info: LeakInfo | ResourceLeakInfo | RunwayLeakInfo) => void): this;
    on(event: 'report', listener: (report: ReportEvent) => void): this;
    on(event: 'snapshot', listener: (info: SnapshotEvent) => void): this;
    on(event: string | symbol, listener: (...args: any[]) => void): this;
    once(event: 'stats', listener: (stats: Stats) => void): this;
    once(event: 'leak', listener: (info: LeakInfo | ResourceLeakInfo | RunwayLeakInfo) => void): this;
    once(event: string | symbol, listener: (...args: any[]) => void): this;
    /** Forces a full, synchronous GC. No --expose-gc needed. */
    gc(): void;
    getOptions(): Options;
    /** Validates and applies any subset of the options; returns the options in force. */
    setOptions(options: Partial<Options>): Options;
    buildInfo(): BuildInfo;
    /**
     * Watches leaks outside the V8 heap (opt-in per kind); resource leaks emit 'leak' with their
     * `kind`. Replaces the watch started before. Throws on bad options, and for 'fds' where the
     * platform cannot count descriptors.
     */
    watchResources(options: WatchResourcesOptions): ResourceWatch;
    /**
     * Registers memwatch's metrics (memwatch_heap_base_bytes, memwatch_leak_suspected{kind}, ...)
     * on a prom-client Registry (its default registry when omitted); needs the optional peer
     * dependency prom-client. Idempotent per registry.
     */
    prometheus(registry?: unknown): PrometheusHandle;
    /**
     * Creates memwatch's observable instruments (memwatch.*, and v8js.* per heap space and resource type unless
     * `v8js: false`) on an OpenTelemetry Meter (the global provider's when omitted; needs the
     * optional peer dependency @opentelemetry/api).
     */
    openTelemetry(meter?: unknown, options?: { v8js?: boolean }): OpenTelemetryHandle;
    /** Analyses a .heapsnapshot file offline (synchronous). */
    analyze(file: string, options?: AnalyzeOptions): AnalysisReport;
    /** `analyze` on a worker thread of libuv's pool: the event loop keeps running. */
    analyzeAsync(file: string, options?: AnalyzeAsyncOptions): Promise<AnalysisReport>;
    /** The report as the CLI prints it: text, or JSON text with `json: true`. */
    analyzeText(file: string, options?: AnalyzeOptions & { json?: boolean }): string;
    /** Per-class objects allocated and deleted between two snapshot files, by node id. */
    diffSnapshots(before: string, after: string, options?: CompareOptions): SnapshotDiff;
    /** Objects allocated between base and target still alive in final, by retainer path. */
    findLeaks(base: string, target: string, final: string, options?: CompareOptions): LeakReport;
    /** `diffSnapshots` as the CLI prints it. */
    diffSnapshotsText(before: string, after: string, options?: CompareOptions): string;
    /** `findLeaks` as the CLI prints it. */
    findLeaksText(base: string, target: string, final: string, options?: CompareOptions): string;
    /** Writes a heap snapshot (mode 0600, complete or not at all); returns its absolute path. */
    writeSnapshot(file?: string): string;
    /** Opt-in: a snapshot on each `signal` (default 'SIGUSR2'). Returns a function that turns it off. */
    snapshotOnSignal(signal?: string, options?: { dir?: string; minIntervalMs?: number }): () => void;
    /** Opt-in: a snapshot when 'leak' fires, rate-limited, newest `keep` kept; `false` turns it off. */
    snapshotOnLeak(options?: SnapshotOnLeakOptions | false): void;
    /**
     * Opt-in: when a runway 'leak' says a limit will stop the process soon, write a compact JSON
     * report into `dir` (what grew by constructor, sites, history, limits; 0600), at most once per
     * `minIntervalMs`. `false` turns it off.
     */
    reportNearLimit(options?: ReportNearLimitOptions | false): { dir: string; stop(): void } | null;
    /** The post-GC heap over the last 2000 full GCs seen while monitoring, oldest first. */
    statsHistory(): StatsSample[];
    /** Analyses a snapshot into a self-contained HTML report; returns its path. */
    htmlReport(snapshot: string, htmlFile: string, options?: { top?: number; stats?: StatsSample[]; leak?: LeakInfo; timeoutMs?: number }): string;
    HeapDiff: HeapDiffConstructor;
    /**
     * Runs `fn` (sync or async) `warmup` times, then `iterations` times in `rounds` rounds with a
     * heap summary after each, and says which classes were left behind in every round.
     */
    leakTest(fn: (i: number) => unknown, options?: LeakTestOptions): Promise<LeakTestResult>;
    /** Resolves when `fn` leaks nothing; rejects with an `AssertionError` naming what leaks and where. */
    assertNoLeak(fn: (i: number) => unknown, options?: LeakTestOptions): Promise<LeakTestResult>;
  }

  interface LeakTestOptions {
    /** Measured calls (default 200), split evenly over the rounds. */
    iterations?: number;
    /** Measured rounds, 2 to 50 (default 4): a class leaks when it is left behind in every round after the first. */
    rounds?: number;
    /** Calls before measuring (default 50): JIT, lazy initialisation and caches settle here. */
    warmup?: number;
    /** Objects left behind per call, at least, for a class to count (default 0.02: one in 50 calls). */
    minPerCall?: number;
    /** Classes to find a retainer path for, 0 to 50 (default 5). */
    retainers?: number;
    /** The function's name in the failure message (default: `fn.name`). */
    name?: string;
    /** When something leaks, run one more round under V8's allocation tracker and add each group's allocation stack. */
    stacks?: boolean;
    /** A call whose promise has not settled after this many ms rejects the test, naming the call (default 10000). */
    timeoutMs?: number;
  }

  interface LeakTestClass {
    /** As in HeapDiff's `details[].what`: a constructor name, `Closure`, `String`, ... */
    what: string;
    /** Objects of the class allocated during the measured rounds and alive at the end. */
    count: number;
    /** Net bytes the class grew by over the measured rounds. */
    bytes: number;
    /** Objects left behind per call, after the first round. */
    perIteration: number;
  }

  interface LeakTestGroup {
    what: string;
    count: number;
    /** Leaf first: `SessionRecord @123 <- [41] in Array @45 <- sessions in system / Context (app.js) ...`. */
    path: string;
    /** `file:line:col` of the class's constructor (or the closure's function); null when V8 recorded none. */
    location: string | null;
    steps: RetainerStep[];
    /** With `stacks: true`: where most of the class's new objects of the extra, tracked round were allocated (null if none). */
    stack?: AllocationStack | null;
  }

  interface LeakTestResult {
    leaked: boolean;
    iterations: number;
    /** The leaking classes, most bytes first. */
    classes: LeakTestClass[];
    /** The roots of what leaked (of the leaking classes), with their parts and calls per root. */
    roots: (LeakRoot & { perIteration: number })[];
    /** For the first `retainers` classes: how a GC root holds a new instance, and where it was defined. */
    groups: LeakTestGroup[];
  }
}

declare const memwatch: memwatch.MemWatch;
export = memwatch;
