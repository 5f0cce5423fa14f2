'use strict';
// Exact allocation sites while the heap grows (`exactSites`, on with `allocationSamplingBytes`).
//
// V8's sampling heap profiler records physical frames: once TurboFan (or Maglev) inlines the
// leaking function into its caller, every sample lands on the caller, and nothing in the
// samples names the leaking function (bench/scenarios/sites.js: 3 of 6 leaks named a caller).
// No fold of the samples can recover a frame V8 never recorded, so the samples must be taken
// with the frames there: while a leak is suspected, inlining is off.
//
// - Suspected: a second trend detector (memwatch_core::trend, through native SeriesWatch) over the
//   same post-GC heap, with a 20-s warm-up and lower bars (SUSPECT), so it speaks before the
//   'leak' detector, whose sites count only samples a minute old.
// - Off: `--no-turbo-inlining` (and `--no-maglev-inlining` where Maglev inlines: V8 12 on), then
//   every function deoptimised, by switching V8's code coverage to precise and back through an
//   in-process inspector session (the only public way to throw away optimised code). Functions
//   optimise again, without inlining; samples from then on carry the leaking function's frame,
//   and the sites' fold (memwatch_core::sites) folds the caller's earlier samples into it.
// - Back on, with a second deoptimisation so the program regains its inlined code: after the
//   'leak' (its sites are taken), when the suspicion has seen no growth for LINGER_MS, or after
//   MAX_OFF_MS; a spell that ended without a 'leak' is followed by a pause twice as long as it
//   lasted (doubling within one growth), except the one of the 'leak' detector's warm-up.
//
// Left alone: a program that chose its own inlining flags, a worker (V8's flags are per process,
// its other isolates are not ours), and, for the deoptimisation only, a process with an inspector
// open or node's coverage on (NODE_V8_COVERAGE: both own the isolate's coverage mode; there the
// flags alone name functions optimised after the switch). Costs: docs/api.md (Allocation sites).
const native = require('./native.js');

// The suspicion: the heap detector's trend test with lower bars (its defaults: 3%, 4x the noise,
// concordance 0.7, half the rise above the lookback). Chosen with `node bench/inlining.js` on the
// recorded services: at a new-above-lookback share of 0.25 inlining was off 0.8% of control time
// and the first 'leak' of 47% of injected leaks had the samples to name the function; at 0.2,
// 2.2% and 51%; at 0.1, 8% and 64%.
const SUSPECT = { windowMs: 20000, warmupMs: 20000, minGrowthPercent: 1, minGrowth: 1048576, reminderMs: 0, noiseFactor: 1, minConcordance: 0.4, newShare: 0.2 };
const MAX_OFF_MS = 10 * 60 * 1000;
// A spell goes on this long after the suspicion last saw growth: on a noisy heap its own episode
// ends and starts again within a minute, and a leak's sites need minutes of samples.
const LINGER_MS = 3 * 60 * 1000;
const PAUSE_FACTOR = 2;

/**
 * When inlining should be off, from the post-GC heap: pure, with the switch injected
 * (`setInlining(on)`), so tests and the bench drive it with recorded series.
 */
class InliningPolicy {
  constructor(setInlining, options = {}) {
    this.setInlining = setInlining;
    this.maxOffMs = options.maxOffMs === undefined ? MAX_OFF_MS : options.maxOffMs;
    // The 'leak' detector's warm-up: a spell that began in it (a service filling its caches)
    // is not followed by a pause, or a leak from the start would find suspicion paused.
    this.warmupMs = options.warmupMs === undefined ? 180000 : options.warmupMs;
    this.watch = new native.SeriesWatch({ ...SUSPECT, ...(options.suspect || {}) });
    this.origin = null;
    this.off = false;
    this.since = 0;
    this.pauseUntil = 0;
    this.spent = false; // this growth episode had its 'leak': no more spells in it
    this.spells = 0; // spells in this growth episode (each pause twice the one before)
    this.switches = 0;
    this.offMs = 0; // total time with inlining off, ended spells only
    this.recent = []; // the last spells, [from, to] (to: null while off), for reports and the bench
  }

  /** One post-GC heap reading (bytes) at `now` (ms). */
  observe(used, now) {
    if (this.origin === null) this.origin = now;
    this.watch.observe(used, now);
    const growing = this.watch.inEpisode;
    if (!growing) {
      this.spent = false;
      this.spells = 0;
    }
    if (this.off) {
      if (growing) this.lastGrowing = now;
      if (now - this.since >= this.maxOffMs) this.restore(now, 'cap');
      else if (now - this.lastGrowing > LINGER_MS) this.restore(now, 'quiet');
    } else if (growing && !this.spent && now >= this.pauseUntil) {
      if (this.setInlining(false) !== false) {
        this.off = true;
        this.since = now;
        this.lastGrowing = now;
        this.switches++;
        this.spells++;
        if (this.firstSpell === undefined) this.firstSpell = now - this.origin;
        this.recent.push([now, null]);
        if (this.recent.length > 16) this.recent.shift();
      } else {
        this.spent = true; // this process may not switch: ask again in the next episode only
      }
    }
  }

