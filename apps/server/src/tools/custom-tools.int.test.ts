import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StandInInternet, startStandInInternet } from '../../../../test/support/internet.js';
import { testVictimDir } from '../../../../test/support/rootfs.js';
import { useSandboxServer } from '../../../../test/support/server.js';

/** A custom tool's code, bundled as `runtools deploy` bundles it: one ES module whose default export is the tool. */
async function bundle(source: string): Promise<string> {
  const result = await build({
    stdin: { contents: source, loader: 'ts', resolveDir: process.cwd() },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node18',
    write: false,
  });
  return Buffer.from(result.outputFiles[0]?.contents ?? new Uint8Array()).toString('base64');
}

const databaseTool = (rows: string) => `
export default {
  name: 'my-database',
  description: 'Query my application database',
  credentials: { required: ['databaseUrl'], schema: { databaseUrl: { type: 'string', description: 'PostgreSQL connection string' } } },
  actions: {
    query: {
      description: 'Execute a SQL query',
      parameters: { type: 'object', properties: { sql: { type: 'string', description: 'SQL query' } }, required: ['sql'] },
      execute: async (params, credentials) => { return { rows: ${rows} }; },
    },
  },
};`;

const databaseManifest = {
  name: 'my-database',
  description: 'Query my application database',
  credentials: {
    required: ['databaseUrl'],
    schema: { databaseUrl: { type: 'string', description: 'PostgreSQL connection string' } },
  },
  actions: [
    {
      name: 'query',
      description: 'Execute a SQL query',
      parameters: {
        type: 'object',
        properties: { sql: { type: 'string', description: 'SQL query' } },
        required: ['sql'],
      },
    },
  ],
};

/** A tool whose actions probe what the runner can reach and how it fails. */
const probeSource = (victim: string, serverUrl: string) => `
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
export default {
  actions: {
    env: { execute: async (params, credentials) => ({ env: Object.keys(process.env).sort(), credentials }) },
    host: { execute: async () => ({ victim: existsSync(${JSON.stringify(victim)}), code: readdirSync('/opt/runtools/tools').sort() }) },
    tamper: { execute: async () => {
      const tried = {};
      for (const path of ['/opt/runtools/tools/runner.mjs', '/opt/runtools/tools/planted.mjs', '/opt/runtools/bin/node']) {
        try { writeFileSync(path, 'x'); tried[path] = 'written'; } catch (error) { tried[path] = error.code; }
      }
      return tried;
    } },
    internet: { execute: async (params) => {
      const response = await fetch(params.url, { signal: AbortSignal.timeout(5000) });
      return { status: response.status, body: await response.text() };
    } },
    server: { execute: async () => {
      try { await fetch(${JSON.stringify(serverUrl)} + '/v1/health', { signal: AbortSignal.timeout(3000) }); return { reached: true }; }
      catch (error) { return { reached: false, error: String(error.cause?.code ?? error.message) }; }
    } },
    loop: { execute: async () => { for (;;) {} } },
    throws: { execute: async () => { throw new TypeError('no such table: users'); } },
    exits: { execute: async () => { process.exit(3); } },
    bigint: { execute: async () => ({ n: 1n }) },
    allocate: { execute: async () => { const keep = []; for (;;) keep.push(new Array(1e6).fill(Math.random())); } },
    noisy: { execute: async () => { console.log('{"not":"an answer"}'); process.stdout.write('half a line'); return { ok: true }; } },
  },
};`;

const probeActions = [
  'env',
  'host',
  'tamper',
  'internet',
  'server',
  'loop',
  'throws',
  'exits',
  'bigint',
  'allocate',
  'noisy',
].map((name) => ({
  name,
  description: `probe ${name}`,
  parameters: { type: 'object', properties: {} },
  ...(name === 'loop' || name === 'allocate' ? { timeoutMs: name === 'loop' ? 2000 : 20_000 } : {}),
}));

let internet: StandInInternet;
beforeAll(async () => {
  internet = await startStandInInternet('hello from a tool’s upstream');
}, 60_000);
afterAll(async () => internet?.close());

