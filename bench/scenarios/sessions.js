'use strict';
// CONTROL: a session store with sliding expiry: 20,000 users, each request touches its user's
// session (created if missing, with a cart of a few items) and sessions idle for 30 s are
// swept. The number of live sessions follows the traffic mix and wanders, but has no trend.
const sessions = new Map();
const rand = require('./rand').seeded(424242);
setInterval(() => {
  const cutoff = Date.now() - 30000;
  for (const [k, s] of sessions) if (s.seen < cutoff) sessions.delete(k);
}, 2000).unref();

module.exports = {
  kind: 'control',
  description: 'sessions with 30-s sliding expiry over 20,000 users',
  handle() {
    const user = Math.floor(20000 * rand() ** 1.5);
    let s = sessions.get(user);
    if (!s) {
      s = { user, cart: [], seen: 0 };
      sessions.set(user, s);
    }
    s.seen = Date.now();
    if (s.cart.length < 20 && rand() < 0.3) s.cart.push({ sku: `sku-${Math.floor(rand() * 1e5)}`, qty: 1 });
  },
};
