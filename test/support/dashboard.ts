import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { expect } from 'vitest';
import { launchBrowser } from './browser.js';
import type { TestServer } from './server.js';

/** Where `npm run build` puts the dashboard; the server serves it from there. */
export const dashboardDist = new URL('../../apps/dashboard/dist/', import.meta.url).pathname;
/** Screenshots of the main pages, kept after a run (the README shows copies from docs/screenshots). */
export const screenshotDir = new URL('../../.runtools-test/screenshots/', import.meta.url).pathname;

export function requireBuiltDashboard(): void {
  if (!existsSync(join(dashboardDist, 'index.html')))
    throw new Error(`the dashboard is not built (${dashboardDist}): run \`npm run build\` or ./dev setup`);
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Serious and critical axe-core violations on the page as it is now (WCAG 2.1 A and AA rules). */
export async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol, which the page's CSP (script-src 'self') does not govern.
  const result = (await page.evaluate(`(async () => {
    if (!window.axe) { ${axeSource} }
    const result = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return result.violations
      .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
      .map((violation) => violation.id + ' (' + violation.impact + '): ' + violation.help + ' — ' +
        violation.nodes.slice(0, 3).map((node) => node.target.join(' ')).join(', '));
  })()`)) as string[];
  return result;
}

/** Fails with the violations named when the page has any serious or critical one. */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  expect([what, await axeViolations(page)]).toEqual([what, []]);
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage: false });
}

export interface DashboardBrowser {
  browser: Browser;
  /** A fresh browser profile (no cookies) at 1280×800, or the given viewport. */
  context(viewport?: { width: number; height: number }): Promise<BrowserContext>;
  /** A page signed in with `key` (the admin key by default) through the sign-in form, on `path`. */
  signedIn(path?: string, options?: { key?: string; viewport?: { width: number; height: number } }): Promise<Page>;
  close(): Promise<void>;
}

/** Debian's Chromium against a running test server, and sign-in through the dashboard's own form. */
export async function dashboardBrowser(server: TestServer): Promise<DashboardBrowser> {
  requireBuiltDashboard();
  const browser = await launchBrowser();
  const contexts: BrowserContext[] = [];
  const harness: DashboardBrowser = {
    browser,
    async context(viewport = { width: 1280, height: 800 }) {
      const context = await browser.newContext({ viewport, baseURL: server.url });
      contexts.push(context);
      return context;
    },
    async signedIn(path = '/', options = {}) {
      const context = await harness.context(options.viewport);
      const page = await context.newPage();
      await page.goto('/');
      await page.getByLabel('API key').fill(options.key ?? server.adminKey);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
      if (path !== '/') await page.goto(path);
      return page;
    },
    async close() {
      for (const context of contexts) await context.close().catch(() => {});
      await browser.close();
    },
  };
  return harness;
}

/**
 * The JavaScript the dashboard's first page loads before any route (the entry script and the chunks it preloads),
 * gzipped: the shell's budget.
 */
export function shellJavaScriptGzipBytes(): { bytes: number; files: string[] } {
  const html = readFileSync(join(dashboardDist, 'index.html'), 'utf8');
  const files = [
    ...html.matchAll(/<script[^>]+src="([^"]+\.js)"/g),
    ...html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="([^"]+\.js)"/g),
  ].map((match) => match[1] as string);
  const bytes = files.reduce(
    (sum, file) => sum + gzipSync(readFileSync(join(dashboardDist, file.replace(/^\//, '')))).length,
    0,
  );
  return { bytes, files };
}

/** Waits until the page shows no loading state (a query's first answer has come) in its main region. */
export async function settled(page: Page): Promise<void> {
  await page.locator('main .state.loading').first().waitFor({ state: 'detached', timeout: 30_000 });
}
