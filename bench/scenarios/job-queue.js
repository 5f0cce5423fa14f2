'use strict';
// CONTROL: a job queue fed in bursts by requests and drained by a worker at a steady pace:
// the backlog swells during bursts and drains between them.
const queue = [];
let burstUntil = 0;
setInterval(() => {
  for (let i = 0; i < 400 && queue.length; i++) queue.shift();
}, 50).unref();

module.exports = {
  kind: 'control',
  description: 'a job queue filled in bursts, drained at a steady pace',
  handle(ctx) {
    const now = Date.now();
    if (now > burstUntil + 5000 && Math.random() < 0.001) burstUntil = now + 4000;
    const n = now < burstUntil ? 12 : 1;
    for (let i = 0; i < n; i++) queue.push({ id: ctx.id, payload: { body: ctx.body, at: now, note: `job-${ctx.id}-${i}` } });
  },
};
