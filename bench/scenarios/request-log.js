'use strict';
// LEAK: every request appends a record to a module-level log that nothing ever trims.
class RequestLog {
  constructor(ctx) {
    this.id = ctx.id;
    this.url = ctx.url;
    this.at = Date.now();
    this.agent = ctx.headers['user-agent'];
  }
}
const logs = [];

module.exports = {
  kind: 'leak',
  // The functions whose allocations are the leak (bench/scenarios/sites.js checks 'leak'.sites).
  leakFunctions: ['handle', 'RequestLog'],
  description: 'per-request records pushed into a global array',
  handle(ctx) {
    logs.push(new RequestLog(ctx));
  },
};
