// `preset: dbt-docs` in front of a real `dbt docs serve`, under a path
// prefix: the docs page renders in headless Chromium, manifest.json and
// catalog.json arrive compressed, the rest of dbt's target/ is refused; and
// the same site with its manifest padded to 60 MB renders through scimgate.
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { DOCS_DIR, ROOT, expectDocsRendered, provision, startStack } from './harness.mjs';
import { openPage, screenshot, signIn } from './lib/browser.mjs';
import { freePort, runCommand, startProcess, stopProcess, waitForHttp } from './lib/processes.mjs';

const BIG_DIR = path.join(path.dirname(DOCS_DIR), 'docs-60mb');

let stack;
let bigDocs;
let bigPort;
before(async () => {
  bigPort = await freePort();
  const policy = ({ ports }) => `routes:
  - name: finance-docs
    preset: dbt-docs
    match: { path: /finance/** }
    strip_prefix: /finance
    upstream: http://127.0.0.1:${ports.docs}
    allow: [ { name: analysts-read, groups: [analysts] } ]
  - name: big-docs
    preset: dbt-docs
    match: { path: /big/** }
    strip_prefix: /big
    upstream: http://127.0.0.1:${bigPort}
    allow: [ { name: analysts-read-big, groups: [analysts] } ]
`;
  stack = await startStack('docs_preset', { policy });
  await provision(stack.scim, { users: ['alice'], groups: { analysts: ['alice'] } });
  await runCommand(path.join(ROOT, 'scripts', 'pad-docs-manifest'), [DOCS_DIR, BIG_DIR, '--mb', '60']);
  bigDocs = startProcess('docs-60mb', path.join(ROOT, 'scripts', 'dbt-docs-site'),
    ['serve', BIG_DIR, String(bigPort)], { logDir: stack.logDir });
  await waitForHttp(bigDocs, `http://127.0.0.1:${bigPort}/index.html`);
});
after(async () => {
  if (bigDocs) await stopProcess(bigDocs);
  await stack?.stop();
});

/** The content-encoding of each response whose path ends in one of `names`. */
function watchEncodings(page, names) {
  const seen = {};
  page.on('response', async (response) => {
    const name = new URL(response.url()).pathname.split('/').at(-1);
    if (names.includes(name)) {
      seen[name] = { status: response.status(), encoding: response.headers()['content-encoding'] };
    }
  });
  return seen;
}

test('the docs render under a prefix with manifest and catalog compressed', async () => {
  const { gate } = stack.urls;
  const page = await openPage(stack.browser);
  const seen = watchEncodings(page, ['manifest.json', 'catalog.json']);
  const status = await signIn(page, stack.urls, 'alice', { path: '/finance' });
  assert.equal(status, 200);
  // The bare prefix was redirected into the site, so relative fetches stay under it.
  assert.equal(new URL(page.url()).pathname, '/finance/');
  await expectDocsRendered(page, `${gate}/finance`);
  await screenshot(page, stack.artifacts, 'docs-preset-1-model');
  console.log(`encodings: manifest ${seen['manifest.json']?.encoding}, catalog ${seen['catalog.json']?.encoding}`);
  for (const name of ['manifest.json', 'catalog.json']) {
    assert.equal(seen[name]?.status, 200, name);
    assert.match(seen[name].encoding ?? 'none', /^(br|gzip)$/, `${name} is compressed`);
  }
  await page.context().close();
});

/**
 * GET `target` from the gate byte for byte as written, with the page's
 * cookies. (A browser resolves `.` and `..` segments before sending, so the
 * gate would never see them.) Resolves to { status, body }.
 */
async function rawGet(page, target) {
  const cookie = (await page.context().cookies(stack.urls.gate))
    .map((c) => `${c.name}=${c.value}`).join('; ');
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: stack.ports.gate, path: target, headers: { cookie } }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

test('the rest of target/ is refused, whoever asks and however it is spelled', async () => {
  const page = await openPage(stack.browser);
  await signIn(page, stack.urls, 'alice', { path: '/finance/' });
  const statuses = await page.evaluate(async (paths) => {
    const out = {};
    for (const p of paths) out[p] = (await fetch(p, { cache: 'no-store' })).status;
    return out;
  }, [
    '/finance/run_results.json',
    '/finance/partial_parse.msgpack',
    '/finance/graph.gpickle',
    '/finance/compiled/scimgate_e2e/models/stg_orders.sql',
    '/finance/run/scimgate_e2e/models/stg_orders.sql',
    '/finance/Manifest.json',
  ]);
  for (const [p, s] of Object.entries(statuses)) assert.equal(s, 403, p);
  // Dot segments reach the gate only from a client that sends them as written:
  // the gate resolves them before the preset's check, so they open nothing...
  for (const target of ['/finance/x/../run_results.json', '/finance/./run_results.json', '/finance/x/%2e%2e/run_results.json']) {
    const raw = await rawGet(page, target);
    assert.equal(raw.status, 403, `${target}: ${raw.body}`);
    assert.equal(JSON.parse(raw.body).rule, 'preset:dbt-docs-paths', target);
  }
  // ...and resolved to a UI file, they reach it (the same session, the same client).
  const control = await rawGet(page, '/finance/x/../manifest.json');
  assert.equal(control.status, 200, control.body.slice(0, 200));
  // The four UI files are there (the UI adds ?cb=...).
  const ok = await page.evaluate(async () => (await fetch('/finance/manifest.json?cb=1')).status);
  assert.equal(ok, 200);
  await page.context().close();
});

test('a 60 MB manifest streams through scimgate, compressed, and the docs render', async () => {
  const { gate } = stack.urls;
  const page = await openPage(stack.browser);
  const seen = watchEncodings(page, ['manifest.json']);
  await signIn(page, stack.urls, 'alice', { path: '/big/' });
  const started = Date.now();
  await expectDocsRendered(page, `${gate}/big`);
  const took = Date.now() - started;
  await screenshot(page, stack.artifacts, 'docs-preset-2-60mb');
  assert.equal(seen['manifest.json']?.status, 200);
  assert.match(seen['manifest.json'].encoding ?? 'none', /^(br|gzip)$/);
  console.log(`60 MB manifest site rendered through scimgate in ${took} ms`);
  await page.context().close();
});
