// Debian's Chromium, headless, driven by playwright-core; one browser
// context (cookie jar) per person; signing in through the IdP's login form.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.E2E_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/**
 * A fresh context and page for one person. `page.navigations` lists the
 * main frame's document responses, { url, status }, in order;
 * `page.cspViolations` every Content-Security-Policy violation in any of the
 * context's documents, { document, directive, blocked, sample } (see
 * `cspViolationsOn`).
 */
export async function openPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  // The docs UI parses a 2 MB page: give a busy 2-core machine time.
  context.setDefaultTimeout(60000);
  const violations = [];
  // The browser's own report of what a page's CSP refused (an inline style or
  // script, an event handler, a resource from elsewhere), from a listener
  // installed by the browser driver before any of the document's own content.
  await context.exposeBinding('__reportCspViolation', (_source, violation) => { violations.push(violation); });
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__reportCspViolation({
        document: e.documentURI, directive: e.effectiveDirective, blocked: e.blockedURI, sample: e.sample,
      });
    });
  });
  const page = await context.newPage();
  page.cspViolations = violations;
  page.navigations = [];
  page.on('response', (response) => {
    const request = response.request();
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) {
      page.navigations.push({ url: response.url(), status: response.status() });
    }
  });
  return page;
}

/** The last main-frame document response for `url` (fragment ignored), or undefined. */
export function lastNavigation(page, url) {
  const bare = url.split('#')[0];
  return page.navigations.findLast((n) => n.url === bare);
}

/** The CSP violations `page` has seen in documents of `origin` (e.g. the gate's). */
export function cspViolationsOn(page, origin) {
  return page.cspViolations.filter((v) => v.document.startsWith(`${origin}/`));
}

/** Whether any main-frame navigation since `from` (an index) hit `fragment`. */
export function navigatedThrough(page, fragment, from = 0) {
  return page.navigations.slice(from).some((n) => n.url.includes(fragment));
}

/**
 * Open gate+path; when the IdP's login form shows, sign in as `username`
 * (calling `onLoginForm(page)` first, e.g. for a screenshot). Resolves when
 * a page of the gate is shown again (redirects never commit, so this is the
 * end of the chain), with the status of that document.
 */
export async function signIn(page, { gate, idp }, username, { path: pathname = '/', onLoginForm } = {}) {
  const backOnGate = (url) => url.origin === gate;
  await page.goto(`${gate}${pathname}`);
  if (page.url().startsWith(`${idp}/interaction/`)) {
    await onLoginForm?.(page);
    await page.fill('input[name=login]', username);
    await page.fill('input[name=password]', 'any password');
    await Promise.all([page.waitForURL(backOnGate), page.click('button[type=submit]')]);
  } else if (!backOnGate(new URL(page.url()))) {
    const text = (await page.locator('body').innerText()).slice(0, 300);
    throw new Error(`sign-in stopped at ${page.url()}: ${text}`);
  }
  await page.waitForLoadState('domcontentloaded');
  const status = lastNavigation(page, page.url())?.status;
  if (status >= 500) {
    // What the page said, for the CI log: the test's own assertion shows only the status.
    const text = (await page.locator('body').innerText()).slice(0, 300).replace(/\s+/g, ' ');
    console.log(`sign-in of ${username} ended at ${page.url()} with ${status}: ${text}`);
  }
  return status;
}

/** A screenshot in ARTIFACTS/NAME.png. */
export async function screenshot(page, artifacts, name) {
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, `${name}.png`) });
}
