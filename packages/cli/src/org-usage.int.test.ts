import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunTools } from '@runtools/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../test/support/cli.js';
import { startTestServer, type TestServer } from '../../../test/support/server.js';

describe('runtools org usage', () => {
  let server: TestServer;
  let configDir: string;
  beforeAll(async () => {
    server = await startTestServer({ RUNTOOLS_ORG_STORAGE_QUOTA: '1GiB' });
    configDir = mkdtempSync(join(tmpdir(), 'runtools-cli-'));
  });
  afterAll(async () => {
    await server.close();
    rmSync(configDir, { recursive: true, force: true });
  });

  it("prints the org's storage against its quota", async () => {
    const rt = new RunTools({ apiKey: server.adminKey, baseUrl: server.url });
    const workspace = await rt.workspaces.create({ name: 'Counted' });
    await rt.workspaces.files(workspace.id).upload('/a.bin', Buffer.alloc(3 * 1024 ** 2));
    const env = { RUNTOOLS_API_URL: server.url, RUNTOOLS_API_KEY: server.adminKey };
    const json = await runCli(['org', 'usage', '--json'], { configDir, env });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      quotaBytes: 1024 ** 3,
      workspaceBytes: 3 * 1024 ** 2,
      workspaces: 1,
    });
    const text = await runCli(['org', 'usage'], { configDir, env });
    expect(text.stdout).toMatch(/quota:?\s+1024\.0 MiB/);
    expect(text.stdout).toMatch(/workspaces:?\s+3\.0 MiB \(1\)/);
  });
});
