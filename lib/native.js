'use strict';
// The native loader: finds the binary built for this Node's ABI under
// prebuilds/<platform>-<arch>[-musl]/memwatch-rs.abi<ABI>.node (or $MEMWATCH_RS_BINARY) and loads it,
// turning every way that can fail into one clear message that says how to rebuild. Nothing else
// in lib/ touches the file system to find the binary.

const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');

function loadNative() {
  const abi = process.versions.modules;
  // The C library is looked at only where the package carries musl binaries too.
  const musl = fs.existsSync(path.join(ROOT, 'prebuilds', `${process.platform}-${process.arch}-musl`)) && require('./platform.js').isMusl();
  const platform = `${process.platform}-${process.arch}${musl ? '-musl' : ''}`;
  const dir = path.join(ROOT, 'prebuilds', platform);
  const override = process.env.MEMWATCH_RS_BINARY;
  const file = override ? path.resolve(override) : path.join(dir, `memwatch-rs.abi${abi}.node`);
  if (!fs.existsSync(file)) {
    let available = [];
    try {
      available = fs
        .readdirSync(dir)
        .map((f) => /^memwatch-rs\.abi(\d+)\.node$/.exec(f))
        .filter(Boolean)
        .map((m) => m[1]);
    } catch {
      // no binaries for this platform at all
    }
    const have = available.length ? `it has binaries for ABI ${available.join(', ')}` : `it has no binary for ${platform}`;
    throw new Error(
      `memwatch-rs: no native binary for node ${process.version} (ABI ${abi}, ${platform}); ${have}. ` +
        'Build one for this node with `npm rebuild memwatch-rs` (needs Rust/cargo; from a source checkout: `npm run build`).',
    );
  }
  try {
    return require(file);
  } catch (e) {
    if (/^memwatch-rs:/.test(e.message)) throw e; // the binary's own ABI check: already clear
    // The dynamic linker refused it (most often: built for another Node, whose V8 exports
    // other symbols). Say so in the same words as the ABI check, never as an opaque dlopen error.
    const built = /abi(\d+)\.node$/.exec(file);
    throw new Error(
      `memwatch-rs: this binary was built for Node ABI ${built ? built[1] : '(unknown)'} but is loaded by node ` +
        `${process.versions.node} (ABI ${abi}) and cannot load here (${e.message.split('\n')[0]}). ` +
        'Rebuild it for this node with `npm rebuild memwatch-rs` (from a source checkout: `npm run build`).',
    );
  }
}

module.exports = loadNative();
