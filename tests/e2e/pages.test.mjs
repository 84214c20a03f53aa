// The pages people see, in headless Chromium: /me shows a user's groups and
// routes, the 403 page leads to it, non-admins are refused the admin UI, and
// an admin searches a user, reads their access explained route by route,
// creates a SCIM token (shown once: a reload no longer shows it), revokes it,
// and reads both on the audit timeline next to the SCIM changes. The sign-in
// pages are in the same shell; no page of the gate has a CSP violation.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { provision, startStack } from './harness.mjs';
import { cspViolationsOn, lastNavigation, navigatedThrough, openPage, screenshot, signIn } from './lib/browser.mjs';

let stack;
before(async () => {
  // The docs route serves every host, the admin UI's origin included: accepted here.
  stack = await startStack('pages', { config: 'admin: { groups: [scimgate-admins], allow_shared_origin: true }\n' });
  await provision(stack.scim, {
    users: ['alice', 'bob', 'carol'],
    groups: { analysts: ['alice'], 'scimgate-admins': ['carol'] },
  });
});
after(async () => { await stack?.stop(); });

const methodsOf = (page, route) => page.locator(`tr.route[data-route="${route}"] td.methods`).innerText();

/** A SCIM call with `token`: its status. */
async function scimStatus(token) {
  const response = await fetch(`${stack.urls.gate}/scim/v2/Users?count=1`, {
    headers: { authorization: `Bearer ${token}`, accept: 'application/scim+json' },
  });
  return response.status;
}

test('the sign-in pages are in the shell of the others, styled by the one stylesheet', async () => {
  const page = await openPage(stack.browser);
  for (const [path, status] of [
    ['/.scimgate/signed-out', 200],
    ['/.scimgate/logout', 200],
    ['/.scimgate/callback?error=access_denied', 401],
  ]) {
    const response = await page.goto(`${stack.urls.gate}${path}`);
    assert.equal(response.status(), status, path);
    assert.equal(await page.locator('header.top .brand').innerText(), 'scimgate', path);
    const background = await page.evaluate(() => getComputedStyle(document.querySelector('header.top')).backgroundColor);
    assert.equal(background, 'rgb(29, 35, 48)', path);
  }
  await screenshot(page, stack.artifacts, 'pages-0-sign-in-refused');
  assert.deepEqual(cspViolationsOn(page, stack.urls.gate), [], 'no CSP violation on the gate\'s pages');

  // The report works: an inline style added to the page is refused and reported.
  await page.evaluate(() => {
    const style = document.createElement('style');
    style.textContent = 'main { color: red }';
    document.head.append(style);
  });
  for (let i = 0; i < 50 && cspViolationsOn(page, stack.urls.gate).length === 0; i++) {
    await page.waitForTimeout(100);
  }
  const reported = cspViolationsOn(page, stack.urls.gate);
  assert.equal(reported.length, 1, JSON.stringify(reported));
  assert.match(reported[0].directive, /^style-src/);
  await page.context().close();
});

test('alice sees who she is, her groups and the routes she may use on /me', async () => {
  const page = await openPage(stack.browser);
  const status = await signIn(page, stack.urls, 'alice', { path: '/.scimgate/me' });
  assert.equal(status, 200);
  assert.equal(new URL(page.url()).pathname, '/.scimgate/me');
  await screenshot(page, stack.artifacts, 'pages-1-alice-me');
  assert.equal(await page.locator('dd.user-name').innerText(), 'alice');
  assert.deepEqual(await page.locator('ul.groups span.group').allInnerTexts(), ['analysts']);
  assert.equal(await methodsOf(page, 'dbt-docs'), 'GET, HEAD');
  assert.equal(await methodsOf(page, 'live'), 'GET, HEAD, POST, PUT, PATCH, DELETE');
  // The stylesheet is scimgate's own and applied (no inline styles are allowed).
  const background = await page.evaluate(() => getComputedStyle(document.querySelector('header.top')).backgroundColor);
  assert.equal(background, 'rgb(29, 35, 48)');
  assert.deepEqual(cspViolationsOn(page, stack.urls.gate), [], 'no CSP violation on the gate\'s pages');
  await page.context().close();
});

test('bob gets the 403 page, which leads to his /me; the admin UI refuses him', async () => {
  const page = await openPage(stack.browser);
  assert.equal(await signIn(page, stack.urls, 'bob'), 403);
  await screenshot(page, stack.artifacts, 'pages-2-bob-403');
  const text = await page.locator('main').innerText();
  assert.match(text, /Access denied/);
  assert.match(text, /analysts/);
  await Promise.all([page.waitForURL(/\/\.scimgate\/me$/), page.click('a[href="/.scimgate/me"]')]);
  assert.equal(await page.locator('p.groups.none').innerText(), 'No groups.');
  assert.equal(await page.locator('tr.route[data-route="dbt-docs"]').count(), 0, 'not under "Routes I may use"');
  assert.deepEqual(await page.locator('ul.no-access code').allInnerTexts(), ['live', 'dbt-docs']);
  await screenshot(page, stack.artifacts, 'pages-3-bob-me');
  assert.equal(await page.locator('header.top a[href^="/.scimgate/admin"]').count(), 0, 'no admin links');

  await page.goto(`${stack.urls.gate}/.scimgate/admin/users`);
  assert.equal(lastNavigation(page, page.url())?.status, 403);
  assert.match(await page.locator('main').innerText(), /administrators/);
  await screenshot(page, stack.artifacts, 'pages-4-bob-admin-refused');
  assert.deepEqual(cspViolationsOn(page, stack.urls.gate), [], 'no CSP violation on the gate\'s pages');
  await page.context().close();
});

