'use strict';
// LEAK: each request subscribes to a shared EventEmitter and never unsubscribes.
const { EventEmitter } = require('node:events');

const bus = new EventEmitter();
bus.setMaxListeners(0);

module.exports = {
  kind: 'leak',
  // The functions whose allocations are the leak (bench/scenarios/sites.js checks 'leak'.sites).
  leakFunctions: ['handle', 'onConfigChanged'],
  description: 'a listener added per request to a shared EventEmitter',
  handle(ctx) {
    const session = { id: ctx.id, user: ctx.body.user };
    bus.on('config-changed', function onConfigChanged() {
      return session.id;
    });
  },
};
