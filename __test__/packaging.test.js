'use strict';
// How users load the package: CJS and ESM, default and named imports, and typings that
// tsc --strict accepts for CJS, ESM and TypeScript consumers (and rejects misuse).
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const memwatch = require('..');
const { ROOT } = require('./helpers');

/** Public names of the CJS face: its own properties plus the emitter methods ESM re-exports. */
const PUBLIC = Object.keys(memwatch).filter((k) => !k.startsWith('_') && typeof memwatch[k] === 'function');

/** A temp project whose node_modules/memwatch-rs is this checkout, as after `npm install`. */
function consumerProject(files) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memwatch-rs-consumer-'));
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'memwatch-rs'), 'dir');
  for (const f of files) fs.copyFileSync(path.join(__dirname, 'consumers', f), path.join(dir, f));
  return dir;
}

test('ESM: the default import is the CJS object and every public function is a named export', () => {
  assert.ok(PUBLIC.length >= 17, `public functions: ${PUBLIC.join(', ')}`);
  const dir = consumerProject([]);
  const script = `
    import memwatch, * as ns from 'memwatch-rs';
    import { createRequire } from 'node:module';
    const cjs = createRequire(import.meta.url)('memwatch-rs');
    if (memwatch !== cjs) throw new Error('default import differs from require()');
    const missing = ${JSON.stringify(PUBLIC)}.filter((k) => ns[k] !== cjs[k]);
    if (missing.length) throw new Error('not named exports: ' + missing.join(', '));
    const { on, off, gc, HeapDiff } = ns;
    let seen = 0;
    const fn = () => seen++;
    on('stats', fn);
    gc();
    setTimeout(() => {
      off('stats', fn);
      if (seen < 1) throw new Error('detached on() got no stats');
      const d = new HeapDiff().end();
      console.log('esm ok', Object.keys(ns).length, d.change.details.length > 0);
    }, 100);
  `;
  fs.writeFileSync(path.join(dir, 'check.mjs'), script);
  const r = spawnSync(process.execPath, ['check.mjs'], { cwd: dir, encoding: 'utf8' });
  fs.rmSync(dir, { recursive: true, force: true });
  assert.strictEqual(r.status, 0, r.stderr);
  assert.match(r.stdout, /esm ok \d+ true/);
});

test('the exports map resolves require and import to the two faces, and package.json stays reachable', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const dot = pkg.exports['.'];
  assert.strictEqual(dot.require.default, './index.js');
  assert.strictEqual(dot.import.default, './index.mjs');
  for (const f of [dot.require.types, dot.import.types, dot.require.default, dot.import.default]) {
    assert.ok(fs.existsSync(path.join(ROOT, f)), `${f} exists`);
    assert.ok(pkg.files.includes(f.slice(2)), `${f} is packed`);
  }
  assert.strictEqual(require.resolve('memwatch-rs/package.json', { paths: [consumerProject([])] }).endsWith('package.json'), true);
});

function tsc(dir, files) {
  const bin = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const args = [
    bin, '--strict', '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022',
    '--allowJs', '--checkJs', '--typeRoots', path.join(ROOT, 'node_modules', '@types'), '--types', 'node', ...files,
  ];
  return spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8' });
}

test('tsc --strict compiles CJS, ESM and TypeScript consumers against the typings', () => {
  const files = ['consumer.mts', 'consumer.cts', 'consumer.cjs', 'consumer.mjs'];
  const dir = consumerProject(files);
  const r = tsc(dir, files);
  fs.rmSync(dir, { recursive: true, force: true });
  assert.strictEqual(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
});

test('tsc --strict rejects misuse: retainers on a plain diff, arguments to gc()', () => {
  const dir = consumerProject(['wrong.mts']);
  const r = tsc(dir, ['wrong.mts']);
  fs.rmSync(dir, { recursive: true, force: true });
  assert.notStrictEqual(r.status, 0);
  assert.match(r.stdout, /wrong\.mts\(4,\d+\): error TS2339: Property 'retainers' does not exist/);
  assert.match(r.stdout, /wrong\.mts\(5,\d+\): error TS2554/);
});

test('HeapDiff: asking for 0 retainers still gives the (empty) retainers field the types promise', () => {
  const d = new memwatch.HeapDiff({ retainers: 0 }).end();
  assert.deepStrictEqual(d.retainers, []);
  assert.strictEqual('retainers' in new memwatch.HeapDiff().end(), false);
});

function prepack(env) {
  return spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'prepack.js')], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 10 * 60 * 1000,
  });
}

test("the npm that prepack runs itself does not inherit the outer npm pack's --pack-destination or --dry-run", () => {
  const { npmEnv } = require('../scripts/prebuilds.js');
  const outer = {
    PATH: '/usr/bin',
    npm_config_pack_destination: '/somewhere/else',
    npm_config_dry_run: 'true',
    npm_config_json: 'true',
    npm_lifecycle_event: 'prepack',
    npm_command: 'pack',
    npm_package_name: 'memwatch-rs',
    npm_config_registry: 'https://registry.example/',
    'npm_config_@corp:registry': 'https://corp.example/',
    'npm_config_//registry.example/:_authToken': 'secret',
    npm_config_cache: '/home/u/.npm',
    npm_config_https_proxy: 'http://proxy:3128',
    npm_config_strict_ssl: 'false',
  };
  assert.deepStrictEqual(Object.keys(npmEnv(outer)).sort(), [
    'PATH',
    'npm_config_//registry.example/:_authToken',
    'npm_config_@corp:registry',
    'npm_config_cache',
    'npm_config_https_proxy',
    'npm_config_registry',
    'npm_config_strict_ssl',
  ]);
});

test('prepack refuses to pack, saying why, when a supported Node cannot be had', () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'memwatch-rs-prepack-'));
  const other = [20, 22, 24, 26].find((m) => m !== Number(process.versions.node.split('.')[0]));
  const r = prepack({
    MEMWATCH_RS_PREBUILDS_DIR: empty,
    MEMWATCH_RS_NODE_CACHE: empty,
    MEMWATCH_RS_PREPACK_MAJORS: String(other),
    // A registry that answers nothing: the fetch of that Node fails at once.
    npm_config_registry: 'http://127.0.0.1:9/',
    npm_config_fetch_retries: '0',
  });
  fs.rmSync(empty, { recursive: true, force: true });
  assert.strictEqual(r.status, 1, r.stderr);
  assert.match(r.stderr, /refusing to pack/);
  assert.match(r.stderr, new RegExp(`node ${other}: could not get that Node with its headers`));
  assert.match(r.stderr, /check that the registry is reachable/, 'the hint is about the registry, not the compiler');
  assert.doesNotMatch(r.stderr, /C\+\+ compiler/);
});

test('prepack reuses a binary whose sources have not changed since it was built', () => {
  const r = prepack({ MEMWATCH_RS_PREPACK_MAJORS: process.versions.node.split('.')[0] });
  assert.strictEqual(r.status, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`binaries for ABI ${process.versions.modules} are current`));
});
