#!/usr/bin/env node
// Development checkouts only (called by scripts/install.js when .git exists): two test suites
// drive real servers that npm cannot install: Debian's Chromium (`__test__/html.test.js`, the
// HTML report) and Debian's Prometheus (`__test__/prometheus.test.js`, scraping memwatch's
// metrics). As root on a Debian-like system, install what is missing with apt-get; otherwise
// say what to do. Skip one with MEMWATCH_RS_NO_CHROMIUM=1 or MEMWATCH_RS_NO_PROMETHEUS=1 (its
// test then fails or, outside CI, skips, saying why).
'use strict';

const fs = require('node:fs');
const { spawnSync } = require('node:child_process');

const NEEDS = [
  { pkg: 'chromium', bin: process.env.MEMWATCH_RS_CHROMIUM || '/usr/bin/chromium', skip: 'MEMWATCH_RS_NO_CHROMIUM', why: 'the HTML report test' },
  { pkg: 'prometheus', bin: process.env.MEMWATCH_RS_PROMETHEUS || '/usr/bin/prometheus', skip: 'MEMWATCH_RS_NO_PROMETHEUS', why: 'the Prometheus metrics test' },
];

function main() {
  const missing = NEEDS.filter((n) => process.env[n.skip] !== '1' && !fs.existsSync(n.bin));
  if (missing.length === 0) return;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const apt = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).status === 0;
  if (!root || !apt) {
    for (const n of missing) console.error(`memwatch-rs: ${n.why} needs ${n.pkg} at ${n.bin}; install it (Debian: sudo apt-get install ${n.pkg}).`);
    return;
  }
  const pkgs = missing.map((n) => n.pkg);
  console.error(`memwatch-rs: installing Debian ${pkgs.join(' and ')} for ${missing.map((n) => n.why).join(' and ')} (apt-get)...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { stdio: ['ignore', 'ignore', 'inherit'], env }).status === 0;
  if (install()) return;
  spawnSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  if (!install()) console.error(`memwatch-rs: could not install ${pkgs.join(', ')}; ${missing.map((n) => n.why).join(' and ')} will fail until installed.`);
}

main();
