// Open streams end when access ends: a websocket and a download held by a
// signed-in analyst are cut when SCIM removes him from the group or
// deactivates him, and we measure how long after the SCIM response.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';

import { provision, startStack } from './harness.mjs';
import { openPage, screenshot, signIn } from './lib/browser.mjs';
import { openStreams } from './lib/streams.mjs';

const CUT_WITHIN_MS = 1000; // the target is 100 ms; this bound keeps the test robust

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

  await page.waitForFunction(() => window.cut.websocket && window.cut.download, null, { timeout: 5000 });
  const cut = await page.evaluate(() => window.cut);
  const wsAfter = cut.websocket.at - answeredAt;
  const downloadAfter = cut.download.at - answeredAt;
  const report = `${user} (${change}): websocket ${cut.websocket.how} at ${wsAfter} ms, `
    + `download ${cut.download.how} at ${downloadAfter} ms after the SCIM response `
    + `(SCIM call took ${answeredAt - sentAt} ms; ${cut.downloadBytes} bytes read)`;
  t.diagnostic(report);

  assert.match(cut.download.how, /^error/, 'the download is cut, not ended as if complete');
  assert.ok(wsAfter <= CUT_WITHIN_MS, `websocket closed ${wsAfter} ms after the SCIM response`);
  assert.ok(downloadAfter <= CUT_WITHIN_MS, `download cut ${downloadAfter} ms after the SCIM response`);

  // The gate let go of the upstream side as well.
  let open = await upstreamOpen();
  for (let i = 0; i < 20 && (open.downloads || open.websockets); i += 1) {
    await sleep(50);
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
  const status = await page.evaluate(async () => (await fetch('/live/hello', { redirect: 'manual', cache: 'no-store' })).status);
  assert.ok(status === 401 || status === 403, `erin's next request is denied (got ${status})`);
  await page.context().close();
});
