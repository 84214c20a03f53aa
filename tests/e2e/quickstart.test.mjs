// The README quickstart (scripts/run --demo), followed literally in one
// headless Chromium window: the demo's policy (policies/docs.yaml) and
// admin section, its three users; sign in as analyst and read the docs;
// sign out and sign in as viewer (the IdP's session ends too): the 403
// page; from there, sign in as the demo admin: the admin pages; back to
// analyst, deactivated by SCIM: a reload shows the deactivation page. The
// browser's icon requests leave no denial on the audit timeline.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { ROOT, expectDocsRendered, provision, startStack } from './harness.mjs';
import { navigatedThrough, openPage, screenshot } from './lib/browser.mjs';

// The demo's configuration (scripts/run --demo): its admin section, and the
// repository's docs policy pointed at this stack's docs site.
const DEMO_ADMIN = 'admin: { groups: [scimgate-admins], allow_shared_origin: true }\n';
const docsPolicy = ({ ports }) => readFileSync(path.join(ROOT, 'policies', 'docs.yaml'), 'utf8')
  .replace('upstream: http://127.0.0.1:8081', `upstream: http://127.0.0.1:${ports.docs}`);

let stack;
let ids;
let page;
before(async () => {
  stack = await startStack('quickstart', { policy: docsPolicy, config: DEMO_ADMIN });
  ids = await provision(stack.scim, {
    users: ['analyst', 'viewer', 'admin'],
    groups: { analysts: ['analyst'], 'scimgate-admins': ['admin'] },
  });
  page = await openPage(stack.browser);
});
after(async () => { await stack?.stop(); });

const shot = (name) => screenshot(page, stack.artifacts, `quickstart-${name}`);
const onGate = (url) => url.origin === stack.urls.gate;

/** At the IdP's login form: sign in as `user`; resolves back on the gate. */
async function idpLogin(user) {
  await page.waitForURL((url) => url.href.startsWith(`${stack.urls.idp}/interaction/`));
  await page.fill('input[name=login]', user);
  await page.fill('input[name=password]', 'any password');
  await Promise.all([page.waitForURL(onGate), page.click('button[type=submit]')]);
  await page.waitForLoadState('domcontentloaded');
}

/** Clicks the link labelled `label` and signs in at the IdP as `user`. */
async function signInAsSomeoneElse(user) {
  const from = page.navigations.length;
  await page.click('a:has-text("Sign in as someone else")');
  await idpLogin(user);
  assert.ok(navigatedThrough(page, 'prompt=login', from), 'the IdP was asked for its login form');
  return page.navigations.at(-1).status;
}

/** Signs out with the button on /.scimgate/logout: scimgate's and the IdP's session end. */
async function signOut() {
  const from = page.navigations.length;
  await page.goto(`${stack.urls.gate}/.scimgate/logout`);
  await page.click('button:has-text("Sign out")');
  // Through the IdP's own sign-out page, which submits itself: a navigation may be
  // superseded on the way.
  for (let tries = 0; ; tries += 1) {
    try {
      await page.waitForURL(`${stack.urls.gate}/.scimgate/signed-out`);
      break;
    } catch (err) {
      if (tries > 3 || !/ERR_ABORTED|detached/.test(err.message)) {
        await shot('sign-out-stopped');
        const text = (await page.locator('body').innerText()).slice(0, 300);
        throw new Error(`sign-out stopped at ${page.url()} (${text}) after ${JSON.stringify(page.navigations.slice(from))}: ${err.message}`);
      }
    }
  }
  assert.ok(navigatedThrough(page, `${stack.urls.idp}/session/end`, from), 'signed out at the IdP too');
}

test('the quickstart in one window: analyst, viewer, the demo admin, a deactivation', async () => {
  const { gate } = stack.urls;

  // 1. Open scimgate, sign in as analyst: the docs.
  await page.goto(`${gate}/`);
  await idpLogin('analyst');
  await expectDocsRendered(page, gate);
  await shot('1-analyst-docs');

  // 2. Switch to viewer in the same window: sign out, sign in as someone else.
  await signOut();
  const text = await page.locator('main').innerText();
  assert.match(text, /signed out/i);
  await shot('2-signed-out');
  assert.equal(await signInAsSomeoneElse('viewer'), 403);
  const forbidden = await page.locator('main').innerText();
  assert.match(forbidden, /signed in as viewer/i);
  assert.match(forbidden, /analysts/);
  await shot('3-viewer-403');

  // 3. From the 403 page, sign in as the demo admin: the admin pages.
  await signInAsSomeoneElse('admin');
  await page.goto(`${gate}/.scimgate/admin/users`);
  assert.equal(await page.locator('h1').first().innerText(), 'Users');
  const listed = await page.locator('tr.user td:first-child').allInnerTexts();
  assert.deepEqual([...listed].sort(), ['admin', 'analyst', 'viewer']);
  await shot('4-admin-users');
  await page.goto(`${gate}/.scimgate/admin/audit`);
  await page.locator('td.target a:has-text("analyst")').first().waitFor();
  await shot('5-admin-audit');

  // 4. Back to analyst; deactivated by SCIM, a reload shows what happened.
  await signOut();
  await signInAsSomeoneElse('analyst');
  await expectDocsRendered(page, gate);
  await stack.scim.deactivate(ids.users.analyst);
  const reloaded = page.waitForURL((url) => url.pathname === '/.scimgate/callback');
  await page.reload();
  await reloaded;
  await page.waitForLoadState('domcontentloaded');
  assert.equal(page.navigations.at(-1).status, 403);
  assert.equal(await page.locator('h1').innerText(), 'Account deactivated');
  assert.match(await page.locator('main').innerText(), /deactivated in scimgate's directory/);
  assert.equal(await page.locator('a[href="/.scimgate/me"]').count(), 0, '/me is not offered');
  await shot('6-analyst-deactivated');

  // 5. The icon requests of all those pages left no denial on the audit trail.
  await signInAsSomeoneElse('admin');
  await page.goto(`${gate}/.scimgate/admin/audit?action=access.deny`);
  const audit = await page.locator('main').innerText();
  assert.match(audit, /GET \//, 'real denials are listed');
  assert.ok(!audit.includes('/favicon.ico'), 'no icon request on the timeline');
  await shot('7-audit-denials');
});
