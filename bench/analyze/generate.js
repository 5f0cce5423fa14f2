'use strict';
// Builds a heap shaped like a leaking service and writes its snapshot:
//   node --max-old-space-size=12000 bench/analyze/generate.js <scale> <out.heapsnapshot>
// scale 1 gives ~540 MB. The heap has several classes, Maps, closures, strings, an
// EventEmitter with many listeners, and one big leaky cache owned by a Client.
const { EventEmitter } = require('node:events');
const v8 = require('node:v8');

const scale = Number(process.argv[2]);
const out = process.argv[3];
if (!(scale > 0) || !out) {
  console.error('usage: generate.js <scale> <out.heapsnapshot>');
  process.exit(2);
}
const N = Math.round(scale * 1e6);

class Session {
  constructor(i) {
    this.id = i;
    this.user = { name: 'u' + (i % 5000), tags: ['a', 'b'] };
  }
}
class CacheEntry {
  constructor(k) {
    this.key = k;
    this.value = 'v'.repeat(20) + k;
  }
}
class Client {
  constructor() {
    this.cache = new Map(); // the leak: never evicted
    this.history = [];
  }
}
class RequestLog {
  constructor(i) {
    this.url = '/api/items/' + i;
    this.at = i;
  }
}

globalThis.sessions = [];
globalThis.client = new Client();
globalThis.bus = new EventEmitter();
bus.setMaxListeners(0);
for (let i = 0; i < N; i++) {
  sessions.push(new Session(i));
  if (i % 3 === 0) client.cache.set('k' + i, new CacheEntry(i));
  if (i % 5 === 0) client.history.push(new RequestLog(i));
  if (i % 50 === 0) {
    const ctx = { i };
    bus.on('tick', () => ctx.i);
  }
}
v8.writeHeapSnapshot(out);
console.log(JSON.stringify({ out, scale, sessions: N }));
