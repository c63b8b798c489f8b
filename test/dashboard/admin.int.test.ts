import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DashboardBrowser,
  dashboardBrowser,
  expectAccessible,
  screenshot,
  settled,
} from '../support/dashboard.js';
import { addMember } from '../support/members.js';
import { claim, fakeDevice } from '../support/mesh-fake-device.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('dashboard: settings, credentials, RunMesh and workflows', () => {
  let server: TestServer;
  let dashboard: DashboardBrowser;
  beforeAll(async () => {
    server = await startTestServer();
    dashboard = await dashboardBrowser(server);
  });
  afterAll(async () => {
    await dashboard?.close();
    await server?.close();
  });
  const get = async <T>(path: string) => (await (await server.request('GET', path)).json()) as T;

  it('creates a project and invites a member in Settings', async () => {
    const page = await dashboard.signedIn('/settings');
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
    await settled(page);
    await expectAccessible(page, 'settings');
    await page.getByRole('button', { name: 'New project' }).click();
    const dialog = page.getByRole('dialog', { name: 'New project' });
    await dialog.getByRole('textbox', { name: 'Name' }).fill('Second');
    await expectAccessible(page, 'the new project dialog');
    await dialog.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('button', { name: 'Rename Second' }).waitFor();
    const projects = await get<{ data: { name: string }[] }>('/v1/projects');
    expect(projects.data.map((project) => project.name)).toContain('Second');
    await page.getByRole('button', { name: 'Invite member' }).click();
    const invite = page.getByRole('dialog', { name: 'Invite member' });
    await invite.getByRole('textbox', { name: 'Email' }).fill('bob@example.com');
    await invite.getByRole('button', { name: 'Send invitation' }).click();
    expect((await invite.getByTestId('invitation-token').textContent())?.length).toBeGreaterThan(20);
    await invite.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('button', { name: 'Revoke invitation for bob@example.com' }).waitFor();
    await screenshot(page, 'settings');
  });

  it('creates an API key shown once and revokes it; reveals a secret; configures an OAuth app; lists sessions', async () => {
    const page = await dashboard.signedIn('/credentials');
    await page.getByRole('heading', { name: 'Credentials', level: 1 }).waitFor();
    await settled(page);
    await expectAccessible(page, 'API keys');
    await page.getByRole('button', { name: 'Create API key' }).click();
    const keyDialog = page.getByRole('dialog', { name: 'New API key' });
    await keyDialog.getByRole('textbox', { name: 'Name' }).fill('ci');
    await keyDialog.getByRole('checkbox', { name: 'sandboxes:read' }).check();
    await expectAccessible(page, 'the new key dialog');
    await keyDialog.getByRole('button', { name: 'Create key' }).click();
    const key = (await keyDialog.getByTestId('api-key-value').textContent())?.trim() ?? '';
    expect(key).toMatch(/^rt_[a-z2-7]{8}_/);
    // The key works, with exactly its scope.
    expect((await server.request('GET', '/v1/sandboxes', { key })).status).toBe(200);
    expect((await server.request('GET', '/v1/secrets', { key })).status).toBe(403);
    await keyDialog.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('button', { name: 'Revoke ci' }).click();
    await page.getByRole('dialog', { name: 'Revoke API key?' }).getByRole('button', { name: 'Revoke key' }).click();
    await page.getByRole('button', { name: 'Revoke ci' }).waitFor({ state: 'detached' });
    expect((await server.request('GET', '/v1/sandboxes', { key })).status).toBe(401);

    await page.getByRole('tab', { name: 'Secrets' }).click();
    await settled(page);
    await page.getByRole('button', { name: 'New secret' }).click();
    const secretDialog = page.getByRole('dialog', { name: 'New secret' });
    await secretDialog.getByRole('textbox', { name: 'Name' }).fill('MY_TOKEN');
    await secretDialog.getByRole('textbox', { name: 'Value' }).fill('s3cret-value');
    await secretDialog.getByRole('button', { name: 'Save secret' }).click();
    await page.getByRole('button', { name: 'Reveal MY_TOKEN' }).waitFor();
    expect(await page.getByText('s3cret-value').count()).toBe(0);
    await page.getByRole('button', { name: 'Reveal MY_TOKEN' }).click();
    await page.getByText('s3cret-value').waitFor();
    await expectAccessible(page, 'secrets');

    for (const tab of ['SSH keys', 'OAuth apps', 'Sessions']) {
      await page.getByRole('tab', { name: tab }).click();
      await settled(page);
      await expectAccessible(page, tab);
    }
    await page.getByRole('tab', { name: 'OAuth apps' }).click();
    await page.getByRole('button', { name: 'Configure GitHub' }).click();
    const oauth = page.getByRole('dialog', { name: 'GitHub OAuth app' });
    await oauth.getByRole('textbox', { name: 'Client ID' }).fill('abc');
    await oauth.getByLabel('Client secret').fill('def');
    await oauth.getByRole('button', { name: 'Save OAuth app' }).click();
    await page.getByRole('button', { name: 'Remove GitHub app' }).waitFor();
    const apps = await get<{ data: { provider: string; clientId: string }[] }>('/v1/oauth/apps');
    expect(apps.data.map((app) => `${app.provider} ${app.clientId}`)).toContain('github abc');
    await page.getByRole('tab', { name: 'Sessions' }).click();
    await page.getByRole('button', { name: 'End session (this browser)' }).waitFor();
    await screenshot(page, 'credentials');
  });

  it('approves a RunMesh link code, denies another, shows the node online and revokes it', async () => {
    const laptop = fakeDevice(server.url);
    const link = await laptop.link('laptop');
    const other = fakeDevice(server.url);
    const otherLink = await other.link('other');
    const page = await dashboard.signedIn('/mesh');
    await page.getByRole('heading', { name: 'RunMesh', level: 1 }).waitFor();
    await settled(page);
    await expectAccessible(page, 'RunMesh');
    await page.getByRole('textbox', { name: 'Link code' }).fill(link.code.toLowerCase());
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.getByTestId('mesh-link-device').waitFor();
    expect(await page.getByTestId('mesh-link-device').textContent()).toContain('laptop');
    await expectAccessible(page, 'a device to approve');
    await screenshot(page, 'mesh-approve');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByText(/Approved: laptop/).waitFor();
    await page.getByRole('textbox', { name: 'Link code' }).fill(otherLink.code);
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.getByText(/Denied: other/).waitFor();
    const claimed = await claim(laptop, link);
    const channel = await laptop.connect(claimed.nodeToken);
    try {
      const nodes = await get<{ data: { name: string }[] }>('/v1/mesh/nodes');
      expect(nodes.data.map((node) => node.name)).toEqual(['laptop']);
      await page.getByRole('link', { name: 'laptop' }).click();
      await page.getByRole('heading', { name: 'Node laptop', level: 1 }).waitFor();
      await page.getByRole('heading', { name: 'WireGuard config' }).waitFor();
      await settled(page);
      await page
        .locator('main .badge', { hasText: /^online$/ })
        .first()
        .waitFor({ timeout: 15_000 });
      await expectAccessible(page, 'a node');
      await page.getByRole('button', { name: 'Revoke node' }).click();
      await page.getByRole('dialog', { name: 'Revoke node?' }).getByRole('button', { name: 'Revoke node' }).click();
      await page
        .locator('main .badge', { hasText: /^revoked$/ })
        .first()
        .waitFor();
      const revoked = await get<{ revokedAt: string | null }>(`/v1/mesh/nodes/${claimed.node.id}`);
      expect(revoked.revokedAt).not.toBeNull();
    } finally {
      channel.socket.close();
    }
  });

  it('edits a workflow (a problem shown on its node, fixed), saves, publishes, runs it, and approves a wait', async () => {
    const page = await dashboard.signedIn('/workflows');
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.getByRole('heading', { name: 'Workflows', level: 1 }).waitFor();
    await settled(page);
    await expectAccessible(page, 'workflows');
    await page.getByRole('button', { name: 'New workflow' }).click();
    const dialog = page.getByRole('dialog', { name: 'New workflow' });
    await dialog.getByRole('textbox', { name: 'Name' }).fill('Review PR');
    await dialog.getByRole('button', { name: 'Create workflow' }).click();
    await page.waitForURL(/\/workflows\/review-pr$/);
    await page.getByRole('heading', { name: 'Review PR', level: 1 }).waitFor();
    await page.getByTestId('workflow-node-output').waitFor();
    await expectAccessible(page, 'the graph editor');
    // A transform with no expression: saving answers its problem, shown on that node.
    await page.getByRole('button', { name: 'Add Transform node' }).click();
    await page.getByRole('textbox', { name: 'Expression (required)' }).waitFor();
    // The node's form comes from its schema, which already says, before any save, that the expression is missing.
    expect(await page.getByRole('textbox', { name: 'Expression (required)' }).getAttribute('aria-invalid')).toBe(
      'true',
    );
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByRole('heading', { name: /Problems/ }).waitFor();
    expect(await page.locator('.wf-problems li').allTextContents()).toEqual(
      expect.arrayContaining([expect.stringContaining('transform_1')]),
    );
    await expectAccessible(page, 'the editor with problems');
    await page.getByRole('textbox', { name: 'Expression (required)' }).fill('{ "doubled": input.n * 2 }');
    await page.getByRole('combobox', { name: 'From' }).selectOption('transform_1');
    await page.getByRole('combobox', { name: 'To' }).selectOption('output');
    await page.getByRole('button', { name: 'Add edge' }).click();
    await page.getByRole('combobox', { name: 'Selected node' }).selectOption('output');
    await page.getByRole('textbox', { name: 'Expression (required)' }).fill('nodes.transform_1.output');
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByText(/Draft saved/).waitFor();
    await screenshot(page, 'workflow-editor');
    await page.getByRole('button', { name: 'Publish' }).click();
    const publish = page.getByRole('dialog', { name: 'Publish workflow' });
    await publish.getByRole('textbox', { name: 'Note' }).fill('first');
    await publish.getByRole('button', { name: 'Publish version' }).click();
    await page.getByText('Published version 1.').waitFor();
    await page.getByRole('tab', { name: 'Triggers' }).click();
    await settled(page);
    await page.getByRole('button', { name: 'New trigger' }).click();
    const trigger = page.getByRole('dialog', { name: 'New trigger' });
    await expectAccessible(page, 'the trigger dialog');
    await trigger.getByRole('radio', { name: 'Webhook' }).check();
    await trigger.getByRole('button', { name: 'Create trigger' }).click();
    expect(await trigger.getByTestId('webhook-url').textContent()).toContain('/v1/');
    await trigger.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const run = page.getByRole('dialog', { name: 'Run workflow' });
    await run.getByRole('textbox', { name: 'Input (JSON)' }).fill('{"n": 21}');
    await run.getByRole('button', { name: 'Start run' }).click();
    await page.waitForURL(/\/workflows\/runs\//);
    await page.getByTestId('workflow-run-status').getByText('completed').waitFor({ timeout: 30_000 });
    expect(JSON.parse((await page.getByTestId('workflow-run-output').textContent()) ?? 'null')).toEqual({
      doubled: 42,
    });
    await expectAccessible(page, 'a workflow run');
    await screenshot(page, 'workflow-run');

    // A run waiting for approval, approved in the inbox with a comment.
    const saved = await server.request('POST', '/v1/workflows', {
      body: {
        name: 'Gate',
        graph: {
          nodes: [
            { id: 'gate', type: 'approval', config: { message: 'Ship {{ input.what }}?' } },
            { id: 'yes', type: 'output', config: { expression: '"shipped"' } },
          ],
          edges: [{ source: 'gate', target: 'yes', condition: true }],
        },
      },
    });
    expect(saved.status).toBe(200);
    // Its approval node's form has the schema's timeoutSeconds, which no page names: the label is the schema's,
    // the limit too (said before a save), and the value goes into the saved graph.
    await page.goto('/workflows/gate');
    await page.getByTestId('workflow-node-gate').waitFor();
    await page.getByRole('combobox', { name: 'Selected node' }).selectOption('gate');
    const timeout = page.getByRole('spinbutton', { name: 'Timeout seconds' });
    await timeout.fill('0');
    await page.getByText('at least 1', { exact: true }).waitFor();
    await timeout.fill('3600');
    expect(await timeout.getAttribute('aria-invalid')).toBeNull();
    expect(await page.getByRole('combobox', { name: 'On timeout' }).inputValue()).toBe('fail');
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByText(/Draft saved/).waitFor();
    const draft = await get<{ graph: { nodes: { id: string; config: unknown }[] } }>('/v1/workflows/gate');
    expect(draft.graph.nodes.find((node) => node.id === 'gate')?.config).toEqual({
      message: 'Ship {{ input.what }}?',
      timeoutSeconds: 3600,
    });
    const started = await server.request('POST', '/v1/workflows/gate/runs', {
      body: { version: 'draft', input: { what: 'v2' } },
    });
    const { runId } = (await started.json()) as { runId: string };
    await page.goto('/workflows/approvals');
    await page.getByRole('heading', { name: 'Approvals', level: 1 }).waitFor();
    const card = page.getByRole('article', { name: /gate · gate/ });
    await card.waitFor({ timeout: 20_000 });
    await expectAccessible(page, 'approvals');
    await card.getByRole('textbox', { name: 'Comment' }).fill('looks fine');
    await card.getByRole('button', { name: 'Approve' }).click();
    await page.getByText('Nothing waiting for approval').waitFor();
    await expect
      .poll(async () => (await get<{ status: string }>(`/v1/workflow-runs/${runId}`)).status, { timeout: 20_000 })
      .toBe('completed');
    expect(errors).toEqual([]);
  });

  it('shows a member none of the admin actions of Settings', async () => {
    const joined = await addMember(server, 'mia@example.com', 'member');
    const page = await dashboard.signedIn('/settings', { key: joined.apiKey.key });
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
    await settled(page);
    await page.getByRole('heading', { name: 'Members' }).waitFor();
    for (const name of ['Invite member', 'Save organization', 'Remove admin@localhost']) {
      expect([name, await page.getByRole('button', { name }).count()]).toEqual([name, 0]);
    }
    expect(await page.getByRole('combobox', { name: /^Role of / }).count()).toBe(0);
    // What the page does not offer, the API refuses too.
    const invite = await server.request('POST', '/v1/invitations', {
      key: joined.apiKey.key,
      body: { email: 'eve@example.com', role: 'member' },
    });
    expect(invite.status).toBe(403);
    await expectAccessible(page, 'settings as a member');
  });
});
