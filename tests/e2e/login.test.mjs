// Signing in through the IdP and what each kind of caller then gets:
// an analyst sees the docs, a provisioned user without the group gets a
// 403 page that explains, an API caller without credentials gets a 401.
// Signing out is a button (a same-origin POST): a link or another origin's
// form signs nobody out.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { expectDocsRendered, provision, startStack } from './harness.mjs';
import { navigatedThrough, openPage, screenshot, signIn } from './lib/browser.mjs';

let stack;
before(async () => {
  stack = await startStack('login');
  await provision(stack.scim, { users: ['alice', 'bob', 'mallory'], groups: { analysts: ['alice', 'mallory'] } });
});
after(async () => { await stack?.stop(); });

test('alice, an analyst, signs in at the IdP and lands on the dbt docs', async () => {
  const { gate, idp } = stack.urls;
  const page = await openPage(stack.browser);
  const status = await signIn(page, stack.urls, 'alice', {
    onLoginForm: (p) => screenshot(p, stack.artifacts, 'login-1-idp-form'),
  });
  assert.equal(status, 200);
  assert.equal(new URL(page.url()).pathname, '/');
  assert.ok(navigatedThrough(page, `${gate}/.scimgate/login?rd=`), 'went through the gate login');
  assert.ok(navigatedThrough(page, `${idp}/auth`), 'went through the IdP');
  assert.ok(navigatedThrough(page, `${gate}/.scimgate/callback?`), 'came back through the callback');

  const cookie = (await page.context().cookies(gate)).find((c) => c.name === 'scimgate_session');
  assert.ok(cookie, 'a scimgate_session cookie is set');
  assert.equal(cookie.httpOnly, true);

  await expectDocsRendered(page, gate);
  await screenshot(page, stack.artifacts, 'login-2-alice-docs');

  // The route exposes only the docs files, not the rest of dbt's target/.
  const hidden = await page.evaluate(async () => (await fetch('/run_results.json', { cache: 'no-store' })).status);
  assert.equal(hidden, 403);
  await page.context().close();
});

test('mallory signs out with the button; a link or another origin cannot sign her out', async () => {
  const { gate, idp } = stack.urls;
  const page = await openPage(stack.browser);
  assert.equal(await signIn(page, stack.urls, 'mallory'), 200);
  const hasSession = async () => (await page.context().cookies(gate)).some((c) => c.name === 'scimgate_session');

  // A GET of the sign-out address only shows the button.
  await page.goto(`${gate}/.scimgate/logout`);
  assert.ok(await hasSession(), 'a GET does not sign out');
  await screenshot(page, stack.artifacts, 'login-4-sign-out-page');

  // A form on another origin (the IdP's: same site, other port) posting to it is refused.
  await page.goto(`${idp}/.well-known/openid-configuration`);
  const refused = page.waitForResponse((r) => r.url() === `${gate}/.scimgate/logout`);
  // The refused POST is a navigation too: let it finish before the next one.
  const landed = page.waitForURL(`${gate}/.scimgate/logout`, { waitUntil: 'load' });
  await page.evaluate((action) => {
    const form = document.createElement('form');
    form.method = 'post';
    form.action = action;
    document.body.appendChild(form);
    form.submit();
  }, `${gate}/.scimgate/logout`);
  assert.equal((await refused).status(), 403);
  await landed;
  assert.ok(await hasSession(), 'a cross-origin POST does not sign out');

  // The button on the gate's own page does.
  await page.goto(`${gate}/.scimgate/logout`);
  await Promise.all([page.waitForURL(/\/\.scimgate\/signed-out$/), page.click('button:has-text("Sign out")')]);
  assert.ok(!(await hasSession()), 'the session cookie is gone');
  await page.context().close();
});

test('bob, provisioned but in no group, gets a 403 page naming the route and the group', async () => {
  const page = await openPage(stack.browser);
  const status = await signIn(page, stack.urls, 'bob');
  assert.equal(status, 403);
  const text = await page.locator('body').innerText();
  await screenshot(page, stack.artifacts, 'login-3-bob-forbidden');
  assert.match(text, /dbt-docs/);
  assert.match(text, /analysts/);
  for (const other of ['alice', 'mallory']) {
    assert.ok(!text.includes(other), `the 403 page does not name ${other}`);
  }
  await page.context().close();
});

test('an API caller without credentials gets 401 with WWW-Authenticate', async () => {
  for (const path of ['/manifest.json', '/live/hello']) {
    const response = await fetch(`${stack.urls.gate}${path}`, {
      headers: { accept: 'application/json' }, redirect: 'manual',
    });
    assert.equal(response.status, 401, path);
    assert.ok(response.headers.get('www-authenticate'), `${path}: WWW-Authenticate is set`);
  }
});

test('a browser without a session is sent to the gate login with its path', async () => {
  const response = await fetch(`${stack.urls.gate}/index.html`, {
    headers: { accept: 'text/html,application/xhtml+xml' }, redirect: 'manual',
  });
  assert.equal(response.status, 302);
  const location = new URL(response.headers.get('location'), stack.urls.gate);
  assert.equal(location.origin, stack.urls.gate);
  assert.equal(location.pathname, '/.scimgate/login');
  assert.equal(location.searchParams.get('rd'), '/index.html');
});
