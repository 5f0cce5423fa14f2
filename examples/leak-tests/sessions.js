'use strict';
// A tiny "service" for the leak-test examples: checkout() leaks one SessionRecord per call by
// mistake (it is never removed from `sessions`); quote() does not leak.
class SessionRecord {
  constructor(id) {
    this.id = id;
    this.startedAt = Date.now();
  }
}
const sessions = new Map();
let nextId = 0;

async function checkout() {
  const id = ++nextId;
  sessions.set(id, new SessionRecord(id)); // forgotten: never deleted
  await null;
  return id;
}

const prices = new Map([['apple', 3], ['pear', 4]]);
async function quote(item = 'apple') {
  await null;
  return { item, price: prices.get(item) };
}

module.exports = { checkout, quote };
