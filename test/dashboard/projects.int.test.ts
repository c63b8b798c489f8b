import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DashboardBrowser,
  dashboardBrowser,
  expectAccessible,
  screenshot,
  settled,
} from '../support/dashboard.js';
import { startTestServer, type TestServer } from '../support/server.js';

type Resource = { id: string; slug: string; name: string; projectId: string; version?: number };

/**
 * Projects in the dashboard: the shell's switcher filters the resource pages (kept in the URL across them), "All
 * projects" names each row's project, a create goes in the chosen project, an agent and a workflow move from their
 * pages, and Settings says what a project still holds when it cannot be deleted. No sandboxes are made (slow): the
 * sandboxes page is checked for its empty state in a project.
 */
describe('dashboard: projects', () => {
  let server: TestServer;
  let dashboard: DashboardBrowser;
  let defaultProject: { id: string; name: string };
  let second: string;
  const call = async <T>(method: string, path: string, body?: unknown) =>
    (await (await server.request(method, path, body === undefined ? {} : { body })).json()) as T;
  const graph = { nodes: [{ id: 'out', type: 'output', config: { expression: '1' } }], edges: [] };

  beforeAll(async () => {
    server = await startTestServer();
    defaultProject = (await call<{ project: { id: string; name: string } }>('GET', '/v1/me')).project;
    second = (await call<Resource>('POST', '/v1/projects', { name: 'Second' })).id;
    await call('POST', '/v1/agents', { slug: 'alpha', name: 'Alpha', model: 'gpt-5', projectId: second });
    await call('POST', '/v1/agents', { slug: 'beta', name: 'Beta', model: 'gpt-5' });
    await call('POST', '/v1/workspaces', { name: 'Site', projectId: second });
    await call('POST', '/v1/workspaces', { name: 'Misc' });
    await call('POST', '/v1/workflows', { name: 'Chores', graph });
    dashboard = await dashboardBrowser(server);
  });
  afterAll(async () => {
    await dashboard?.close();
    await server?.close();
  });

  const switcher = (page: Page) => page.getByRole('banner').getByRole('combobox', { name: 'Project', exact: true });
  const projectInUrl = (page: Page) => new URL(page.url()).searchParams.get('project');

  it('lists only the chosen project’s agents and workspaces, keeps the choice across pages, and names projects under "All projects"', async () => {
    const page = await dashboard.signedIn('/agents');
    await page.getByRole('link', { name: 'Alpha' }).waitFor();
    await switcher(page).selectOption({ label: 'Second' });
    await page.getByRole('link', { name: 'Beta' }).waitFor({ state: 'detached' });
    await page.getByRole('link', { name: 'Alpha' }).waitFor();
    expect(projectInUrl(page)).toBe(second);
    // One project chosen: no project column.
    expect(await page.getByRole('columnheader', { name: 'Project' }).count()).toBe(0);
    await expectAccessible(page, 'the project switcher with a project chosen');

    // Through an agent's page and its back link, then the sidebar: the choice stays in the URL.
    await page.getByRole('link', { name: 'Alpha' }).click();
    await page.getByRole('heading', { name: 'Alpha', level: 1 }).waitFor();
    expect(projectInUrl(page)).toBe(second);
    await page.getByRole('link', { name: '← Agents' }).click();
    await page.getByRole('heading', { name: 'Agents', level: 1 }).waitFor();
    expect(projectInUrl(page)).toBe(second);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Workspaces' }).click();
    await page.getByRole('heading', { name: 'Workspaces', level: 1 }).waitFor();
    expect(projectInUrl(page)).toBe(second);
    await page.getByRole('link', { name: 'Site' }).waitFor();
    await settled(page);
    expect(await page.getByRole('link', { name: 'Misc' }).count()).toBe(0);
    expect(await switcher(page).inputValue()).toBe(second);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sandboxes' }).click();
    await page.getByText('No sandboxes in this project').waitFor();
    expect(projectInUrl(page)).toBe(second);

    // All projects: both, each with its project's name.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Workspaces' }).click();
    await switcher(page).selectOption({ label: 'All projects' });
    await page.getByRole('link', { name: 'Misc' }).waitFor();
    expect(projectInUrl(page)).toBeNull();
    const cell = (row: RegExp, project: string) =>
      page.getByRole('row', { name: row }).getByRole('cell', { name: project, exact: true });
    await cell(/Site/, 'Second').waitFor();
    await cell(/Misc/, defaultProject.name).waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Agents' }).click();
    await page.getByRole('columnheader', { name: 'Project' }).waitFor();
    await cell(/Alpha/, 'Second').waitFor();
    await cell(/Beta/, defaultProject.name).waitFor();
    await expectAccessible(page, 'agents of all projects');
    await screenshot(page, 'projects-agents');
  });

  it('creates a workspace in the chosen project', async () => {
    const page = await dashboard.signedIn(`/workspaces?project=${second}`);
    await page.getByRole('link', { name: 'Site' }).waitFor();
    await page.getByRole('button', { name: 'New workspace' }).click();
    const dialog = page.getByRole('dialog', { name: 'New workspace' });
    expect(await dialog.getByRole('combobox', { name: 'Project' }).inputValue()).toBe(second);
    await dialog.getByRole('textbox', { name: 'Name' }).fill('Docs');
    await expectAccessible(page, 'the new workspace dialog');
    await dialog.getByRole('button', { name: 'Create workspace' }).click();
    await page.getByRole('heading', { name: 'Docs', level: 1 }).waitFor();
    expect((await call<Resource>('GET', '/v1/workspaces/docs')).projectId).toBe(second);
  });

  it('moves an agent to another project from the Agent Builder without a new version, and a workflow from its page', async () => {
    const before = await call<Resource>('GET', '/v1/agents/beta');
    const page = await dashboard.signedIn('/agents/beta');
    await page.getByRole('heading', { name: 'Beta', level: 1 }).waitFor();
    await page.getByRole('tab', { name: 'Definition' }).click();
    const select = page.getByRole('combobox', { name: 'Project of this agent' });
    expect(await select.inputValue()).toBe(defaultProject.id);
    await select.selectOption({ label: 'Second' });
    await expectAccessible(page, 'the agent builder with Move');
    await page.getByRole('button', { name: 'Move agent' }).click();
    await page.getByText('project Second').waitFor();
    const after = await call<Resource>('GET', '/v1/agents/beta');
    expect([after.projectId, after.version]).toEqual([second, before.version]);

    await page.goto('/workflows/chores');
    await page.getByRole('heading', { name: 'Chores', level: 1 }).waitFor();
    await page.getByRole('combobox', { name: 'Project of this workflow' }).selectOption({ label: 'Second' });
    await page.getByRole('button', { name: 'Move workflow' }).click();
    await page.getByText(/project Second/).waitFor();
    expect((await call<Resource>('GET', '/v1/workflows/chores')).projectId).toBe(second);
  });

  it('keeps a project that holds resources, showing what it holds, in Settings', async () => {
    const page = await dashboard.signedIn('/settings');
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
    await settled(page);
    // Alpha and Beta, Site and Docs, Chores.
    await expect.poll(() => page.getByTestId('holds-second').textContent()).toBe('2 workspaces, 2 agents, 1 workflow');
    await page.getByRole('button', { name: 'Delete Second' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete project?' });
    await dialog.getByRole('button', { name: 'Delete project' }).click();
    await dialog
      .getByRole('alert')
      .getByText(/still holds 2 workspaces, 2 agents, 1 workflow/)
      .waitFor();
    await dialog.getByRole('link', { name: '2 agents in Second' }).waitFor();
    await expectAccessible(page, 'a project that is not empty');
    await screenshot(page, 'projects-settings');
    const projects = await call<{ data: Resource[] }>('GET', '/v1/projects');
    expect(projects.data.map((project) => project.id)).toContain(second);
    // Its link goes to that project's agents.
    await dialog.getByRole('link', { name: '2 agents in Second' }).click();
    await page.getByRole('heading', { name: 'Agents', level: 1 }).waitFor();
    expect(projectInUrl(page)).toBe(second);
    await page.getByRole('link', { name: 'Beta' }).waitFor();
  });
});
