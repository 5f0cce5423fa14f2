'use strict';
// Self-contained HTML reports for `analyze`, `diff` and `leaks` (and a running program's
// post-GC heap over time): one file, no network, no external assets. The data is embedded as
// JSON (with '<' escaped, so no class name can close the script) and drawn by the page script
// (page.js, with page.css), both real files inlined here when a report is written.

const fs = require('node:fs');
const path = require('node:path');

let assets = null;
/** page.css and page.js, read once, on the first report. */
function pageAssets() {
  if (!assets) {
    const read = (f) => fs.readFileSync(path.join(__dirname, f), 'utf8');
    const script = read('page.js');
    // The script is inlined into a <script> element: it must never close it.
    if (/<\/script/i.test(script)) throw new Error('memwatch-rs: lib/report/page.js must not contain "</script"');
    assets = { css: read('page.css'), script };
  }
  return assets;
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

const TITLES = { analyze: 'Heap snapshot analysis', diff: 'Heap snapshot comparison', leaks: 'Leaks: three-snapshot comparison', 'near-limit': 'Near a limit: what grew' };

/**
 * The report page for `kind` ('analyze' | 'diff' | 'leaks' | 'near-limit'), from the JSON report of that
 * command; `files` are shown in the header; `stats` (optional) is a list of post-GC samples
 * `{ time, current_base, estimated_base, used_heap_size }`; `leak` (optional) is the 'leak' event
 * the report was written for (its reason and, with allocation sampling, its `sites`).
 */
function renderHtml({ kind, report, files = [], stats = null, leak = null }) {
  if (!TITLES[kind]) throw new TypeError(`memwatch-rs: unknown report kind "${kind}"`);
  const payload = JSON.stringify({ kind, report, stats, leak }).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  const sub = files.map((f) => escapeHtml(path.basename(f))).join(' &rarr; ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>memwatch-rs: ${escapeHtml(TITLES[kind])}</title><style>${pageAssets().css}</style></head>
<body><header><h1>memwatch-rs &middot; ${escapeHtml(TITLES[kind])}</h1><div class="sub">${sub} &middot; ${escapeHtml(new Date().toISOString())}</div></header>
<main id="main"></main>
<script type="application/json" id="memwatch-data">${payload}</script>
<script>${pageAssets().script}</script>
</body></html>
`;
}

/**
 * Writes the page to `file` and returns the path, through the native one writer: mode 0600 (it
 * names what the heap holds), complete or not at all, never through a planted link, and never
 * over one of the report's own input files (`options.files`).
 */
function writeHtml(file, options) {
  const out = path.resolve(file);
  const inputs = (options.files || []).map((f) => path.resolve(f));
  return require('../native.js').writeFile(out, renderHtml(options), inputs);
}

module.exports = { renderHtml, writeHtml };
