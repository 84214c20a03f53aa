// The docs benchmark's browser part (bench/docs/run): load a dbt docs site
// through scimgate and straight from `dbt docs serve`, RUNS times each,
// alternating, and report times and bytes on the wire.
//
//   node bench/docs/load.mjs SITE_DIR RUNS OUT_DIR [LINK_MBIT]
//
// With LINK_MBIT, every page's network is throttled to that many Mbit/s
// each way (Chromium's network emulation, 2 ms latency), as for a user
// away from the docs server; without it, loopback speed.
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { ROOT, expectDocsRendered, provision, startStack } from '../../tests/e2e/harness.mjs';
import { openPage, signIn } from '../../tests/e2e/lib/browser.mjs';
import { freePort, startProcess, stopProcess, waitForHttp } from '../../tests/e2e/lib/processes.mjs';

const [site, runsArg, out, linkArg] = process.argv.slice(2);
const runs = Number(runsArg ?? 5);
const linkMbit = Number(linkArg ?? 0);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const port = await freePort();
const policy = () => `routes:
  - name: docs
    preset: dbt-docs
    upstream: http://127.0.0.1:${port}
    allow: [ { groups: [readers] } ]
`;
const stack = await startStack('bench-docs', { policy });
const docs = startProcess('docs-big', path.join(ROOT, 'scripts', 'dbt-docs-site'),
  ['serve', site, String(port)], { logDir: stack.logDir });
try {
  await waitForHttp(docs, `http://127.0.0.1:${port}/index.html`);
  await provision(stack.scim, { users: ['reader'], groups: { readers: ['reader'] } });
  const login = await openPage(stack.browser);
  await signIn(login, stack.urls, 'reader');
  const storageState = await login.context().storageState();
  await login.context().close();

  const targets = {
    scimgate: { origin: stack.urls.gate, storageState },
    direct: { origin: `http://127.0.0.1:${port}` },
  };
  const results = { scimgate: [], direct: [] };
  for (let i = 0; i < runs + 1; i += 1) {
    for (const [name, target] of Object.entries(targets)) {
      const context = await stack.browser.newContext({
        viewport: { width: 1280, height: 800 }, storageState: target.storageState,
      });
      context.setDefaultTimeout(180000);
      const page = await context.newPage();
      if (linkMbit > 0) {
        const cdp = await context.newCDPSession(page);
        const bytesPerSecond = (linkMbit * 1e6) / 8;
        await cdp.send('Network.emulateNetworkConditions', {
          offline: false, latency: 2, downloadThroughput: bytesPerSecond, uploadThroughput: bytesPerSecond,
        });
      }
      const manifest = new Promise((resolve) => {
        page.on('requestfinished', async (request) => {
          if (!new URL(request.url()).pathname.endsWith('/manifest.json')) return;
          const response = await request.response();
          const sizes = await request.sizes();
          const timing = request.timing();
          resolve({
            encoding: response.headers()['content-encoding'] ?? 'identity',
            wireBytes: sizes.responseBodySize,
            fetchMs: Math.round(timing.responseEnd - timing.requestStart),
          });
        });
      });
      const started = Date.now();
      await expectDocsRendered(page, target.origin);
      const renderedMs = Date.now() - started;
      const m = await manifest;
      await context.close();
      if (i === 0) continue; // warm-up: OS page cache, JIT, connection setup
      const run = { renderedMs, ...m };
      results[name].push(run);
      console.log(`${name.padEnd(8)} run ${i}: page ready ${renderedMs} ms, manifest ${m.fetchMs} ms, `
        + `${(m.wireBytes / 1048576).toFixed(1)} MiB on the wire (${m.encoding})`);
    }
  }
  const line = (name) => {
    const r = results[name];
    return `| ${name} | ${median(r.map((x) => x.renderedMs))} | ${median(r.map((x) => x.fetchMs))} | `
      + `${(median(r.map((x) => x.wireBytes)) / 1048576).toFixed(1)} | ${r[0].encoding} |`;
  };
  const link = linkMbit > 0 ? `a ${linkMbit} Mbit/s link` : 'loopback';
  const summary = [
    `${link}, ${runs} runs each after a warm-up, medians:`,
    '',
    '| served | page ready (ms) | manifest fetch (ms) | manifest on the wire (MiB) | encoding |',
    '|---|---|---|---|---|',
    line('scimgate'),
    line('direct'),
    '',
  ].join('\n');
  console.log(`\n${summary}`);
  const suffix = linkMbit > 0 ? `-${linkMbit}mbit` : '';
  writeFileSync(path.join(out, `runs${suffix}.json`), JSON.stringify(results, null, 2));
  writeFileSync(path.join(out, `summary${suffix}.md`), summary);
} finally {
  await stopProcess(docs);
  await stack.stop();
}
