'use strict';
// CONTROL (trap): one step up. 15 s in, a config reload builds a larger table once (about as
// large again as the rest of the heap) and keeps it; nothing grows after that.
let config = null;
const started = Date.now();

module.exports = {
  kind: 'control',
  description: 'one step up: a config reload at 15 s builds a bigger table once',
  handle() {
    if (!config && Date.now() - started > 15000) {
      config = Array.from({ length: 150000 }, (_, i) => ({ key: `setting.${i}`, value: i % 7 === 0 ? `v${i}` : i }));
    }
  },
};
