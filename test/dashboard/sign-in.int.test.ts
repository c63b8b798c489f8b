import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import {
  type DashboardBrowser,
  dashboardBrowser,
  expectAccessible,
  screenshot,
  settled,
  shellJavaScriptGzipBytes,
} from '../support/dashboard.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('dashboard sign-in', () => {
  let server: TestServer;
  let dashboard: DashboardBrowser;
  const configDir = mkdtempSync(join(tmpdir(), 'runtools-dashboard-cli-'));

  beforeAll(async () => {
    server = await startTestServer();
    dashboard = await dashboardBrowser(server);
  });
  afterAll(async () => {
    await dashboard?.close();
    await server?.close();
    rmSync(configDir, { recursive: true, force: true });
  });

  it('loads no more than 250 KB of gzipped JavaScript before the first route', () => {
    const shell = shellJavaScriptGzipBytes();
    expect(shell.files.length).toBeGreaterThan(0);
    expect(shell.bytes).toBeLessThanOrEqual(250 * 1024);
  });

  it('signs in with a pasted API key into an HttpOnly, SameSite=Strict cookie, keeping no key in the page', async () => {
    const context = await dashboard.context();
    const page = await context.newPage();
    await page.goto('/');
    await expectAccessible(page, 'the sign-in page');
    await screenshot(page, 'sign-in');
    await page.getByLabel('API key').fill('rt_aaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('not valid');
    await page.getByLabel('API key').fill(server.adminKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    const cookies = await context.cookies();
    expect(cookies.map(({ name, httpOnly, sameSite, secure }) => ({ name, httpOnly, sameSite, secure }))).toEqual([
      { name: 'runtools_session', httpOnly: true, sameSite: 'Strict', secure: false },
    ]);
    const stored = (await page.evaluate(
      'JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie })',
    )) as string;
    expect(stored).not.toContain(server.adminKey);
    expect(stored).not.toContain('rts_');
    // A reload keeps the session: the cookie, not the page's memory, holds it.
    await page.reload();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    const after = await server.request('GET', '/v1/dashboard/sessions');
    expect(((await after.json()) as { data: unknown[] }).data).toEqual([]);
  });

  it('signs in once with the link `runtools dashboard` prints, and the link does not work twice', async () => {
    const printed = await runCli(['dashboard', '--no-open'], {
      configDir,
      env: { RUNTOOLS_API_URL: server.url, RUNTOOLS_API_KEY: server.adminKey },
    });
    expect(printed.code).toBe(0);
    const url = printed.stdout.trim();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/sign-in#rtl_[A-Za-z0-9_-]{43}$/);
    const page = await (await dashboard.context()).newPage();
    await page.goto(url);
    // Opening the link signs nobody in by itself: a link someone else sent would sign this browser in as them.
    await page.getByRole('button', { name: 'Continue with the sign-in link' }).waitFor();
    expect(await page.getByRole('button', { name: 'Sign out' }).count()).toBe(0);
    await page.getByRole('button', { name: 'Continue with the sign-in link' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    // The single-use token is gone from the address bar and the history.
    expect(page.url()).not.toContain('rtl_');
    const again = await (await dashboard.context()).newPage();
    await again.goto(url);
    await again.getByRole('button', { name: 'Continue with the sign-in link' }).click();
    await expect.poll(() => again.getByRole('alert').textContent()).toContain('runtools dashboard');
    expect(await again.getByRole('button', { name: 'Sign out' }).count()).toBe(0);
  });

  it('lets no page of another origin change anything with the session, though the browser sends the cookie', async () => {
    const page = await dashboard.signedIn();
    // Another origin on the same host (a different port is the same site, so SameSite=Strict still sends the
    // cookie): its page tries a form post and a fetch to create a secret.
    const attacker: Server = createServer((_request, response) => {
      response.setHeader('content-type', 'text/html');
      response.end(`<!doctype html><title>attacker</title>
        <form id="f" method="POST" action="${server.url}/v1/secrets" enctype="text/plain">
          <input name='{"name":"FORM_CSRF","value":"x","pad":"' value='"}'></form>
        <script>
          fetch('${server.url}/v1/secrets', { method: 'POST', mode: 'no-cors', credentials: 'include',
            headers: { 'content-type': 'text/plain' }, body: '{"name":"FETCH_CSRF","value":"x"}' })
            .finally(() => { document.title = 'fetched'; document.getElementById('f').submit(); });
        </script>`);
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    try {
      const evil = await page.context().newPage();
      const responses: number[] = [];
      evil.on('response', (response) => {
        if (response.url().endsWith('/v1/secrets')) responses.push(response.status());
      });
      await evil.goto(`http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`);
      await expect.poll(() => responses.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
      await expect.poll(() => evil.url(), { timeout: 10_000 }).toContain('/v1/secrets');
      expect(await evil.content()).toContain('csrf_failed');
    } finally {
      attacker.close();
    }
    const secrets = await (await server.request('GET', '/v1/secrets')).text();
    expect(secrets).not.toContain('FORM_CSRF');
    expect(secrets).not.toContain('FETCH_CSRF');
  });

  it('opens every page of the navigation without a serious or critical accessibility fault', async () => {
    const page = await dashboard.signedIn('/');
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    const nav = page.getByRole('navigation', { name: 'Main' });
    const names = await nav.getByRole('link').allTextContents();
    expect(names).toEqual([
      'Sandboxes',
      'Templates',
      'Workspaces',
      'Agents',
      'Tools',
      'Workflows',
      'Credentials',
      'RunMesh',
      'Settings',
    ]);
    for (const name of names) {
      await nav.getByRole('link', { name }).click();
      await page.getByRole('heading', { level: 1 }).first().waitFor();
      await settled(page);
      expect([name, await page.getByRole('link', { name, exact: true }).getAttribute('aria-current')]).toEqual([
        name,
        'page',
      ]);
      await expectAccessible(page, `the ${name} page`);
    }
    expect(errors).toEqual([]);
  });

  it('fits a 375 px wide phone: the menu opens the navigation, and the page has no serious accessibility fault', async () => {
    const page = await dashboard.signedIn('/', { viewport: { width: 375, height: 740 } });
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.isVisible()).toBe(false);
    await page.getByRole('button', { name: 'Menu' }).click();
    expect(await nav.isVisible()).toBe(true);
    await nav.getByRole('link', { name: 'Credentials' }).click();
    await page.waitForURL(/\/credentials/);
    expect(await nav.isVisible()).toBe(false);
    const overflow = (await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
    expect(overflow).toBeLessThanOrEqual(0);
    await expectAccessible(page, 'credentials at 375 px');
  });
});
