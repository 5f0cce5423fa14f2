'use strict';
// Bounded HTTP load on loopback: `concurrency` keep-alive clients hitting `url` until `seconds`
// pass or `maxRequests` complete, then exits. Only ever targets the URL it is given (127.0.0.1).
//
//   node bench/scenarios/load.js <url> <seconds> [concurrency] [maxRequests]
const http = require('node:http');

const [url, secondsArg, concArg, maxArg] = process.argv.slice(2);
if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(url || '')) {
  console.error('load.js only targets http://127.0.0.1:<port>/');
  process.exit(2);
}
const deadline = Date.now() + Number(secondsArg || 30) * 1000;
const concurrency = Number(concArg || 16);
const maxRequests = Number(maxArg || 5e6);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
let sent = 0;
let failed = 0;

function one() {
  if (Date.now() >= deadline || sent >= maxRequests) return Promise.resolve();
  sent++;
  return new Promise((resolve) => {
    const body = JSON.stringify({ user: `u${sent % 977}`, q: 'x'.repeat(48), n: sent });
    const req = http.request(url + sent, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', () => {
      failed++;
      setTimeout(resolve, 10);
    });
    req.end(body);
  }).then(one);
}

Promise.all(Array.from({ length: concurrency }, one)).then(() => {
  agent.destroy();
  if (process.send) process.send({ sent, failed });
  process.exit(0);
});
