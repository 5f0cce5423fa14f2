'use strict';
// Small helpers shared by the benchmark scripts: medians, child runs, anchors.

const { spawnSync } = require('node:child_process');

function median(values) {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Runs `node script args...` and parses the last stdout line as JSON. */
function runJson(script, args, { env = {}, nodeArgs = [], timeout = 600000 } = {}) {
  const r = spawnSync(process.execPath, [...nodeArgs, script, ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) {
    throw new Error(`${script} ${args.join(' ')} failed (status ${r.status}, signal ${r.signal}):\n${r.stderr}`);
  }
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

/** Whether a package can be required from the project root. */
function available(name) {
  try {
    require.resolve(name, { paths: [require('node:path').resolve(__dirname, '..', '..')] });
    return true;
  } catch {
    return false;
  }
}

/** The value after `--name` on the command line, or `fallback`. */
function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function fmt(x, digits = 3) {
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}

module.exports = { median, runJson, available, fmt, arg };