for (const runtime of ['container', 'gvisor'] as const) {
  describe(`custom tools on ${runtime}`, () => {
    const context = useSandboxServer({ RUNTOOLS_TOOL_RUNTIME: runtime, RUNTOOLS_TOOL_RUNNER_MEMORY: '256MiB' });
    const victim = testVictimDir(`tool-${runtime}`);
    const request = (method: string, path: string, body?: unknown, key?: string) =>
      context.server.request(method, path, { ...(body !== undefined ? { body } : {}), ...(key ? { key } : {}) });
    // biome-ignore lint/suspicious/noExplicitAny: the answers of many routes, read field by field
    const answer = async (response: Response) => ({ status: response.status, body: (await response.json()) as any });
    const run = async (tool: string, action: string, params: unknown = {}, credentials?: unknown, key?: string) =>
      answer(
        await request(
          'POST',
          `/v1/tools/${tool}/execute`,
          { action, params, ...(credentials ? { credentials } : {}) },
          key,
        ),
      );

    beforeAll(() => {
      mkdirSync(victim, { recursive: true });
      writeFileSync(join(victim, 'host-secret'), 'host only');
    });
    afterAll(() => rmSync(victim, { recursive: true, force: true }));

    it('deploys versions (a new one only on change) and runs the documented tool with its credentials', async () => {
      const first = await answer(
        await request('POST', '/v1/tools/custom', { ...databaseManifest, bundle: await bundle(databaseTool('[]')) }),
      );
      expect(first).toMatchObject({
        status: 200,
        body: { action: 'created', version: { version: 1, actions: ['query'] } },
      });
      const same = await answer(
        await request('POST', '/v1/tools/custom', { ...databaseManifest, bundle: await bundle(databaseTool('[]')) }),
      );
      expect(same.body).toMatchObject({ action: 'unchanged', version: { version: 1 } });

      expect(await run('my-database', 'query', { sql: 'select 1' }, { databaseUrl: 'postgres://db' })).toMatchObject({
        status: 200,
        body: { result: { rows: [] }, version: 1 },
      });
      const changed = await answer(
        await request('POST', '/v1/tools/custom', {
          ...databaseManifest,
          bundle: await bundle(databaseTool('[{ id: 1 }]')),
        }),
      );
      expect(changed.body).toMatchObject({
        action: 'updated',
        version: { version: 2 },
        tool: { kind: 'custom', version: 2 },
      });
      expect(await run('my-database', 'query', { sql: 'select 1' }, { databaseUrl: 'postgres://db' })).toMatchObject({
        body: { result: { rows: [{ id: 1 }] }, version: 2 },
      });
      const versions = await answer(await request('GET', '/v1/tools/my-database/versions'));
      expect(versions.body.data.map((version: { version: number }) => version.version)).toEqual([2, 1]);
      // A cursor of the wrong type (a string where versions are numbers) is refused, on PostgreSQL too.
      const forged = Buffer.from(JSON.stringify(['x'])).toString('base64url');
      const refusedCursor = await answer(await request('GET', `/v1/tools/my-database/versions?cursor=${forged}`));
      expect([refusedCursor.status, refusedCursor.body.error?.code]).toEqual([400, 'validation_failed']);
      expect((await run('my-database', 'query', {}, { databaseUrl: 'x' })).body.error.code).toBe('tool_params_invalid');
      expect((await run('my-database', 'query', { sql: 'x' })).body.error).toMatchObject({
        code: 'tool_credentials_missing',
        details: { missing: ['databaseUrl'] },
      });
      const listed = await answer(await request('GET', '/v1/tools'));
      expect(listed.body.data.map((tool: { name: string }) => tool.name)).toContain('my-database');
      // A marketplace name, or an action schema Ajv cannot compile, is refused.
      expect(
        (
          await request('POST', '/v1/tools/custom', {
            ...databaseManifest,
            name: 'github',
            bundle: await bundle(databaseTool('[]')),
          })
        ).status,
      ).toBe(409);
      const badSchema = {
        ...databaseManifest,
        actions: [
          {
            ...databaseManifest.actions[0],
            parameters: { type: 'object', properties: { sql: { type: 'no-such-type' } } },
          },
        ],
        bundle: await bundle(databaseTool('[]')),
      };
      expect((await answer(await request('POST', '/v1/tools/custom', badSchema))).body.error.code).toBe(
        'validation_failed',
      );
    });

    it('runs tools in a sandbox that holds nothing of the host (its files, environment, control plane) but reaches the internet, with only the call’s credentials', async () => {
      const probe = {
        name: 'probe',
        description: 'probes',
        credentials: { required: [], schema: { apiKey: { type: 'string' } } },
        actions: probeActions,
      };
      expect(
        (
          await request('POST', '/v1/tools/custom', {
            ...probe,
            bundle: await bundle(probeSource(join(victim, 'host-secret'), context.server.url)),
          })
        ).status,
      ).toBe(200);
      const env = await run('probe', 'env', {}, { apiKey: 'k-1' });
      expect(env.body.result.credentials).toEqual({ apiKey: 'k-1' });
      expect(env.body.result.env.filter((name: string) => name.startsWith('RUNTOOLS'))).toEqual([]);
      expect(env.body.result.env).not.toContain('RUNTOOLS_TEST_DATABASE_URL');
      expect((await run('probe', 'env')).body.result.credentials).toEqual({});
      const host = await run('probe', 'host');
      expect(host.body.result).toEqual({
        victim: false,
        code: expect.arrayContaining(['probe@1.mjs', 'runner.mjs']),
      });
      // Its code and the Node binary are read-only to it: nothing there can be changed or planted.
      const tamper = await run('probe', 'tamper');
      expect(Object.values(tamper.body.result).every((outcome) => outcome !== 'written')).toBe(true);
      expect((await run('probe', 'noisy')).body.result).toEqual({ ok: true });
      const server = await run('probe', 'server');
      expect(server.body.result).toMatchObject({ reached: false });
      // The internet is there: a server one router hop away, on a public address.
      const upstream = await run('probe', 'internet', { url: `http://${internet.server}:${internet.port}/` });
      expect(upstream.body.result).toEqual({ status: 200, body: 'hello from a tool’s upstream' });
    });

    it('fails a throw, an exit, a non-JSON result, a runaway loop and unbounded allocation with tool errors, and the next call works', async () => {
      const thrown = await run('probe', 'throws');
      expect(thrown).toMatchObject({ status: 502, body: { error: { code: 'tool_execution_failed' } } });
      expect(thrown.body.error.message).toContain('no such table: users');
      expect((await run('probe', 'noisy')).body.result).toEqual({ ok: true });
      expect((await run('probe', 'bigint')).body.error).toMatchObject({ code: 'tool_execution_failed' });
      expect((await run('probe', 'exits')).body.error.code).toBe('tool_execution_failed');
      // A new process, from the runner program as written even if a tool emptied it (gVisor lets a read-only
      // bind's file be truncated: the tamper probe above tries).
      expect((await run('probe', 'noisy')).body.result).toEqual({ ok: true });
      const looped = await run('probe', 'loop');
      expect(looped).toMatchObject({
        status: 504,
        body: { error: { code: 'tool_timeout', details: { timeoutMs: 2000 } } },
      });
      expect((await run('probe', 'noisy')).body.result).toEqual({ ok: true });
      const allocated = await run('probe', 'allocate');
      expect(allocated.body.error.code).toMatch(/^tool_(execution_failed|timeout)$/);
      expect((await run('probe', 'noisy')).body.result).toEqual({ ok: true });
      const executions = await answer(await request('GET', '/v1/tools/executions?tool=probe&status=failed&limit=1000'));
      expect(new Set(executions.body.data.map((execution: { errorCode: string }) => execution.errorCode))).toEqual(
        new Set(['tool_execution_failed', 'tool_timeout']),
      );
    });

    it('never shares a runner between orgs, and one org cannot call or see another’s custom tool', async () => {
      const other = await answer(await request('POST', '/v1/orgs', { name: `Tools ${runtime}` }));
      const key = other.body.apiKey.key as string;
      expect((await run('my-database', 'query', { sql: 'x' }, { databaseUrl: 'x' }, key)).body.error.code).toBe(
        'tool_not_found',
      );
      expect((await answer(await request('GET', '/v1/tools/my-database/versions', undefined, key))).status).toBe(404);
      const probe = { name: 'probe', description: 'probes', actions: probeActions };
      expect(
        (
          await request(
            'POST',
            '/v1/tools/custom',
            { ...probe, bundle: await bundle(probeSource('/nonexistent', context.server.url)) },
            key,
          )
        ).status,
      ).toBe(200);
      const host = await run('probe', 'host', {}, undefined, key);
      expect(host.body.result.code.sort()).toEqual(['probe@1.mjs', 'runner.mjs']);
      expect((await request('DELETE', '/v1/tools/my-database')).status).toBe(200);
      expect((await run('my-database', 'query', { sql: 'x' }, { databaseUrl: 'x' })).body.error.code).toBe(
        'tool_not_found',
      );
    });
  });
}