test('carol, an admin, searches a user, explains their access, manages a token and reads the audit', async () => {
  const { gate } = stack.urls;
  const page = await openPage(stack.browser);
  assert.equal(await signIn(page, stack.urls, 'carol', { path: '/.scimgate/admin/users' }), 200);

  // Search and open alice.
  await page.fill('input[name=q]', 'ALI');
  await Promise.all([page.waitForURL(/q=ALI/), page.click('form.filters button')]);
  assert.deepEqual(await page.locator('tr.user td:first-child').allInnerTexts(), ['alice']);
  await screenshot(page, stack.artifacts, 'pages-5-admin-search');
  await Promise.all([page.waitForURL(/\/admin\/users\/[^/?]+$/), page.getByRole('link', { name: 'alice', exact: true }).click()]);
  const docs = await methodsOf(page, 'dbt-docs');
  assert.match(docs, /GET allow by allow\[0\]/);
  assert.match(docs, /POST deny by default-deny/);
  assert.match(docs, /e2e\.yaml:\d+/);
  assert.deepEqual(await page.locator('ul.groups span.group').allInnerTexts(), ['analysts']);
  await screenshot(page, stack.artifacts, 'pages-6-admin-alice-access');

  // Create a token: shown once.
  await page.goto(`${gate}/.scimgate/admin/tokens`);
  await page.fill('input[name=name]', 'okta-rotated');
  await Promise.all([page.waitForURL(/\/tokens\/shown\//), page.click('button:has-text("Create token")')]);
  const token = (await page.locator('#token').innerText()).trim();
  assert.match(token, /^scimgate_[0-9a-f]{12}_/);
  await screenshot(page, stack.artifacts, 'pages-7-token-shown-once');
  assert.equal(await scimStatus(token), 200, 'the new token works');
  await page.reload();
  assert.equal(await page.locator('#token').count(), 0);
  assert.match(await page.locator('main').innerText(), /already shown/);
  assert.ok(!(await page.content()).includes(token), 'a reload does not show it');
  await screenshot(page, stack.artifacts, 'pages-8-token-not-shown-again');

  // Revoke it, after confirming.
  await page.goto(`${gate}/.scimgate/admin/tokens`);
  assert.ok(!(await page.content()).includes(token), 'the list never shows it');
  await Promise.all([page.waitForURL(/\/okta-rotated\/revoke$/), page.click('tr[data-token="okta-rotated"] a')]);
  await screenshot(page, stack.artifacts, 'pages-9-token-revoke-confirm');
  await Promise.all([page.waitForURL(/revoked=okta-rotated/), page.click('button:has-text("Revoke okta-rotated")')]);
  assert.match(await page.locator('p.notice').innerText(), /okta-rotated was revoked/);
  assert.equal(await page.locator('tr[data-token="okta-rotated"]').count(), 0);
  assert.equal(await scimStatus(token), 401, 'the revoked token is refused');

  // The audit timeline: the token events by carol and the SCIM changes.
  await page.goto(`${gate}/.scimgate/admin/audit`);
  const actions = await page.locator('tr.audit td.action').allInnerTexts();
  for (const action of ['token.create', 'token.revoke', 'user.create', 'group.create']) {
    assert.ok(actions.includes(action), `${action} in ${actions}`);
  }
  assert.equal(actions[0], 'token.revoke', 'newest first');
  const first = await page.locator('tr.audit').first().innerText();
  assert.match(first, /admin:carol/);
  assert.match(first, /token:okta-rotated/);
  assert.ok(!(await page.content()).includes(token.slice(22)), 'the secret is never recorded');
  await screenshot(page, stack.artifacts, 'pages-10-audit-timeline');
  await page.fill('input[name=action]', 'token.');
  await Promise.all([page.waitForURL(/action=token\./), page.click('form.filters button')]);
  const filtered = await page.locator('tr.audit td.action').allInnerTexts();
  // carol's revoke and create, then the harness's own SCIM token, made with
  // `scimgate token create` (actor cli) before the test began.
  assert.deepEqual(filtered, ['token.revoke', 'token.create', 'token.create']);
  const rows = await page.locator('tr.audit').allInnerTexts();
  assert.match(rows[1], /admin:carol/);
  assert.match(rows[2], /\bcli\b/);

  // Policy status.
  await page.goto(`${gate}/.scimgate/admin/policy`);
  assert.match(await page.locator('main').innerText(), /The last reload succeeded/);
  assert.match(await page.locator('main').innerText(), /e2e\.yaml/);

  // Signing out (a POST with the CSRF token) ends the session.
  await Promise.all([page.waitForURL(/\/\.scimgate\/signed-out$/), page.click('header.top button:has-text("Sign out")')]);
  const cookies = await page.context().cookies(gate);
  assert.ok(!cookies.some((c) => c.name === 'scimgate_session'), 'the session cookie is gone');
  const from = page.navigations.length;
  await page.goto(`${gate}/.scimgate/me`);
  // The IdP still knows carol, so she comes straight back, but through a new sign-in.
  assert.ok(navigatedThrough(page, `${gate}/.scimgate/login?rd=%2F.scimgate%2Fme`, from), 'signed in anew');
  assert.deepEqual(cspViolationsOn(page, stack.urls.gate), [], 'no CSP violation on the gate\'s pages');
  await page.context().close();
});
