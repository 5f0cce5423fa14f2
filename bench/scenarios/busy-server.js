'use strict';
// CONTROL: a busy server that keeps nothing between requests.
module.exports = {
  kind: 'control',
  description: 'a busy server that keeps nothing',
  handle(ctx) {
    return ctx.body.q ? ctx.body.q.length : 0;
  },
};
