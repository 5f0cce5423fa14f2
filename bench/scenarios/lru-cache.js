'use strict';
// CONTROL: a cache bounded to 5,000 entries with least-recently-used eviction.
const LIMIT = 5000;
const cache = new Map();

function get(key) {
  let v = cache.get(key);
  if (v) {
    cache.delete(key);
  } else {
    v = { html: `<div>${key}</div>`, at: Date.now() };
    if (cache.size >= LIMIT) cache.delete(cache.keys().next().value);
  }
  cache.set(key, v);
  return v.html;
}

module.exports = {
  kind: 'control',
  description: 'an LRU-bounded cache (5,000 entries)',
  handle(ctx) {
    return get(`/page/${(ctx.id * 7919) % 20000}`);
  },
};
