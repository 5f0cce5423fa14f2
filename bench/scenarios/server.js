'use strict';
// A small JSON HTTP service whose per-request behaviour a scenario supplies: `handle(ctx)` is
// called for every request with { id, url, headers, body } and may return extra response data.
const http = require('node:http');

function createServer(handle) {
  let id = 0;
  return http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        // keep {}
      }
      const ctx = { id: ++id, url: req.url, headers: { ...req.headers }, body };
      const extra = handle(ctx);
      const payload = JSON.stringify({ ok: true, id: ctx.id, user: body.user, extra: extra || null });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
      res.end(payload);
    });
  });
}

module.exports = { createServer };
