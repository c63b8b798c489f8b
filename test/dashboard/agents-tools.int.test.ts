import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DashboardBrowser,
  dashboardBrowser,
  expectAccessible,
  screenshot,
  settled,
} from '../support/dashboard.js';
import { type ModelServer, startModelServer } from '../support/model-server.js';
import { type OAuthServer, startOAuthServer } from '../support/oauth-server.js';
import { useSandboxServer } from '../support/server.js';

describe('dashboard: agents and tools', () => {
  let model: ModelServer;
  let oauth: OAuthServer;
  const fixture = useSandboxServer(async () => {
    model = await startModelServer();
    oauth = await startOAuthServer();
    return {
      RUNTOOLS_OAUTH_GITHUB_AUTHORIZE_URL: oauth.authorizeUrl,
      RUNTOOLS_OAUTH_GITHUB_TOKEN_URL: oauth.tokenUrl,
      RUNTOOLS_OAUTH_GITHUB_USERINFO_URL: `${oauth.url}/user`,
      RUNTOOLS_OAUTH_GITHUB_REVOKE_URL: `${oauth.url}/applications/{client_id}/token`,
      // A price for the scripted model, so that its runs have a cost to show.
      RUNTOOLS_MODEL_PRICES: '{"mock/m1": [2, 8]}',
    };
  });
  let dashboard: DashboardBrowser;

  beforeAll(async () => {
    await fixture.rt.secrets.set('MOCK_KEY', 'sk-mock', { category: 'provider' });
    await fixture.rt.providers.create({
      name: 'mock',
      type: 'openai-compatible',
      baseUrl: model.openaiBaseUrl,
      apiKeySecret: 'MOCK_KEY',
    });
    oauth.addClient({
      clientId: 'dash-client',
      clientSecret: 'dash-secret',
      redirectUris: [`${fixture.server.url}/v1/oauth/callback`],
      name: 'RunTools test',
    });
    await fixture.rt.auth.apps.set('github', { clientId: 'dash-client', clientSecret: 'dash-secret' });
    dashboard = await dashboardBrowser(fixture.server);
  }, 600_000);
  afterAll(async () => {
    await dashboard?.close();
    await model?.close();
    await oauth?.close();
  });

  it('builds an agent in the Agent Builder, runs it and shows its events live, continues a thread and keeps versions', async () => {
    model.script([
      { thinking: 'Let me check.', toolCalls: [{ name: 'bash', input: { command: 'echo hi-from-bash' } }] },
      { text: 'All done: hi-from-bash' },
    ]);
    const page = await dashboard.signedIn('/agents');
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.getByRole('heading', { name: 'Agents', level: 1 }).waitFor();
    await page.getByText('No agents yet').waitFor();
    await expectAccessible(page, 'the agent list');
    for (const tab of ['Runs', 'Threads', 'Providers']) {
      await page.getByRole('tab', { name: tab }).click();
      await settled(page);
      await expectAccessible(page, `agents ${tab}`);
    }
    await page.getByRole('tab', { name: 'Providers' }).click();
    await page.getByText('key set').first().waitFor();

    await page.getByRole('button', { name: 'New agent' }).click();
    await page.getByRole('heading', { name: 'New agent', level: 1 }).waitFor();
    await page.getByRole('textbox', { name: 'Name' }).fill('Helper bot');
    expect(await page.getByRole('textbox', { name: 'Slug' }).inputValue()).toBe('helper-bot');
    await page.getByRole('combobox', { name: 'Model' }).selectOption('mock/*');
    await page.getByRole('textbox', { name: 'Model ID' }).fill('m1');
    await page.getByTestId('model-key-status').getByText('key set').waitFor();
    await page.getByRole('textbox', { name: 'System prompt' }).fill('You are helpful.');
    await page.getByRole('spinbutton', { name: 'Max iterations' }).fill('5');
    await expectAccessible(page, 'the agent builder');
    await screenshot(page, 'agent-builder');
    await page.getByRole('button', { name: 'Create agent' }).click();
    await page.waitForURL(/\/agents\/helper-bot$/);
    await page.getByRole('heading', { name: 'Helper bot', level: 1 }).waitFor();
    await page.getByRole('textbox', { name: 'Prompt' }).fill('Say hi');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const log = page.getByRole('log', { name: 'Run events' });
    await log.getByTestId('run-done').waitFor({ timeout: 120_000 });
    await expect.poll(() => log.getByTestId('run-text').allTextContents()).toContain('All done: hi-from-bash');
    await log.getByText('Arguments of bash').click();
    await log.getByText('Result of bash').click();
    await log.getByText('Thinking').click();
    // The thinking, the call's arguments and what bash printed in the managed sandbox, all rendered.
    const shown = (await log.textContent()) ?? '';
    expect(shown).toContain('Let me check.');
    expect(shown).toContain('echo hi-from-bash');
    expect(shown.split('echo hi-from-bash').join('')).toContain('hi-from-bash');
    await expectAccessible(page, 'the run panel');
    await screenshot(page, 'agent-run');
    for (const tab of ['Definition', 'Versions', 'Runs', 'Threads']) {
      await page.getByRole('tab', { name: tab }).click();
      await settled(page);
      await expectAccessible(page, `agent ${tab}`);
    }
    // The open tab is in the URL: a reload (or a shared link) opens it again.
    expect(new URL(page.url()).searchParams.get('tab')).toBe('agent-threads');
    await page.reload();
    await page.getByRole('tab', { name: 'Threads', selected: true }).waitFor();
    await page.getByRole('tab', { name: 'Definition' }).click();
    await page.getByRole('textbox', { name: 'System prompt' }).fill('You are very helpful.');
    await page.getByRole('button', { name: 'Save agent' }).click();
    await page.getByText('version 2').waitFor();
    await page.getByRole('tab', { name: 'Runs' }).click();
    await page.getByRole('link', { name: /^run_/ }).first().click();
    await page.getByRole('heading', { name: /^Run run_/, level: 1 }).waitFor();
    await page.getByRole('log', { name: 'Run events' }).getByTestId('run-done').waitFor();
    await expectAccessible(page, 'the run page');
    // Its cost, as the API reports it: its tokens at the model's price.
    const [ran] = await fixture.rt.agent.list({ agent: 'helper-bot' });
    expect(ran?.costUsd).toBe(Math.round((ran?.usage.inputTokens ?? 0) * 2 + (ran?.usage.outputTokens ?? 0) * 8) / 1e6);
    await page.getByText(`$${(ran?.costUsd ?? 0).toFixed(4)} (estimated at the model's list price)`).waitFor();
    // A thread.
    model.script([{ text: 'first' }, { text: 'second' }]);
    await page.goto('/agents/helper-bot');
    await page.getByRole('textbox', { name: 'Prompt' }).fill('One');
    await page.getByRole('combobox', { name: 'Thread' }).selectOption('new');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.getByRole('log', { name: 'Run events' }).getByTestId('run-done').waitFor({ timeout: 60_000 });
    await page.getByRole('textbox', { name: 'Prompt' }).fill('Two');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await expect.poll(() => page.getByTestId('run-text').allTextContents(), { timeout: 60_000 }).toContain('second');
    await page.getByRole('tab', { name: 'Threads' }).click();
    await page.getByRole('link', { name: /^thr_/ }).first().click();
    await page.getByRole('heading', { name: 'Messages' }).waitFor();
    await page.getByText('second').first().waitFor();
    await expectAccessible(page, 'the thread page');

    // 375 px
    const narrow = await dashboard.signedIn('/agents/helper-bot', { viewport: { width: 375, height: 800 } });
    await narrow.getByRole('heading', { name: 'Helper bot', level: 1 }).waitFor();
    await expectAccessible(narrow, 'agent at 375');
    expect(errors).toEqual([]);
  }, 300_000);

  it('installs tools from the marketplace, stores a tool credential and shows every tools tab', async () => {
    const page = await dashboard.signedIn('/tools');
    await page.getByRole('heading', { name: 'Tools', level: 1 }).waitFor();
    await page.getByRole('heading', { name: 'Marketplace' }).waitFor();
    await page.getByRole('table').waitFor();
    await expectAccessible(page, 'marketplace');
    await page.getByRole('searchbox', { name: 'Search tools' }).fill('github');
    await page.getByRole('button', { name: 'Install github' }).click();
    await page.getByText('github is installed').waitFor();
    const market = (await (await fixture.server.request('GET', '/v1/tools/marketplace?limit=1000')).json()) as {
      data: { name: string; credentials: { schema: Record<string, unknown> } }[];
    };
    const keyed = market.data.find((tool) => Object.keys(tool.credentials.schema).length > 0);
    await page.getByRole('searchbox', { name: 'Search tools' }).fill('');
    if (keyed) await page.getByRole('button', { name: `Install ${keyed.name}` }).click();
    if (keyed) await page.getByText(`${keyed.name} is installed`).waitFor();
    await page.getByRole('tab', { name: 'Installed' }).click();
    await page.getByRole('heading', { name: 'github', level: 3 }).waitFor();
    await expectAccessible(page, 'installed');
    await screenshot(page, 'tools');
    if (keyed) {
      const field = Object.keys(keyed.credentials.schema)[0] as string;
      await page.getByLabel(field, { exact: true }).fill('secret-value');
      await page.getByRole('button', { name: `Save credentials for ${keyed.name}` }).click();
      await page.getByText(`Credentials of ${keyed.name} saved.`).waitFor();
      await page.getByText('a value is stored').first().waitFor();
      await expectAccessible(page, 'credentials saved');
    }
    await page.getByText('actions of github').click();
    await page
      .getByRole('button', { name: /^Run github\./ })
      .first()
      .click();
    await page.getByRole('dialog').waitFor();
    await expectAccessible(page, 'run action dialog');

    await page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
    await page.getByRole('tab', { name: 'Connected Apps' }).click();
    await page.getByRole('heading', { name: 'Connections' }).waitFor();
    await settled(page);
    await expectAccessible(page, 'connected apps');

    await page.getByRole('tab', { name: 'Execution log' }).click();
    await settled(page);
    await expectAccessible(page, 'execution log');
  }, 300_000);

  it('connects GitHub through the OAuth broker in a popup, reconnects it when it needs reauth, and revokes it', async () => {
    const page = await dashboard.signedIn('/tools');
    await page.getByRole('tab', { name: 'Connected Apps' }).click();
    const popupOpened = page.waitForEvent('popup');
    await page.getByRole('button', { name: 'Connect GitHub' }).click();
    const popup = await popupOpened;
    await popup.getByRole('button', { name: 'Allow' }).click();
    await page.getByText(/^Connected (?!Apps)/).waitFor({ timeout: 30_000 });
    await page.locator('main .badge', { hasText: /^active$/ }).waitFor();
    await expectAccessible(page, 'connected');
    await fixture.server.running.db.kysely.updateTable('oauth_connections').set({ status: 'needs_reauth' }).execute();
    await page.reload();
    await page.getByRole('tab', { name: 'Connected Apps' }).click();
    const again = page.waitForEvent('popup');
    await page.getByRole('button', { name: /^Reconnect GitHub/ }).click();
    const popup2 = await again;
    await popup2.getByRole('button', { name: 'Allow' }).click();
    await page.getByText(/^Connected (?!Apps)/).waitFor({ timeout: 30_000 });
    const count = ((await (await fixture.server.request('GET', '/v1/oauth/connections')).json()) as { data: unknown[] })
      .data.length;
    expect(count).toBeGreaterThanOrEqual(1);
    const revokedBefore = oauth.revoked.length;
    await page
      .getByRole('button', { name: /^Revoke GitHub/ })
      .first()
      .click();
    await page
      .getByRole('dialog', { name: 'Revoke connection?' })
      .getByRole('button', { name: 'Revoke connection' })
      .click();
    // Revoked is deleted: at the provider too, and from the org's connections.
    await expect
      .poll(async () => {
        const listed = (await (await fixture.server.request('GET', '/v1/oauth/connections')).json()) as {
          data: unknown[];
        };
        return listed.data.length;
      })
      .toBe(count - 1);
    await expect.poll(() => oauth.revoked.length).toBeGreaterThan(revokedBefore);
  }, 300_000);
});
