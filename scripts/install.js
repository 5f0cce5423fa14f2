#!/usr/bin/env node
// `npm install` hook: use the packaged binary for this Node ABI when there is one, otherwise
// build from source (needs cargo). Set MEMWATCH_RS_BUILD_FROM_SOURCE=1 to always build.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const binary = path.join(
  root,
  'prebuilds',
  require('../lib/platform.js').platformTag(),
  `memwatch-rs.abi${process.versions.modules}.node`,
);
const fromSource = process.env.MEMWATCH_RS_BUILD_FROM_SOURCE === '1' || fs.existsSync(path.join(root, '.git'));

if (!fromSource && fs.existsSync(binary)) {
  process.exit(0);
}
require('./build.js');
// A development checkout also gets what its tests need beyond npm (Chromium for the HTML test).
if (fs.existsSync(path.join(root, '.git'))) require('./dev-deps.js');
