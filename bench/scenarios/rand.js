'use strict';
// A seeded xorshift generator for the scenarios: deterministic, so runs are comparable.
function seeded(seed) {
  let x = seed | 0 || 1;
  return function rand() {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

module.exports = { seeded };
