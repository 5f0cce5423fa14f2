'use strict';
// Shared helpers for the node:test suites (not a test file itself).

const { spawnSync } = require('node:child_process');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');

/** Resolves with the next `event` emitted by `emitter`, or rejects after `ms`. */
function nextEvent(emitter, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.removeListener(event, on);
      reject(new Error(`no '${event}' event within ${ms} ms`));
    }, ms);
    function on(value) {
      clearTimeout(timer);
      emitter.removeListener(event, on);
      resolve(value);
    }
    emitter.on(event, on);
  });
}

/** Lets queued native events (delivered through the event loop) arrive. */
function settle(ms = 50) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `code` in a fresh node process (cwd: the repo root) and returns { status, signal, stdout, stderr }. */
function runNode(code, { args = [], env = {}, timeout = 60000 } = {}) {
  const r = spawnSync(process.execPath, [...args, '-e', code], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, error: r.error };
}

module.exports = { ROOT, nextEvent, settle, runNode };
