import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunTools } from '@runtools/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../test/support/cli.js';
import { startTestServer, type TestServer } from '../../../test/support/server.js';

/** The secrets' names as `secret list` prints them: one row each after the header. */
const names = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.split(/\s+/)[0]);

describe('list commands page', () => {
  let server: TestServer;
  let configDir: string;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(args, { configDir, env });

  beforeAll(async () => {
    server = await startTestServer();
    configDir = mkdtempSync(join(tmpdir(), 'runtools-cli-'));
    env = { RUNTOOLS_API_URL: server.url, RUNTOOLS_API_KEY: server.adminKey };
    const rt = new RunTools({ apiKey: server.adminKey, baseUrl: server.url });
    for (const name of ['PAGED_C', 'PAGED_A', 'PAGED_B']) await rt.secrets.set(name, 'x');
    await rt.agents.create({ slug: 'paged', model: 'claude-haiku-4.5', mode: 'managed' });
    for (const systemPrompt of ['two', 'three']) await rt.agents.update('paged', { systemPrompt });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(configDir, { recursive: true, force: true });
  });

  it('prints the first page by default, and says nothing more when it is the only one', async () => {
    const all = await cli('secret', 'list');
    expect(all.code).toBe(0);
    expect(names(all.stdout)).toEqual(['PAGED_A', 'PAGED_B', 'PAGED_C']);
    expect(all.stderr).toBe('');
  });

  it('prints one page of --limit N, says on stderr how to get the next, and that command gets it', async () => {
    const first = await cli('secret', 'list', '--limit', '1');
    expect(first.code).toBe(0);
    expect(names(first.stdout)).toEqual(['PAGED_A']);
    const next = /The next page: runtools (secret list --limit 1 --cursor (\S+))\n/.exec(first.stderr);
    expect(next, first.stderr).not.toBeNull();
    expect(first.stderr).toContain('--all');
    const second = await cli(...(next?.[1] ?? '').split(' '));
    expect(names(second.stdout)).toEqual(['PAGED_B']);
    const third = await cli(
      'secret',
      'list',
      '--limit',
      '1',
      '--cursor',
      /--cursor (\S+)/.exec(second.stderr)?.[1] ?? '',
    );
    expect(names(third.stdout)).toEqual(['PAGED_C']);
    expect(third.stderr).toBe('');
  });

  it('prints every page with --all, and --json prints the array of what it read', async () => {
    const all = await cli('secret', 'list', '--all', '--limit', '1');
    expect(names(all.stdout)).toEqual(['PAGED_A', 'PAGED_B', 'PAGED_C']);
    expect(all.stderr).toBe('');
    const page = await cli('--json', 'secret', 'list', '--limit', '2');
    expect((JSON.parse(page.stdout) as { name: string }[]).map((secret) => secret.name)).toEqual([
      'PAGED_A',
      'PAGED_B',
    ]);
    expect(page.stderr).toContain('--cursor');
    const every = await cli('--json', 'secret', 'list', '--all', '--limit', '2');
    expect(JSON.parse(every.stdout)).toHaveLength(3);
  });

  it('pages lists of one thing named by an argument', async () => {
    const first = await cli('agent', 'versions', 'paged', '--limit', '2');
    expect(first.stdout).toMatch(/^VERSION.*\n3\s.*\n2\s[^\n]*\n$/);
    expect(first.stderr).toMatch(/runtools agent versions paged --limit 2 --cursor \S+/);
    const all = await cli('agent', 'versions', 'paged', '--all', '--limit', '1');
    expect(all.stdout).toMatch(/^VERSION.*\n3\s.*\n2\s.*\n1\s[^\n]*\n$/);
  });

  it('refuses a page size out of range and a cursor it did not give out', async () => {
    for (const limit of ['0', '1001', 'many']) {
      const refused = await cli('secret', 'list', '--limit', limit);
      expect([limit, refused.code]).toEqual([limit, 2]);
      expect(refused.stderr).toContain('--limit');
    }
    const forged = await cli('secret', 'list', '--cursor', 'forged');
    expect(forged.code).not.toBe(0);
    expect(forged.stderr).toMatch(/cursor/);
  });
});
