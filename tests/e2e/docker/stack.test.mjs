// The docker-compose demo as users run it, driven from headless Chromium:
// scripts/docker-e2e starts the stack (PostgreSQL, two scimgate replicas, the
// dbt docs site, the OpenID provider, the `token` and `provision` one-shots)
// and passes its addresses in E2E_GATE_A, E2E_GATE_B, E2E_IDP and the SCIM
// token the `provision` service printed in E2E_SCIM_TOKEN. The users and the
// group are the ones deploy/compose/provision.sh created.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { expectDocsRendered } from '../harness.mjs';
import { launchBrowser, openPage, screenshot, signIn } from '../lib/browser.mjs';
import { ScimClient } from '../lib/scim.mjs';

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run scripts/docker-e2e`);
  return value;
}
const gateA = env('E2E_GATE_A');
const gateB = env('E2E_GATE_B');
const idp = env('E2E_IDP');
const artifacts = env('E2E_ARTIFACTS');
const scimB = new ScimClient(`${gateB}/scim/v2`, env('E2E_SCIM_TOKEN'));

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

/** Status of a same-origin fetch from the page, never from the cache (0 = a redirect). */
function fetchStatus(page, path) {
  return page.evaluate(async (p) => (await fetch(p, { redirect: 'manual', cache: 'no-store' })).status, path);
}

test('analyst signs in through replica A and sees the docs', async () => {
  const page = await openPage(browser);
  assert.equal(await signIn(page, { gate: gateA, idp }, 'analyst'), 200);
  await expectDocsRendered(page, gateA);
  await screenshot(page, artifacts, 'stack-1-analyst-docs');
  await page.context().close();
});

test('viewer, in no group, gets the 403 page', async () => {
  const page = await openPage(browser);
  assert.equal(await signIn(page, { gate: gateA, idp }, 'viewer'), 403);
  const text = await page.locator('body').innerText();
  await screenshot(page, artifacts, 'stack-2-viewer-forbidden');
  assert.match(text, /dbt-docs/);
  assert.match(text, /analysts/);
  assert.ok(!text.includes('Lifetime value per customer'), 'no docs shown');
  await page.context().close();
});

test('analyst deactivated through replica B: replica A refuses the next request', async () => {
  const page = await openPage(browser);
  assert.equal(await signIn(page, { gate: gateA, idp }, 'analyst'), 200);
  await expectDocsRendered(page, gateA);
  assert.equal(await fetchStatus(page, '/manifest.json'), 200);

  const found = await scimB.request('GET', `/Users?filter=${encodeURIComponent('userName eq "analyst"')}`);
  assert.equal(found.totalResults, 1, 'replica B lists the user provisioned through replica A');
  await scimB.deactivate(found.Resources[0].id);

  const next = await fetchStatus(page, '/manifest.json');
  assert.ok(next === 401 || next === 403, `replica A denies the next request (got ${next})`);
  await page.reload();
  await screenshot(page, artifacts, 'stack-3-analyst-deactivated');
  const text = await page.locator('body').innerText();
  assert.ok(!text.includes('Lifetime value per customer'), 'no docs shown');
  await page.context().close();
});
