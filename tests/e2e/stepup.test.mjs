// Step-up sign-in with the real provider (issue 18): a path whose step_up rule
// asks for a sign-in within a few seconds sends a browser that signed in
// longer ago through the gate's login to the IdP again, with max_age and
// prompt=login; the IdP shows its login form even though its own session is
// alive; the ID token's auth_time is then fresh and the page opens; while it
// is fresh, the same path opens without the IdP.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { provision, startStack } from './harness.mjs';
import { lastNavigation, navigatedThrough, openPage, screenshot, signIn } from './lib/browser.mjs';

// Long enough for the steps that must fit in it on a busy machine.
const FRESH_SECONDS = 20;

function policy({ ports }) {
  return `routes:
  - name: platform-api
    match: { path: /live/** }
    upstream: http://127.0.0.1:${ports.fake}
    step_up:
      - name: headers-need-a-fresh-sign-in
        paths: [/live/headers]
        max_auth_age: ${FRESH_SECONDS}s
    allow: [ { groups: [analysts] } ]
  - name: dbt-docs
    match: { path: /** }
    upstream: http://127.0.0.1:${ports.docs}
    keep_alive: false
    allow: [ { groups: [analysts], methods: [GET, HEAD], paths: [/, /index.html] } ]
`;
}

let stack;
before(async () => {
  stack = await startStack('stepup', { policy });
  await provision(stack.scim, { users: ['alice'], groups: { analysts: ['alice'] } });
});
after(async () => { await stack?.stop(); });

test('step-up sends alice through the IdP again and its auth_time is honoured', async () => {
  const { gate, idp } = stack.urls;
  const page = await openPage(stack.browser);
  assert.equal(await signIn(page, stack.urls, 'alice', { path: '/live/hello' }), 200);
  const signedInAt = Date.now();

  // A path without a step-up rule opens on the session as it is.
  let from = page.navigations.length;
  await page.goto(`${gate}/live/hello`);
  assert.equal(lastNavigation(page, `${gate}/live/hello`)?.status, 200);
  assert.ok(!navigatedThrough(page, idp, from), 'no step-up for /live/hello');

  // Once the sign-in is older than the rule allows, the path asks for a new one.
  await sleep(Math.max(0, FRESH_SECONDS * 1000 + 1500 - (Date.now() - signedInAt)));
  from = page.navigations.length;
  await page.goto(`${gate}/live/headers`);
  assert.ok(
    page.url().startsWith(`${idp}/interaction/`),
    `the IdP shows its login form again, though its session is alive (at ${page.url()})`,
  );
  assert.ok(
    navigatedThrough(page, `${gate}/.scimgate/login?rd=/live/headers&max_age=${FRESH_SECONDS}`, from),
    'the gate sent the browser to sign in, asking for a recent sign-in',
  );
  const authorize = page.navigations.slice(from).map((n) => new URL(n.url))
    .find((u) => u.origin === idp && u.pathname === '/auth');
  assert.ok(authorize, 'went through the IdP authorize endpoint');
  assert.equal(authorize.searchParams.get('max_age'), String(FRESH_SECONDS));
  assert.equal(authorize.searchParams.get('prompt'), 'login');
  await screenshot(page, stack.artifacts, 'stepup-1-idp-form-again');

  await page.fill('input[name=login]', 'alice');
  await page.fill('input[name=password]', 'any password');
  await Promise.all([
    page.waitForURL((u) => u.origin === gate && u.pathname === '/live/headers'),
    page.click('button[type=submit]'),
  ]);
  await page.waitForLoadState('domcontentloaded');
  // The callback accepted the ID token: its auth_time was within max_age.
  assert.ok(navigatedThrough(page, `${gate}/.scimgate/callback?`, from), 'came back through the callback');
  assert.equal(lastNavigation(page, `${gate}/live/headers`)?.status, 200);
  const headers = JSON.parse(await page.locator('body').innerText());
  assert.equal(headers['x-auth-request-user'], 'alice', 'the upstream got the request as alice');

  // The fresh sign-in is honoured: the path opens again without the IdP.
  from = page.navigations.length;
  await page.goto(`${gate}/live/headers`);
  assert.equal(lastNavigation(page, `${gate}/live/headers`)?.status, 200);
  assert.ok(!navigatedThrough(page, idp, from), 'no second trip to the IdP while the sign-in is fresh');
  await screenshot(page, stack.artifacts, 'stepup-2-after-step-up');
  await page.context().close();
});
