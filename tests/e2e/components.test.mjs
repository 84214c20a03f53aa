// The real components alone, without scimgate: if one of these fails, the
// flows through the gate cannot pass, and the failure says which part broke.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';

import { expectDocsRendered, startStack } from './harness.mjs';
import { openPage, screenshot } from './lib/browser.mjs';

let stack;
before(async () => { stack = await startStack('components', { gate: false }); });
after(async () => { await stack?.stop(); });

test('the dbt docs site renders the project from its manifest and catalog', async () => {
  const page = await openPage(stack.browser);
  await expectDocsRendered(page, stack.urls.docs);
  await screenshot(page, stack.artifacts, 'components-docs-direct');
  await page.context().close();
});

test('the fake upstream echoes websockets and streams downloads', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${stack.ports.fake}/live/ws`);
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  ws.send('ping');
  const [echo] = await new Promise((resolve) => ws.once('message', (...args) => resolve(args)));
  assert.equal(echo.toString(), 'ping');

  const download = await fetch(`${stack.urls.fake}/live/download`);
  const reader = download.body.getReader();
  let received = 0;
  while (received < 128 * 1024) received += (await reader.read()).value.length;

  const open = await (await fetch(`${stack.urls.fake}/stats`)).json();
  assert.deepEqual(open, { downloads: 1, websockets: 1 });
  await reader.cancel();
  ws.close();
});

// A stand-in for scimgate's side of the code flow, done by the book:
// state, nonce, PKCE S256, client_secret_basic.
test('the OIDC provider signs a user in with PKCE and returns the expected claims', async () => {
  const redirectUri = `${stack.urls.gate}/.scimgate/callback`;
  const callback = http.createServer((_req, res) => res.end('callback reached'));
  await new Promise((resolve) => callback.listen(stack.ports.gate, '127.0.0.1', resolve));
  try {
    const discovery = await (await fetch(`${stack.urls.idp}/.well-known/openid-configuration`)).json();
    assert.equal(discovery.issuer, stack.urls.idp);

    const verifier = randomBytes(32).toString('base64url');
    const state = randomBytes(16).toString('base64url');
    const nonce = randomBytes(16).toString('base64url');
    const authorize = new URL(discovery.authorization_endpoint);
    authorize.search = new URLSearchParams({
      client_id: 'scimgate', response_type: 'code', scope: 'openid profile email',
      redirect_uri: redirectUri, state, nonce,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    });

    const page = await openPage(stack.browser);
    await page.goto(authorize.href);
    await screenshot(page, stack.artifacts, 'components-idp-login-form');
    await page.fill('input[name=login]', 'zoe');
    await page.fill('input[name=password]', 'any password');
    await Promise.all([
      page.waitForURL((url) => url.href.startsWith(redirectUri)),
      page.click('button[type=submit]'),
    ]);
    const returned = new URL(page.url()).searchParams;
    assert.equal(returned.get('state'), state);
    assert.equal(returned.get('iss'), stack.urls.idp);

    const tokenResponse = await fetch(discovery.token_endpoint, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('scimgate:e2e-secret').toString('base64')}` },
      body: new URLSearchParams({
        grant_type: 'authorization_code', code: returned.get('code'),
        redirect_uri: redirectUri, code_verifier: verifier,
      }),
    });
    assert.equal(tokenResponse.status, 200, await tokenResponse.clone().text());
    const tokens = await tokenResponse.json();
    const claims = JSON.parse(Buffer.from(tokens.id_token.split('.')[1], 'base64url'));
    assert.equal(claims.iss, stack.urls.idp);
    assert.equal(claims.aud, 'scimgate');
    assert.equal(claims.nonce, nonce);
    assert.equal(claims.sub, 'zoe');
    assert.equal(claims.preferred_username, 'zoe');
    assert.equal(claims.email, 'zoe@example.com');

    const userinfo = await fetch(discovery.userinfo_endpoint, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    assert.equal((await userinfo.json()).preferred_username, 'zoe');
    await page.context().close();
  } finally {
    callback.closeAllConnections();
    await new Promise((resolve) => callback.close(resolve));
  }
});

test('the OIDC provider refuses an authorization request without PKCE', async () => {
  const authorize = new URL(`${stack.urls.idp}/auth`);
  authorize.search = new URLSearchParams({
    client_id: 'scimgate', response_type: 'code', scope: 'openid',
    redirect_uri: `${stack.urls.gate}/.scimgate/callback`, state: 's', nonce: 'n',
  });
  const response = await fetch(authorize, { redirect: 'manual' });
  const location = new URL(response.headers.get('location'));
  assert.equal(location.searchParams.get('error'), 'invalid_request');
  assert.match(location.searchParams.get('error_description'), /PKCE/);
});
