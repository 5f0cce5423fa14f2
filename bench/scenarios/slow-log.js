'use strict';
// LEAK, slower: one request in 25 appends an audit entry to an in-memory list nobody trims.
const audit = [];

module.exports = {
  kind: 'leak',
  // The functions whose allocations are the leak (bench/scenarios/sites.js checks 'leak'.sites).
  leakFunctions: ['handle'],
  description: 'one request in 25 appends an audit entry to an untrimmed list',
  handle(ctx) {
    if (ctx.id % 25 === 0) audit.push({ id: ctx.id, url: ctx.url, user: ctx.body.user, at: new Date().toISOString() });
  },
};
