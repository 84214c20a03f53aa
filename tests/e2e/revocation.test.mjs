// SCIM changes take effect on the very next request: a deactivated user's
// session ends, a user removed from the group loses the route at once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { expectDocsRendered, provision, startStack } from './harness.mjs';
import { navigatedThrough, openPage, screenshot, signIn } from './lib/browser.mjs';

let stack;
let ids;
before(async () => {
  stack = await startStack('revocation');
  ids = await provision(stack.scim, { users: ['alice', 'carol', 'frank'], groups: { analysts: ['alice', 'carol', 'frank'] } });
});
after(async () => { await stack?.stop(); });

/**
 * Status of a same-origin fetch from the page that reaches the gate (never
 * the browser's cache), redirects not followed (0 = a redirect).
 */
function fetchStatus(page, path) {
  return page.evaluate(async (p) => (await fetch(p, { redirect: 'manual', cache: 'no-store' })).status, path);
}

/**
 * The same fetch's status and, for a refusal, the `error` of its JSON body
 * (a script's fetch is not a page load: refusals come as JSON).
 */
function fetchRefusal(page, path, init = { cache: 'no-store' }) {
  return page.evaluate(async ([p, options]) => {
    const response = await fetch(p, { ...options, redirect: 'manual' });
    const text = await response.text();
    let error;
    try { error = JSON.parse(text).error; } catch { error = text.slice(0, 200); }
    return { status: response.status, error };
  }, [path, init]);
}

test('alice deactivated by SCIM: her next request is denied and her session is gone', async () => {
  const { gate } = stack.urls;
  const page = await openPage(stack.browser);
  assert.equal(await signIn(page, stack.urls, 'alice'), 200);
  await expectDocsRendered(page, gate);
  assert.equal(await fetchStatus(page, '/manifest.json'), 200);

  await stack.scim.deactivate(ids.users.alice);

  // Her session ended with her account: the next request is unauthenticated.
  assert.deepEqual(await fetchRefusal(page, '/manifest.json'), { status: 401, error: 'unauthenticated' });

  // The session is gone: the next page load goes back to the login, and
  // the IdP (still signed in) returns her to a page that refuses her.
  // (A query the browser has not cached, so the load reaches the gate.)
  const from = page.navigations.length;
  const status = await signIn(page, stack.urls, 'alice', { path: '/?after=deactivation' });
  assert.ok(navigatedThrough(page, `${gate}/.scimgate/login?rd=`, from), 'sent to the gate login');
  assert.ok(navigatedThrough(page, `${gate}/.scimgate/callback?`, from), 'signed in again');
  await screenshot(page, stack.artifacts, 'revocation-1-alice-deactivated');
  assert.equal(status, 403);
  const text = await page.locator('body').innerText();
  assert.ok(!text.includes('Lifetime value per customer'), 'no docs shown');
  assert.match(text, /provision|not active|inactive|deactivat|disabled/i);
  await page.context().close();
});

test('carol removed from analysts by SCIM: her next request gets 403', async () => {
  const { gate } = stack.urls;
  const page = await openPage(stack.browser);
  assert.equal(await signIn(page, stack.urls, 'carol'), 200);
  await expectDocsRendered(page, gate);

  await stack.scim.removeMember(ids.groups.analysts, ids.users.carol);

  // Still signed in, no longer allowed.
  assert.deepEqual(await fetchRefusal(page, '/manifest.json'), { status: 403, error: 'forbidden' });
  const response = await page.reload(); // revalidates: the request reaches the gate
  assert.equal(response.status(), 403);
  assert.equal(new URL(page.url()).pathname, '/', 'still signed in: no trip to the login');
  const text = await page.locator('body').innerText();
  assert.match(text, /dbt-docs/);
  assert.match(text, /analysts/);
  await screenshot(page, stack.artifacts, 'revocation-2-carol-removed');
  await page.context().close();
});

// The docs files carry Last-Modified and no Cache-Control of their own, so a
// browser could keep serving them from its cache, without asking the gate,
// after access ended. The gate marks what it authorised `private, no-cache`:
// the browser revalidates every use through the gate.
test('frank deactivated: his browser does not serve docs files from its cache', async () => {
  const page = await openPage(stack.browser);
  assert.equal(await signIn(page, stack.urls, 'frank'), 200);
  await expectDocsRendered(page, stack.urls.gate);
  // An ordinary fetch: the browser's cache is allowed to answer.
  const ordinaryFetch = () => fetchRefusal(page, '/manifest.json', {});
  assert.equal((await ordinaryFetch()).status, 200);

  await stack.scim.deactivate(ids.users.frank);

  // The browser revalidated through the gate, which refused: no cached copy.
  const next = await ordinaryFetch();
  await page.context().close();
  assert.deepEqual(next, { status: 401, error: 'unauthenticated' });
});
