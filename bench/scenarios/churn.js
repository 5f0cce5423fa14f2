'use strict';
// Medium-lived data, as every real service has: each request's state stays alive for a random
// while (in flight: 0.2-3 s), some results go into a TTL cache (5-40 s), and some responses are
// kept in a ring of recent buffers. This data survives scavenges and reaches old space, so the
// post-GC heap jitters by several percent from one full GC to the next, as on real services.
// run-one.js applies it to every scenario unless --no-churn.
const rand = require('./rand').seeded(0x2545f491);

const ttlCache = new Map();
const ring = new Array(2000);
let ringAt = 0;
let inFlight = 0;

function sweepTtl(now) {
  for (const [k, v] of ttlCache) {
    if (v.expires > now) break; // insertion order ~ expiry order within a few seconds
    ttlCache.delete(k);
  }
}
setInterval(() => sweepTtl(Date.now()), 1000).unref();

function touch(ctx) {
  const now = Date.now();
  // In flight: the request's parsed state, held until a simulated downstream call answers.
  const state = { id: ctx.id, body: ctx.body, rows: Array.from({ length: 8 + Math.floor(rand() * 24) }, (_, i) => ({ i, v: `r${ctx.id}-${i}` })) };
  inFlight++;
  setTimeout(() => {
    state.rows = null;
    inFlight--;
  }, 200 + rand() * 2800).unref();
  // TTL cache: a third of requests store a result for 5-40 s.
  if (rand() < 0.33) ttlCache.set(`k${ctx.id}`, { expires: now + 5000 + rand() * 35000, html: `<li>${ctx.id}</li>`.repeat(20) });
  // Recent responses ring.
  if (rand() < 0.5) ring[ringAt++ % ring.length] = `${ctx.url}:${'y'.repeat(200 + Math.floor(rand() * 600))}`;
  return inFlight;
}

module.exports = { touch };
