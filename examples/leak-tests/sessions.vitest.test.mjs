// vitest: `npx vitest run`. One leaking and one clean function; the leaking test fails, naming the class.
import { test } from 'vitest';
import { assertNoLeak } from 'memwatch-rs';
import { createRequire } from 'node:module';

const { checkout, quote } = createRequire(import.meta.url)('./sessions.js');

test('checkout does not leak', async () => {
  await assertNoLeak(() => checkout(), { iterations: 200, name: 'checkout' });
}, 60000);

test('quote does not leak', async () => {
  await assertNoLeak(() => quote('pear'), { iterations: 200, name: 'quote' });
}, 60000);
