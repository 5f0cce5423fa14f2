'use strict';
// Which prebuilt binaries fit this machine: `prebuilds/<platform>-<arch>[-musl]/`. Linux has two
// C libraries whose binaries do not load into each other's processes: glibc (most
// distributions) and musl (Alpine, many containers).

const fs = require('node:fs');

/** Whether this Node runs on musl: what its `ldd` is, else what Node's own report says. */
function isMusl() {
  if (process.platform !== 'linux') return false;
  try {
    return fs.readFileSync('/usr/bin/ldd', 'latin1').includes('musl');
  } catch {
    // no ldd: ask Node (a few ms)
  }
  const report = typeof process.report === 'object' && process.report.getReport();
  return Boolean(report) && !report.header.glibcVersionRuntime;
}

/** `linux-x64`, `linux-x64-musl`, `darwin-arm64`, `win32-x64`, ... */
function platformTag(musl = isMusl()) {
  return `${process.platform}-${process.arch}${musl ? '-musl' : ''}`;
}

module.exports = { isMusl, platformTag };
