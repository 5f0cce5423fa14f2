// jest: `npx jest`. One leaking and one clean function; the leaking test fails, naming the class.
const { assertNoLeak } = require('memwatch-rs');
const { checkout, quote } = require('./sessions.js');

jest.setTimeout(60000); // a leak test takes a few heap snapshots

test('checkout does not leak', async () => {
  await assertNoLeak(() => checkout(), { iterations: 200, name: 'checkout' });
});

test('quote does not leak', async () => {
  await assertNoLeak(() => quote('pear'), { iterations: 200, name: 'quote' });
});
