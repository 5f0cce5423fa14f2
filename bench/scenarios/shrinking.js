'use strict';
// CONTROL: a heap that shrinks: a large startup data set released bit by bit while serving.
// Each request also keeps medium-lived state (the last 5,000 responses, like sessions in
// flight), which is promoted and then dies, so full GCs keep sampling the shrinking heap.
const preload = [];
for (let i = 0; i < 600000; i++) preload.push({ i, name: `row-${i}`, tags: [i] });
const recent = new Array(5000);

module.exports = {
  kind: 'control',
  description: 'a shrinking heap (startup data released gradually)',
  handle(ctx) {
    recent[ctx.id % recent.length] = { id: ctx.id, body: ctx.body, html: `<p>${ctx.url}</p>`.repeat(8) };
    if (preload.length) preload.length -= Math.min(preload.length, 30);
  },
};
