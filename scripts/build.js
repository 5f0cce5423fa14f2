#!/usr/bin/env node
// Builds the native addon from source for the node running this script, and installs the
// binary where index.js looks for it: prebuilds/<platform>-<arch>/memwatch-rs.abi<ABI>.node.
//
// The headers used are those of this node (or $NODE_INCLUDE_DIR); the ABI in the file name is
// the one the binary was compiled for, so one package can carry a binary per Node ABI.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { prebuildDir, writeStamp } = require('./prebuilds.js');

const root = path.resolve(__dirname, '..');

function headerAbi(includeDir) {
  const text = fs.readFileSync(path.join(includeDir, 'node_version.h'), 'utf8');
  const m = /^#define NODE_MODULE_VERSION (\d+)/m.exec(text);
  if (!m) throw new Error(`no NODE_MODULE_VERSION in ${includeDir}/node_version.h`);
  return m[1];
}

function main() {
  const profile = process.argv.includes('--debug') ? 'debug' : 'release';
  const abi = process.env.NODE_INCLUDE_DIR ? headerAbi(process.env.NODE_INCLUDE_DIR) : process.versions.modules;
  const args = ['build', '-p', 'memwatch-rs'];
  if (profile === 'release') args.push('--release');
  const env = { ...process.env, MEMWATCH_NODE: process.execPath };
  console.error(`memwatch-rs: building the native addon for Node ABI ${abi} (cargo ${args.join(' ')})`);
  const result = spawnSync('cargo', args, { cwd: root, env, stdio: 'inherit' });
  if (result.error && result.error.code === 'ENOENT') {
    console.error(
      'memwatch-rs: cargo was not found. memwatch-rs has no prebuilt binary for this Node ' +
        `(ABI ${abi}, ${process.platform}-${process.arch}); install Rust (https://rustup.rs) and ` +
        'run `npm rebuild memwatch-rs`.',
    );
    process.exit(1);
  }
  if (result.status !== 0) {
    console.error('memwatch-rs: the native build failed (see the cargo output above).');
    process.exit(result.status || 1);
  }
  const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(root, process.env.CARGO_TARGET_DIR) : path.join(root, 'target');
  const libName = { darwin: 'libmemwatch_rs.dylib', win32: 'memwatch_rs.dll' }[process.platform] || 'libmemwatch_rs.so';
  const built = path.join(targetDir, profile, libName);
  const destDir = prebuildDir();
  const dest = path.join(destDir, `memwatch-rs.abi${abi}.node`);
  fs.mkdirSync(destDir, { recursive: true });
  // Copy to a temporary name, then rename: a running process never sees a half-written binary.
  const tmp = `${dest}.${process.pid}.tmp`;
  fs.copyFileSync(built, tmp);
  fs.renameSync(tmp, dest);
  writeStamp(abi);
  console.error(`memwatch-rs: installed ${path.relative(root, dest)}`);
}

main();
