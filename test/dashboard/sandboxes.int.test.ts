import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../apps/server/src/ids.js';
import { type DashboardBrowser, dashboardBrowser, expectAccessible, screenshot } from '../support/dashboard.js';
import { useSandboxServer } from '../support/server.js';

describe('dashboard: sandboxes', () => {
  const fixture = useSandboxServer();
  let dashboard: DashboardBrowser;

  beforeAll(async () => {
    dashboard = await dashboardBrowser(fixture.server);
  });
  afterAll(async () => {
    await dashboard?.close();
  });

  it('creates a sandbox, runs `echo hi` in its terminal, uploads, downloads and deletes a file, and destroys it', async () => {
    const page = await dashboard.signedIn('/sandboxes');
    await page.getByRole('heading', { name: 'Sandboxes', level: 1 }).waitFor();
    await expectAccessible(page, 'the sandbox list');
    await page.getByRole('button', { name: 'New sandbox' }).click();
    const dialog = page.getByRole('dialog', { name: 'New sandbox' });
    await dialog.getByRole('textbox', { name: 'Name' }).fill('dashboard-e2e');
    await dialog.getByRole('combobox', { name: 'Runtime' }).selectOption('container');
    await expectAccessible(page, 'the new sandbox dialog');
    await dialog.getByRole('button', { name: 'Create sandbox' }).click();
    await page.waitForURL(/\/sandboxes\/sbx_[a-z2-7]{20}$/);
    const sandboxId = page.url().split('/').pop() as string;
    fixture.track(await fixture.rt.sandboxes.get(sandboxId));
    await page.getByRole('heading', { name: 'dashboard-e2e', level: 1 }).waitFor();
    await page
      .locator('main .badge', { hasText: /^running$/ })
      .first()
      .waitFor({ timeout: 30_000 });

    // The terminal: a real shell in the sandbox over the terminal WebSocket.
    await page.getByRole('tab', { name: 'Terminal' }).click();
    await page.getByText('Connected').waitFor({ timeout: 30_000 });
    await page.getByLabel('Terminal input').pressSequentially('echo hi\n');
    const terminal = page.getByRole('region', { name: 'Terminal' });
    await expect
      .poll(async () => (await terminal.locator('.xterm-rows > div').allTextContents()).map((row) => row.trim()), {
        timeout: 20_000,
      })
      .toContain('hi');
    await screenshot(page, 'sandbox-terminal');
    await expectAccessible(page, 'the sandbox terminal');

    // Files: upload through the file input, see it listed, download it back, delete it.
    await page.getByRole('tab', { name: 'Files' }).click();
    const content = `uploaded from the dashboard ${Date.now()}\n`;
    await page.getByLabel('Upload files').setInputFiles({
      name: 'notes.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from(content),
    });
    await page.getByRole('button', { name: 'notes.txt', exact: true }).waitFor({ timeout: 20_000 });
    expect(await (await fixture.rt.sandboxes.get(sandboxId)).files.read('/notes.txt').catch(() => null)).toBe(content);
    const downloading = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Download notes.txt' }).click();
    const download = await downloading;
    expect(readFileSync(await download.path(), 'utf8')).toBe(content);
    await expectAccessible(page, 'the sandbox files');
    await page.getByRole('button', { name: 'Delete notes.txt' }).click();
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await expect.poll(() => page.getByRole('button', { name: 'notes.txt', exact: true }).count()).toBe(0);

    for (const tab of ['Logs', 'Stats', 'Dev URLs', 'Snapshots']) {
      await page.getByRole('tab', { name: tab }).click();
      await expectAccessible(page, `the sandbox ${tab} tab`);
    }

    await page.getByRole('button', { name: 'Destroy', exact: true }).click();
    await page
      .getByRole('dialog', { name: 'Destroy sandbox?' })
      .getByRole('button', { name: 'Destroy sandbox' })
      .click();
    await expect
      .poll(async () => (await fixture.rt.sandboxes.get(sandboxId)).status, { timeout: 30_000 })
      .toBe('destroyed');
  });

  it('makes a workspace, uploads a file into it, downloads it, renames it and deletes it', async () => {
    const page = await dashboard.signedIn('/workspaces');
    await page.getByRole('heading', { name: 'Workspaces', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'New workspace' }).click();
    const dialog = page.getByRole('dialog', { name: 'New workspace' });
    await dialog.getByRole('textbox', { name: 'Name' }).fill('Dashboard Docs');
    await dialog.getByRole('textbox', { name: 'Slug' }).fill('dashboard-docs');
    await expectAccessible(page, 'the new workspace dialog');
    await dialog.getByRole('button', { name: 'Create workspace' }).click();
    await page.waitForURL(/\/workspaces\/wsp_[a-z2-7]{20}$/);
    await page.getByRole('heading', { name: 'Files' }).waitFor();
    const content = `workspace bytes ${Date.now()}\n`;
    await page.getByLabel('Upload files').setInputFiles({
      name: 'report.md',
      mimeType: 'text/markdown',
      buffer: Buffer.from(content),
    });
    await page.getByRole('link', { name: 'Download report.md' }).waitFor({ timeout: 20_000 });
    const downloading = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Download report.md' }).click();
    expect(readFileSync(await (await downloading).path(), 'utf8')).toBe(content);
    await screenshot(page, 'workspace');
    await expectAccessible(page, 'a workspace');
    await page.getByRole('button', { name: 'Rename report.md' }).click();
    const rename = page.getByRole('dialog', { name: 'Rename report.md' });
    await rename.getByRole('textbox', { name: 'New name' }).fill('final.md');
    await rename.getByRole('button', { name: 'Rename' }).click();
    await page.getByRole('link', { name: 'Download final.md' }).waitFor();
    expect(await fixture.rt.workspaces.files('dashboard-docs').read('/final.md')).toBe(content);
    await page.getByRole('button', { name: 'Delete final.md' }).click();
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await expect.poll(() => page.getByRole('link', { name: 'Download final.md' }).count()).toBe(0);
  });

  it('lists 1,000 sandboxes page by page and keeps only the rows in view in the page', async () => {
    // A second org with 1,000 sandboxes long destroyed (rows only: nothing to run), listed by that status.
    const created = await fixture.server.request('POST', '/v1/orgs', { body: { name: 'Thousand' } });
    const { org, project, apiKey } = (await created.json()) as {
      org: { id: string };
      project: { id: string };
      apiKey: { key: string };
    };
    const start = Date.parse('2026-01-01T00:00:00Z');
    const rows = Array.from({ length: 1000 }, (_, index) => {
      const at = new Date(start + index * 1000).toISOString();
      return {
        id: newId('sandbox'),
        org_id: org.id,
        project_id: project.id,
        name: `bulk-${String(index).padStart(4, '0')}`,
        template: 'minimal',
        runtime: 'container',
        host_id: 'elsewhere',
        status: 'destroyed',
        status_reason: null,
        metadata: '{}',
        vcpus: 1,
        memory_bytes: 256 * 1024 * 1024,
        idle_timeout: 0,
        internet: 0,
        disk_bytes: null,
        mounts: '[]',
        paused_to: null,
        auto_resume: 0,
        created_at: at,
        updated_at: at,
      };
    });
    for (let index = 0; index < rows.length; index += 200)
      await fixture.server.running.db.kysely
        .insertInto('sandboxes')
        .values(rows.slice(index, index + 200))
        .execute();
    const page = await dashboard.signedIn('/sandboxes', { key: apiKey.key });
    await page.getByRole('combobox', { name: 'Status' }).selectOption('destroyed');
    const list = page.getByRole('region', { name: 'Sandbox list' });
    await list.getByRole('link', { name: /bulk-0000/ }).waitFor();
    await screenshot(page, 'sandboxes');
    // Scrolled to the end again and again: pages load as it nears the end, until the last sandbox shows.
    await expect
      .poll(
        async () => {
          await list.evaluate((element: { scrollTop: number; scrollHeight: number }) => {
            element.scrollTop = element.scrollHeight;
          });
          return list.getByRole('link', { name: /bulk-0999/ }).count();
        },
        { timeout: 60_000, interval: 250 },
      )
      .toBe(1);
    const inPage = await list.getByRole('link').count();
    expect(inPage).toBeGreaterThan(5);
    expect(inPage).toBeLessThan(100);
  });
});
