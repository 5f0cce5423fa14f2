'use strict';
// CONTROL (trap): warm-up. For its first ~20 s the service fills lazily built tables (routes,
// templates, compiled lookups) at a falling rate, then levels off: the heap climbs, then stays.
const tables = new Map();
const started = Date.now();

module.exports = {
  kind: 'control',
  description: 'warm-up: lazily built tables, fast at first, level after ~20 s',
  handle(ctx) {
    const age = (Date.now() - started) / 1000;
    // Fewer new entries as time goes on: ~e^(-age/6), none after 25 s.
    const p = age > 25 ? 0 : Math.exp(-age / 6);
    if (Math.random() < p) {
      for (let i = 0; i < 8; i++) tables.set(`${ctx.id}:${i}`, { route: ctx.url + i, tpl: `<div class="t${i}">{{${ctx.id}}}</div>`.repeat(3) });
    }
  },
};
