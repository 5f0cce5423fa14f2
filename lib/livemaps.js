'use strict';
// Node's own source maps of this process (`module.findSourceMap`), for locations the native
// side could not map from files on disk: code compiled in memory (ts-node, tsx, a require hook,
// a test runner's transform) carries its map inline in a source that exists nowhere but in
// node's cache. Node keeps those maps only when its source maps are on (`--enable-source-maps`,
// `process.setSourceMapsEnabled(true)`); otherwise every lookup finds nothing and locations stay
// as V8 gave them. Locations already mapped (with `generated`) are left alone.

const { findSourceMap } = require('node:module');
const { fileURLToPath, pathToFileURL } = require('node:url');

/** The original of a 1-based position in `script` (a path or a file: URL), or null. */
function original(script, line, column) {
  if (typeof script !== 'string' || script === '' || !(line > 0) || !(column > 0)) return null;
  let map;
  try {
    map = findSourceMap(script) || (script.startsWith('/') ? findSourceMap(pathToFileURL(script).href) : undefined);
  } catch {
    return null;
  }
  if (!map || typeof map.findEntry !== 'function') return null;
  let e;
  try {
    e = map.findEntry(line - 1, column - 1);
  } catch {
    return null;
  }
  // A token on another generated line maps another statement: no answer is better.
  if (!e || typeof e.originalSource !== 'string' || typeof e.originalLine !== 'number' || e.generatedLine !== line - 1) return null;
  let source = e.originalSource;
  if (source.startsWith('file:')) {
    try {
      source = fileURLToPath(source);
    } catch {
      // keep the URL
    }
  }
  return { script: source, line: e.originalLine + 1, column: e.originalColumn + 1, name: typeof e.name === 'string' && e.name ? e.name : undefined };
}

/** `{ script, line, column }` through node's maps: `{ script, line, column, generated }`. */
function mapLocation(loc) {
  if (!loc || typeof loc !== 'object' || loc.generated) return loc;
  const o = original(loc.script, loc.line, loc.column);
  if (!o) return loc;
  return { ...loc, script: o.script, line: o.line, column: o.column, generated: { script: loc.script, line: loc.line, column: loc.column } };
}

/** `file:line:col` through node's maps (the same form back). */
function mapLocationText(text) {
  if (typeof text !== 'string') return text;
  const m = /^(.*):(\d+):(\d+)$/.exec(text);
  if (!m) return text;
  const o = original(m[1], Number(m[2]), Number(m[3]));
  return o ? `${o.script}:${o.line}:${o.column}` : text;
}

/** A 'leak' site or a stack frame (`script`, `line`, `column`, maybe `generated`), in place. */
function mapFrame(f) {
  if (!f || typeof f !== 'object' || f.generated) return f;
  const o = original(f.script, f.line, f.column);
  if (o) {
    f.generated = { script: f.script, line: f.line, column: f.column };
    f.script = o.script;
    f.line = o.line;
    f.column = o.column;
  }
  return f;
}

/** Whether node keeps source maps in this process (nothing to look up otherwise). */
function enabled() {
  return process.sourceMapsEnabled !== false;
}

/** A HeapDiff or leak test result's locations, in place: roots, retainer samples, stacks. */
function mapResult(result) {
  if (!enabled() || !result) return result;
  for (const r of result.roots || []) r.location = mapLocation(r.location);
  for (const r of result.retainers || []) r.location = mapLocationText(r.location);
  for (const g of result.groups || []) g.location = mapLocationText(g.location);
  for (const s of result.stacks || []) for (const f of s.frames || []) mapFrame(f);
  return result;
}

module.exports = { original, mapLocation, mapLocationText, mapFrame, mapResult, enabled };
