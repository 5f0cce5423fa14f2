#!/usr/bin/env node
// Development checkouts only (called by scripts/install.js when .git exists): the HTML report
// test drives Debian's Chromium (`__test__/html.test.js`), which npm cannot install. As root on
// a Debian-like system, install it with apt-get; otherwise say what to do. Skip with
// MEMWATCH_RS_NO_CHROMIUM=1 (the HTML test then fails, saying why).
'use strict';

const fs = require('node:fs');
const { spawnSync } = require('node:child_process');

const CHROMIUM = process.env.MEMWATCH_RS_CHROMIUM || '/usr/bin/chromium';

function main() {
  if (process.env.MEMWATCH_RS_NO_CHROMIUM === '1' || fs.existsSync(CHROMIUM)) return;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const apt = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).status === 0;
  if (!root || !apt) {
    console.error(`memwatch-rs: the HTML report test needs Chromium at ${CHROMIUM}; install it (Debian: sudo apt-get install chromium).`);
    return;
  }
  console.error('memwatch-rs: installing Debian chromium for the HTML report test (apt-get)...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: ['ignore', 'ignore', 'inherit'], env }).status === 0;
  if (install()) return;
  spawnSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  if (!install()) console.error('memwatch-rs: could not install chromium; the HTML report test will fail until it is installed.');
}

main();
