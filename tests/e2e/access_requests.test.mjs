// Just-in-time access in Chromium with the real provider (issue 18): ana, a
// contractor, is refused the docs and asks for access from the 403 page with
// a reason and a short duration; bo, an approver from another group, signs in
// in his own browser context and approves on the admin UI's Access requests
// page; ana's next load opens the docs, and once the grant has expired her
// next load is refused again. A webhook receiver on loopback hears the
// request's requested, approved, started and expired events.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { provision, startStack } from './harness.mjs';
import { cspViolationsOn, lastNavigation, openPage, screenshot, signIn } from './lib/browser.mjs';
import { freePort } from './lib/processes.mjs';

// Long enough for bo to sign in and approve on a busy machine before it matters,
// short enough to wait out.
const GRANT_SECONDS = 25;

function policy({ ports }) {
  return `routes:
  - name: dbt-docs
    match: { path: /** }
    upstream: http://127.0.0.1:${ports.docs}
    keep_alive: false
    allow: [ { groups: [docs-readers], methods: [GET, HEAD], paths: [/, /index.html, /manifest.json, /catalog.json] } ]
    requests:
      - group: docs-readers
        requesters: [contractors]
        approvers: [docs-approvers]
        max_duration: ${GRANT_SECONDS}s
        reason_required: true
`;
}

/** A webhook receiver: every JSON body POSTed to it, in order. */
async function startReceiver() {
  const port = await freePort();
  const bodies = [];
  const server = http.createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => { text += chunk; });
    req.on('end', () => {
      try { bodies.push(JSON.parse(text)); } catch { bodies.push({ unparsed: text }); }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${port}/hook`, bodies, close: () => new Promise((r) => server.close(r)) };
}

/** Waits (up to `ms`) until the receiver heard `kind` for `id`; returns that body. */
async function heard(receiver, kind, id, ms = 60000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const body = receiver.bodies.find((b) => b.scimgate?.kind === kind && b.scimgate?.request_id === id);
    if (body) return body;
    if (Date.now() > deadline) {
      const kinds = receiver.bodies.map((b) => b.scimgate?.kind);
      throw new Error(`the webhook never heard ${kind} for ${id} (heard: ${kinds.join(', ')})`);
    }
    await sleep(200);
  }
}

let stack;
let receiver;
before(async () => {
  receiver = await startReceiver();
  stack = await startStack('access_requests', {
    policy,
    config: `admin: { groups: [scimgate-admins], allow_shared_origin: true }
access_requests: { webhook: { url: "${receiver.url}", retry_initial_ms: 100 } }
`,
  });
  await provision(stack.scim, {
    users: ['ana', 'bo'],
    groups: { 'docs-readers': [], contractors: ['ana'], 'docs-approvers': ['bo'] },
  });
});
after(async () => {
  await stack?.stop();
  await receiver?.close();
});

test('ana asks from the 403 page, bo approves, the docs open, and close again at expiry', async () => {
  const { gate } = stack.urls;
  const ana = await openPage(stack.browser);
  assert.equal(await signIn(ana, stack.urls, 'ana', { path: '/' }), 403, 'ana may not read the docs yet');
  const form = ana.locator('form.request-access');
  assert.equal(await form.count(), 1, 'the 403 page offers a request');
  const offer = await form.innerText();
  assert.match(offer, /docs-readers/);
  assert.match(offer, /docs-approvers/);
  await screenshot(ana, stack.artifacts, 'access-1-403-offer');

  await form.locator('textarea[name=reason]').fill('checking the customer models');
  await form.locator('select[name=duration]').selectOption(String(GRANT_SECONDS));
  await Promise.all([
    ana.waitForURL((u) => u.pathname === '/.scimgate/me'),
    form.locator('button[type=submit]').click(),
  ]);
  const mine = ana.locator('table.my-requests tr.request');
  assert.equal(await mine.count(), 1);
  assert.match(await mine.first().innerText(), /pending/);
  const id = await mine.first().getAttribute('data-id');
  assert.ok(id, 'the request is listed with its id');
  await screenshot(ana, stack.artifacts, 'access-2-me-pending');
  const requested = await heard(receiver, 'requested', id);
  assert.equal(requested.scimgate.requester, 'ana');
  assert.equal(requested.scimgate.group, 'docs-readers');
  assert.equal(requested.scimgate.reason, 'checking the customer models');
  assert.equal(requested.scimgate.duration_seconds, GRANT_SECONDS);
  assert.equal(
    requested.text,
    `ana requested docs-readers on dbt-docs for ${GRANT_SECONDS}s: checking the customer models — approve at <${gate}/.scimgate/admin/access-requests>`,
  );
  assert.equal(requested.blocks[0].type, 'section');

  // Ana cannot approve her own request: the page does not even list it for her.
  await ana.goto(`${gate}/.scimgate/admin/access-requests`);
  assert.equal(lastNavigation(ana, `${gate}/.scimgate/admin/access-requests`)?.status, 403);

  const bo = await openPage(stack.browser);
  assert.equal(await signIn(bo, stack.urls, 'bo', { path: '/.scimgate/admin/access-requests' }), 200);
  const row = bo.locator(`tr.request[data-id="${id}"]`);
  assert.equal(await row.count(), 1, 'bo sees ana\'s pending request');
  assert.match(await row.innerText(), /checking the customer models/);
  await screenshot(bo, stack.artifacts, 'access-3-approver-page');
  await row.locator('input[name=comment]').first().fill('ok for today');
  await Promise.all([
    bo.waitForURL((u) => u.pathname === '/.scimgate/admin/access-requests'),
    row.locator('button', { hasText: 'Approve' }).click(),
  ]);
  await bo.waitForLoadState('domcontentloaded');
  assert.equal(await bo.locator(`tr.grant[data-id="${id}"]`).count(), 1, 'the grant is listed as active');
  assert.deepEqual(cspViolationsOn(bo, gate), [], 'no CSP violation on the approver page');
  await screenshot(bo, stack.artifacts, 'access-4-approved');

  const approved = await heard(receiver, 'approved', id);
  assert.equal(approved.scimgate.approver, 'bo');
  assert.equal(approved.scimgate.comment, 'ok for today');
  const started = await heard(receiver, 'started', id);
  assert.ok(started.scimgate.ends_at, 'started names its end');

  await ana.goto(`${gate}/`);
  assert.equal(lastNavigation(ana, `${gate}/`)?.status, 200, 'the docs open for ana');
  await ana.goto(`${gate}/.scimgate/me`);
  assert.match(await ana.locator(`tr.request[data-id="${id}"]`).innerText(), /active/);
  await screenshot(ana, stack.artifacts, 'access-5-me-active');

  // At the end of the grant the webhook hears `expired`; ana's next load is refused.
  await heard(receiver, 'expired', id, (GRANT_SECONDS + 60) * 1000);
  await ana.goto(`${gate}/`);
  assert.equal(lastNavigation(ana, `${gate}/`)?.status, 403, 'the docs close again after the expiry');
  await ana.goto(`${gate}/.scimgate/me`);
  assert.match(await ana.locator(`tr.request[data-id="${id}"]`).innerText(), /expired/);
  assert.deepEqual(cspViolationsOn(ana, gate), [], 'no CSP violation on the 403 page or /me');
  await screenshot(ana, stack.artifacts, 'access-6-expired');
  await ana.context().close();
  await bo.context().close();
});