  /** A 'leak' was reported with its sites: inlining may come back. */
  leakReported(now) {
    this.spent = true;
    if (this.off) this.restore(now, 'leak');
  }

  /**
   * Inlining back on (`why`: 'leak', 'cap', 'quiet' or 'reset'). A spell that came to nothing is
   * followed by a pause twice as long as it lasted, doubling with each spell of the same growth;
   * except a spell of the 'leak' detector's warm-up whose growth stopped (a service filling its
   * caches), or a leak from the start would find the suspicion paused.
   */
  restore(now, why) {
    if (!this.off) return;
    this.off = false;
    const spell = Math.max(0, now - this.since);
    this.offMs += spell;
    this.recent[this.recent.length - 1][1] = now;
    const warmup = this.since - this.origin < this.warmupMs;
    if (why === 'cap' || (why === 'quiet' && !warmup)) this.pauseUntil = now + PAUSE_FACTOR ** this.spells * spell;
    this.setInlining(true);
  }
}

// The real switch.
const V8_MAJOR = Number(process.versions.v8.split('.')[0]);
let flagsTouched = false;

/** Whether the program set V8's inlining itself (node flags or NODE_OPTIONS): then it stays. */
function programChoseInlining() {
  const args = [...process.execArgv, ...String(process.env.NODE_OPTIONS || '').split(/\s+/)];
  // Flags only: `node -e` puts its script in execArgv too.
  return args.some((a) => /^--[\w-]*inlin/.test(a));
}

function mayDeoptimise() {
  if (process.env.NODE_V8_COVERAGE) return null;
  let inspector;
  try {
    inspector = require('node:inspector');
  } catch {
    return null; // node built without the inspector
  }
  if (typeof inspector.Session !== 'function' || inspector.url()) return null;
  return inspector;
}

/** Throws away all optimised code (precise coverage on and off); false when it could not. */
function deoptimiseAll() {
  const inspector = mayDeoptimise();
  if (!inspector) return false;
  const session = new inspector.Session();
  let ok = true;
  const post = (method, params) => session.post(method, params || {}, (e) => e && (ok = false));
  try {
    session.connect();
    post('Profiler.enable');
    post('Profiler.startPreciseCoverage', { callCount: true, detailed: false });
    post('Profiler.stopPreciseCoverage');
    post('Profiler.disable');
  } catch {
    ok = false;
  } finally {
    try {
      session.disconnect();
    } catch {
      // already gone
    }
  }
  return ok;
}

/** Whether this process may switch inlining at all. */
function available() {
  let isMainThread = true;
  try {
    ({ isMainThread } = require('node:worker_threads'));
  } catch {
    // no workers in this node
  }
  return isMainThread && !programChoseInlining();
}

/** Inlining off (`on` false) or back on; false when this process leaves it alone. */
function setInlining(on) {
  if (!on && !available()) return false;
  if (on && !flagsTouched) return true;
  const v8 = require('node:v8');
  v8.setFlagsFromString(on ? '--turbo-inlining' : '--no-turbo-inlining');
  // Maglev inlines from V8 12 (node 22) on; on V8 11 its default is off and stays so.
  if (V8_MAJOR >= 12) v8.setFlagsFromString(on ? '--maglev-inlining' : '--no-maglev-inlining');
  flagsTouched = !on;
  deoptimiseAll();
  return true;
}

let policy = null;
let enabled = true;

/** Called on every full GC while allocation sampling runs for 'leak'. */
function onFullGc(used, now, warmupMs) {
  if (!enabled) return;
  if (!policy) policy = new InliningPolicy(setInlining, { warmupMs: warmupMs() });
  policy.observe(used, now);
}

/** Called after a 'leak' took its sites. */
function onLeak(now) {
  if (policy) policy.leakReported(now);
}

/** Sampling stopped or the option turned off: inlining back, the suspicion forgotten. */
function reset(now) {
  if (policy) policy.restore(now, 'reset');
  policy = null;
}

/** The `exactSites` option. */
function setEnabled(on) {
  enabled = Boolean(on);
  if (!enabled) reset(Date.now());
}

function isEnabled() {
  return enabled;
}

/** Whether inlining is off now (for tests and reports). */
function inliningOff() {
  return Boolean(policy && policy.off);
}

module.exports = { InliningPolicy, onFullGc, onLeak, reset, setEnabled, isEnabled, inliningOff, setInlining, deoptimiseAll, SUSPECT, MAX_OFF_MS };
