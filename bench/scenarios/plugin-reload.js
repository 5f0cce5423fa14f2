'use strict';
// LEAK: hot reload gone wrong. Every 500 requests a "plugin" is reloaded: its code is compiled
// again and its handler registered, but the old handler (with its compiled code and its table)
// is never unregistered.
const handlers = [];
let version = 0;

function loadPlugin() {
  version++;
  const table = Array.from({ length: 400 }, (_, i) => ({ rule: `rule-${version}-${i}`, weight: i }));
  // eslint-disable-next-line no-new-func
  const compiled = new Function('table', 'req', `return table[req.id % table.length].rule + ${version};`);
  handlers.push((req) => compiled(table, req));
}

module.exports = {
  kind: 'leak',
  // The functions whose allocations are the leak (bench/scenarios/sites.js checks 'leak'.sites):
  // loadPlugin, and the (anonymous) Array.from mapper inside it that allocates each table's rows.
  leakFunctions: ['loadPlugin', '(anonymous)'],
  description: 'a plugin reloaded every 500 requests, old handlers never unregistered',
  handle(ctx) {
    if (ctx.id % 500 === 1) loadPlugin();
    return handlers[handlers.length - 1](ctx);
  },
};
