'use strict';
// CONTROL: bursts. Traffic comes in waves: every ~8-15 s a burst of requests stores large
// short-TTL entries (10 s), then they expire: the heap swings widely around a steady level.
const cache = new Map();
let until = 0;

module.exports = {
  kind: 'control',
  description: 'bursty load: waves of large 10-s TTL entries',
  handle(ctx) {
    const now = Date.now();
    if (now > until + 4000 && Math.random() < 0.002) until = now + 3000;
    if (now < until) cache.set(ctx.id, { expires: now + 10000, data: `burst-${ctx.id}`.repeat(40) });
    if (ctx.id % 50 === 0) for (const [k, v] of cache) if (v.expires < now) cache.delete(k); else break;
  },
};
