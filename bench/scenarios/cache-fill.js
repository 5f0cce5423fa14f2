'use strict';
// CONTROL (trap): a cache filling to its bound. Keys come from a fixed set of 60,000 pages with
// a skewed popularity, so the cache grows quickly at first, more and more slowly as popular
// pages are already in, and stops at its bound of 40,000 entries.
const LIMIT = 40000;
const cache = new Map();
const rand = require('./rand').seeded(99991);

module.exports = {
  kind: 'control',
  description: 'a cache filling to its bound (40,000 entries, skewed keys)',
  handle() {
    const key = Math.floor(60000 * rand() ** 2);
    if (!cache.has(key)) {
      if (cache.size >= LIMIT) cache.delete(cache.keys().next().value);
      cache.set(key, { html: `<article>${key}</article>`.repeat(6), at: Date.now() });
    }
  },
};
