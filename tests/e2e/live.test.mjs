// Open streams end when access ends: a websocket and a download held by a
// signed-in analyst are cut when SCIM removes him from the group or
// deactivates him. How long after the SCIM response is reported, not
// asserted: the figure is `cargo bench --bench revocation -- stream`.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';

import { provision, startStack } from './harness.mjs';
import { openPage, screenshot, signIn } from './lib/browser.mjs';
import { openStreams } from './lib/streams.mjs';

// How long to wait for what should happen at once before failing: a guard
// against hanging, not a latency target.
const GUARD_MS = 30000;

let stack;
let ids;
before(async () => {
  stack = await startStack('live');
  ids = await provision(stack.scim, { users: ['dave', 'erin'], groups: { analysts: ['dave', 'erin'] } });
});
after(async () => { await stack?.stop(); });

async function upstreamOpen() {
  return (await fetch(`${stack.urls.fake}/stats`)).json();
}

async function expectStreamsCut(t, user, change, revoke) {
  const page = await openPage(stack.browser);
  assert.equal(await signIn(page, stack.urls, user, { path: '/live/hello' }), 200);
  assert.match(await page.locator('body').innerText(), /hello from upstream/);

  const opened = await page.evaluate(openStreams);
  assert.equal(opened.downloadEnded, undefined, 'the download is still running');
  assert.deepEqual(await upstreamOpen(), { downloads: 1, websockets: 1 });
  await screenshot(page, stack.artifacts, `live-${user}-streams-open`);

  const sentAt = Date.now();
  await revoke();
  const answeredAt = Date.now();

  await page.waitForFunction(() => window.cut.websocket && window.cut.download, null, { timeout: GUARD_MS });
  const cut = await page.evaluate(() => window.cut);
  const wsAfter = cut.websocket.at - answeredAt;
  const downloadAfter = cut.download.at - answeredAt;
  const report = `${user} (${change}): websocket ${cut.websocket.how} at ${wsAfter} ms, `
    + `download ${cut.download.how} at ${downloadAfter} ms after the SCIM response `
    + `(SCIM call took ${answeredAt - sentAt} ms; ${cut.downloadBytes} bytes read)`;
  t.diagnostic(report);

  assert.match(cut.download.how, /^error/, 'the download is cut, not ended as if complete');
  // The gate drops the tunnel's sockets: no close frame, an abnormal closure.
  assert.equal(cut.websocket.how, 'close code 1006', 'the websocket is cut, not closed by the upstream');

  // The gate let go of the upstream side as well.
  const deadline = Date.now() + GUARD_MS;
  let open = await upstreamOpen();
  while ((open.downloads || open.websockets) && Date.now() < deadline) {
    await sleep(20);
    open = await upstreamOpen();
  }
  assert.deepEqual(open, { downloads: 0, websockets: 0 });
  await screenshot(page, stack.artifacts, `live-${user}-streams-cut`);
  return page;
}

test('dave removed from analysts by SCIM: his websocket and download are cut', async (t) => {
  const page = await expectStreamsCut(t, 'dave', 'removed from analysts',
    () => stack.scim.removeMember(ids.groups.analysts, ids.users.dave));
  const status = await page.evaluate(async () => (await fetch('/live/hello', { cache: 'no-store' })).status);
  assert.equal(status, 403);
  await page.context().close();
});

test('erin deactivated by SCIM: her websocket and download are cut', async (t) => {
  const page = await expectStreamsCut(t, 'erin', 'deactivated',
    () => stack.scim.deactivate(ids.users.erin));
  // Her session ended with her account: a script's request is unauthenticated.
  const next = await page.evaluate(async () => {
    const response = await fetch('/live/hello', { redirect: 'manual', cache: 'no-store' });
    return { status: response.status, body: await response.text() };
  });
  assert.equal(next.status, 401, next.body);
  assert.equal(JSON.parse(next.body).error, 'unauthenticated');
  await page.context().close();
});
