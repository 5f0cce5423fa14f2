'use strict';
// Leak state per kind ('heap', 'fds', 'handles', 'timers', 'external'), for the metrics
// exporters: how many 'leak' events each kind raised and whether a leak is suspected now.
// The monitor (heap) and watchResources (the others) record here; nothing else writes it.

const native = require('./native.js');

// kind -> { events, lastMs, active: () => boolean }
const kinds = new Map();
// memwatch's own rule has no episodes: a heap leak it reported stays suspected this long.
const MEMWATCH_RULE_HOLD_MS = 10 * 60_000;

function entry(kind) {
  let e = kinds.get(kind);
  if (!e) {
    e = { events: 0, lastMs: 0, active: null };
    kinds.set(kind, e);
  }
  return e;
}

/** Counts one 'leak' event of `leak.kind`. */
function record(leak) {
  const e = entry(leak.kind);
  e.events += 1;
  e.lastMs = Date.now();
}

/** Sets how a kind tells whether its leak episode goes on (the kind's own detector). */
function setActive(kind, active) {
  entry(kind).active = active;
}

function heapSuspected() {
  const e = kinds.get('heap');
  if (!e || e.events === 0) return false;
  if (native.getOptions().detector === 'memwatch') return Date.now() - e.lastMs < MEMWATCH_RULE_HOLD_MS;
  return native.leakInEpisode();
}

/** `{ events, suspected }` of one kind. */
function state(kind) {
  const e = kinds.get(kind);
  const suspected = kind === 'heap' ? heapSuspected() : Boolean(e && e.events > 0 && e.active && e.active());
  return { events: e ? e.events : 0, suspected };
}

module.exports = { record, setActive, state };
