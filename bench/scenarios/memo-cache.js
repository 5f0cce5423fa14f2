'use strict';
// LEAK: a memoisation cache keyed by request-specific input, never evicted.
const cache = new Map();

function render(key) {
  let hit = cache.get(key);
  if (!hit) {
    hit = { html: `<li>${key}</li>`, at: Date.now() };
    cache.set(key, hit);
  }
  return hit.html;
}

module.exports = {
  kind: 'leak',
  // The functions whose allocations are the leak (bench/scenarios/sites.js checks 'leak'.sites).
  leakFunctions: ['render'],
  description: 'a memo cache that is never evicted',
  handle(ctx) {
    return render(`${ctx.url}?u=${ctx.body.user}`);
  },
};
