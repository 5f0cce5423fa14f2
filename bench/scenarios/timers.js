'use strict';
// LEAK: each render starts a polling interval that is never cleared; its closure keeps the
// render's state alive.
module.exports = {
  kind: 'leak',
  // The functions whose allocations are the leak (bench/scenarios/sites.js checks 'leak'.sites).
  leakFunctions: ['handle'],
  description: 'a timer started per render and never cleared',
  handle(ctx) {
    const state = { id: ctx.id, user: ctx.body.user };
    const t = setInterval(() => state.id, 3600 * 1000);
    t.unref();
  },
};
