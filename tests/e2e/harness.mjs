// The end-to-end stack: the OIDC provider, the dbt docs site, the fake
// upstream and scimgate, each on a free loopback port, plus headless
// Chromium. `startStack` waits until every part answers; `stack.stop()`
// tears everything down (call it from an `after` hook: it runs on failure).
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchBrowser } from './lib/browser.mjs';
import { freePort, runCommand, startProcess, stopProcess, waitForHttp } from './lib/processes.mjs';
import { ScimClient } from './lib/scim.mjs';

export const E2E_DIR = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(E2E_DIR, '../..');
export const ARTIFACTS = path.join(E2E_DIR, 'artifacts');
export const DOCS_DIR = path.join(E2E_DIR, '.cache', 'docs');
const DOCS_SITE = path.join(ROOT, 'scripts', 'dbt-docs-site');
const SCIMGATE = process.env.SCIMGATE_BIN
  ?? path.join(process.env.CARGO_TARGET_DIR ?? path.join(ROOT, 'target'), 'release', 'scimgate');

function gateConfig({ ports, tmp }, extra = '') {
  return `listen: 127.0.0.1:${ports.gate}
data_dir: ${tmp}/data
policies: ${tmp}/policies
public_url: http://127.0.0.1:${ports.gate}
oidc: { issuer: "http://127.0.0.1:${ports.idp}", client_id: scimgate, client_secret: e2e-secret }
identity: { claim: preferred_username, attribute: userName }
${extra}`;
}

function gatePolicy({ ports }) {
  return `routes:
  - name: live
    match: { path: /live/** }
    upstream: http://127.0.0.1:${ports.fake}
    allow: [ { groups: [analysts] } ]
  - name: dbt-docs
    match: { path: /** }
    upstream: http://127.0.0.1:${ports.docs}
    keep_alive: false
    max_concurrency: 4
    allow: [ { groups: [analysts], methods: [GET, HEAD], paths: [/, /index.html, /manifest.json, /catalog.json] } ]
`;
}

async function startComponents(ports, logDir) {
  await runCommand(DOCS_SITE, ['build', DOCS_DIR]);
  const idp = startProcess('idp', process.execPath,
    [path.join(E2E_DIR, 'oidc', 'provider.mjs'), String(ports.idp), String(ports.gate)], { logDir });
  const docs = startProcess('docs', DOCS_SITE, ['serve', DOCS_DIR, String(ports.docs)], { logDir });
  const fake = startProcess('upstream', process.execPath,
    [path.join(E2E_DIR, 'upstream.mjs'), String(ports.fake)], { logDir });
  const processes = [idp, docs, fake];
  try {
    await Promise.all([
      waitForHttp(idp, `http://127.0.0.1:${ports.idp}/.well-known/openid-configuration`),
      waitForHttp(docs, `http://127.0.0.1:${ports.docs}/index.html`),
      waitForHttp(fake, `http://127.0.0.1:${ports.fake}/stats`),
    ]);
  } catch (err) {
    await Promise.all(processes.map((p) => stopProcess(p)));
    throw err;
  }
  return processes;
}

async function startGate(ports, tmp, logDir, policy = gatePolicy, config = '') {
  mkdirSync(path.join(tmp, 'data'), { recursive: true });
  mkdirSync(path.join(tmp, 'policies'), { recursive: true });
  const configFile = path.join(tmp, 'config.yaml');
  writeFileSync(configFile, gateConfig({ ports, tmp }, config));
  writeFileSync(path.join(tmp, 'policies', 'e2e.yaml'), policy({ ports }));

  const created = await runCommand(SCIMGATE, ['token', 'create', 'e2e', '--data', path.join(tmp, 'data')]);
  const token = created.trim().split('\n').at(-1).trim();
  if (!token) throw new Error('scimgate token create printed no token');

  const gate = startProcess('scimgate', SCIMGATE, ['serve', '--config', configFile], {
    logDir, env: { RUST_LOG: process.env.RUST_LOG ?? 'info' },
  });
  try {
    await waitForHttp(gate, `http://127.0.0.1:${ports.gate}/healthz`);
  } catch (err) {
    await stopProcess(gate);
    throw err;
  }
  return { gate, token };
}

/**
 * Start everything for the test file `name` (logs go to
 * artifacts/logs/NAME/). With `gate: false`, only the components;
 * `policy({ ports })` gives scimgate's policy file instead of the default;
 * `config` is appended to scimgate's config file (e.g. an `admin:` section).
 */
export async function startStack(name, { gate: withGate = true, policy, config } = {}) {
  const ports = { gate: await freePort(), idp: await freePort(), docs: await freePort(), fake: await freePort() };
  const urls = Object.fromEntries(Object.entries(ports).map(([k, port]) => [k, `http://127.0.0.1:${port}`]));
  const logDir = path.join(ARTIFACTS, 'logs', name);
  rmSync(logDir, { recursive: true, force: true });
  const tmp = mkdtempSync(path.join(os.tmpdir(), `scimgate-e2e-${name}-`));
  const processes = [];
  let browser;

  const stack = {
    ports, urls, tmp, logDir, scim: undefined, browser: undefined,
    artifacts: ARTIFACTS,
    async stop() {
      await browser?.close().catch(() => {});
      // The gate first, so it sees its upstreams go away last.
      for (const proc of [...processes].reverse()) await stopProcess(proc);
      if (!process.env.E2E_KEEP) rmSync(tmp, { recursive: true, force: true });
    },
  };

  try {
    processes.push(...await startComponents(ports, logDir));
    if (withGate) {
      const { gate, token } = await startGate(ports, tmp, logDir, policy, config);
      processes.push(gate);
      stack.scim = new ScimClient(`${urls.gate}/scim/v2`, token);
    }
    browser = await launchBrowser();
    stack.browser = browser;
  } catch (err) {
    await stack.stop();
    throw err;
  }
  return stack;
}

/**
 * Show the docs page of one model and wait until the dbt docs UI has
 * rendered it: its description comes from manifest.json, a column type from
 * catalog.json, both fetched by the UI through whatever serves the page.
 */
export async function expectDocsRendered(page, origin) {
  await page.goto(`${origin}/#!/model/model.scimgate_e2e.customer_lifetime_value`);
  await page.getByText('Lifetime value per customer').filter({ visible: true }).first().waitFor();
  await page.getByText('DOUBLE').filter({ visible: true }).first().waitFor();
}

/**
 * Create users and groups by SCIM. `groups` maps a group name to member
 * userNames. Returns { users: {userName: id}, groups: {name: id} }.
 */
export async function provision(scim, { users, groups = {} }) {
  const ids = { users: {}, groups: {} };
  for (const userName of users) ids.users[userName] = await scim.createUser(userName);
  for (const [name, members] of Object.entries(groups)) {
    ids.groups[name] = await scim.createGroup(name, members.map((m) => ids.users[m]));
  }
  return ids;
}
