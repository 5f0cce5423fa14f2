#!/usr/bin/env node
'use strict';
// Draws the README's picture of the leak detector from a real run: a leaking HTTP service
// (bench/scenarios, with churn, natural GCs only) is run with memwatch-rs's defaults; every
// post-GC heap is plotted, with the warm-up, the trend window that decided and the 'leak' event.
// Writes docs/leak-detector.svg (plain SVG, no dependencies).
//
//   node bench/detector/plot.js [scenario] [seconds]      (default: request-log 300)
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { runJson } = require('../lib/stats');

const scenario = process.argv[2] || 'request-log';
const seconds = Number(process.argv[3] || 300);
const series = path.join(os.tmpdir(), `memwatch-plot-${process.pid}.txt`);
const res = runJson(path.join(__dirname, '..', 'scenarios', 'run-one.js'), [scenario, String(seconds), '--record', series], { timeout: (seconds + 60) * 1000 });
const points = fs
  .readFileSync(series, 'utf8')
  .split('\n')
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => l.split(' ').map(Number));
fs.rmSync(series);
const description = require(path.join(__dirname, '..', 'scenarios', `${scenario}.js`)).description;

const W = 900;
const H = 380;
const M = { l: 70, r: 20, t: 40, b: 50 };
const tMax = Math.max(...points.map((p) => p[0])) / 1000;
const yMax = Math.max(...points.map((p) => p[1])) * 1.08;
const x = (t) => M.l + (t / tMax) * (W - M.l - M.r);
const y = (b) => H - M.b - (b / yMax) * (H - M.t - M.b);
const mb = (b) => `${(b / 1048576).toFixed(0)} MB`;
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

const parts = [];
parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
parts.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
parts.push(`<text x="${M.l}" y="20" font-size="14" font-weight="bold">${esc(`${scenario}: ${description} (with medium-lived churn), node ${process.version}`)}</text>`);
// warm-up
const warm = require('../..').getOptions().leakWarmupMs / 1000;
parts.push(`<rect x="${x(0)}" y="${M.t}" width="${x(Math.min(warm, tMax)) - x(0)}" height="${H - M.t - M.b}" fill="#f1f1f1"/>`);
parts.push(`<text x="${x(2)}" y="${M.t + 14}" fill="#777">warm-up (not tested)</text>`);
// axes
for (let i = 0; i <= 4; i++) {
  const b = (yMax / 4) * i;
  parts.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${y(b)}" y2="${y(b)}" stroke="#eee"/><text x="${M.l - 6}" y="${y(b) + 4}" text-anchor="end" fill="#555">${mb(b)}</text>`);
}
for (let t = 0; t <= tMax; t += 30) parts.push(`<text x="${x(t)}" y="${H - M.b + 16}" text-anchor="middle" fill="#555">${t}s</text>`);
parts.push(`<text x="${(W + M.l) / 2}" y="${H - 10}" text-anchor="middle" fill="#555">seconds since start; one dot per full GC (used heap right after it)</text>`);
// points
for (const [t, b] of points) parts.push(`<circle cx="${x(t / 1000).toFixed(1)}" cy="${y(b).toFixed(1)}" r="2.2" fill="#2f6fde"/>`);
// the leak
const leak = res.leaks[0];
if (leak) {
  const end = leak.at_s;
  const start = end - leak.window_s;
  const inWindow = points.filter((p) => p[0] / 1000 >= start && p[0] / 1000 <= end).map((p) => p[1]);
  const y0 = Math.min(...inWindow.slice(0, Math.max(1, inWindow.length >> 3)));
  parts.push(`<rect x="${x(start)}" y="${M.t}" width="${x(end) - x(start)}" height="${H - M.t - M.b}" fill="#c8372d" fill-opacity="0.08"/>`);
  parts.push(`<line x1="${x(start)}" y1="${y(y0)}" x2="${x(end)}" y2="${y(y0 + leak.growth)}" stroke="#c8372d" stroke-width="2.5"/>`);
  parts.push(`<line x1="${x(end)}" x2="${x(end)}" y1="${M.t}" y2="${H - M.b}" stroke="#c8372d" stroke-dasharray="4 3"/>`);
  const label = `'leak' at ${end.toFixed(0)}s: ${leak.reason}`;
  const words = label.split('; ');
  words.forEach((w, i) => parts.push(`<text x="${M.l + 8}" y="${M.t + 34 + i * 15}" fill="#c8372d">${esc(w)}</text>`));
}
parts.push('</svg>');
const out = path.join(__dirname, '..', '..', 'docs', 'leak-detector.svg');
fs.writeFileSync(out, `${parts.join('\n')}\n`);
console.log(`wrote ${out}: ${points.length} full GCs, ${res.leaks.length} leak event(s)${leak ? ` (first at ${leak.at_s.toFixed(1)} s)` : ''}`);
