import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GithubServer, startGithubServer } from '../../../../test/support/github-server.js';
import { addMember } from '../../../../test/support/members.js';
import { startTestServer, type TestServer } from '../../../../test/support/server.js';

interface ErrorAnswer {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

describe('tools: marketplace, installations, credentials and calls', () => {
  let server: TestServer;
  let github: GithubServer;
  const json = async <T>(response: Response): Promise<{ status: number; body: T }> => ({
    status: response.status,
    body: (await response.json()) as T,
  });
  const execute = (body: unknown, key?: string) =>
    server.request('POST', '/v1/tools/github/execute', { body, ...(key ? { key } : {}) }).then(json<never>);
  const failure = async (response: Promise<{ status: number; body: unknown }>) => {
    const { status, body } = await response;
    return { status, code: (body as ErrorAnswer).error?.code, error: (body as ErrorAnswer).error };
  };

  beforeAll(async () => {
    github = await startGithubServer();
    server = await startTestServer({ RUNTOOLS_TOOL_GITHUB_BASE_URL: github.url });
  });
  afterAll(async () => {
    await server?.close();
    await github?.close();
  });

  it('lists the marketplace with each tool’s provider, auth kind and actions with JSON Schemas, and ranks a search', async () => {
    const { status, body } = await json<{ data: Record<string, unknown>[]; nextCursor: string | null }>(
      await server.request('GET', '/v1/tools/marketplace'),
    );
    expect(status).toBe(200);
    const entry = body.data.find((tool) => tool.name === 'github') as {
      provider: string;
      auth: { kind: string };
      installed: boolean;
      actions: { name: string; parameters: { type: string } }[];
    };
    expect(entry).toMatchObject({
      provider: 'GitHub',
      auth: { kind: 'oauth', provider: 'github', scopes: ['repo', 'read:user'] },
      installed: false,
    });
    expect(entry.actions.map((action) => action.name)).toContain('list_repos');
    expect(entry.actions.every((action) => action.parameters.type === 'object')).toBe(true);
    // The ten official tools, each with its auth (OAuth ones name their provider and scopes) and actions.
    const tools = body.data as unknown as {
      name: string;
      auth: { kind: string; provider?: string; scopes?: string[] };
      actions: { name: string; description: string; parameters: { type: string; additionalProperties?: boolean } }[];
    }[];
    expect(tools.map((tool) => tool.name)).toEqual([
      'discord',
      'github',
      'gmail',
      'google-calendar',
      'google-sheets',
      'linkedin',
      'outlook',
      'slack',
      'telegram',
      'x-twitter',
    ]);
    expect(Object.fromEntries(tools.map((tool) => [tool.name, tool.auth.provider ?? tool.auth.kind]))).toEqual({
      discord: 'api_key',
      github: 'github',
      gmail: 'google',
      'google-calendar': 'google',
      'google-sheets': 'google',
      linkedin: 'linkedin',
      outlook: 'microsoft',
      slack: 'slack',
      telegram: 'api_key',
      'x-twitter': 'x',
    });
    for (const tool of tools) {
      expect(tool.actions.length, tool.name).toBeGreaterThanOrEqual(2);
      if (tool.auth.kind === 'oauth') expect(tool.auth.scopes?.length, tool.name).toBeGreaterThan(0);
      for (const action of tool.actions) {
        expect(action.description.length, `${tool.name}.${action.name}`).toBeGreaterThan(0);
        expect(action.parameters.type, `${tool.name}.${action.name}`).toBe('object');
      }
    }

    const search = async (q: string) =>
      (await json<{ data: { name: string }[] }>(await server.request('GET', `/v1/tools/marketplace/search?q=${q}`)))
        .body.data;
    expect((await search('github'))[0]?.name).toBe('github');
    expect((await search('create_issue')).map((tool) => tool.name)).toEqual(['github']);
    expect(await search('no-such-thing-anywhere')).toEqual([]);
    expect((await server.request('GET', '/v1/tools/marketplace/search')).status).toBe(400);
  });

  it('installs once however often it is asked, lists and gets the installation, and uninstalls it', async () => {
    const first = await json<{ name: string; createdAt: string; kind: string }>(
      await server.request('POST', '/v1/tools/github/install'),
    );
    expect(first).toMatchObject({ status: 200, body: { name: 'github', kind: 'marketplace' } });
    const again = await json<{ createdAt: string }>(await server.request('POST', '/v1/tools/github/install'));
    expect(again.body.createdAt).toBe(first.body.createdAt);
    const audit = await server.running.db.kysely
      .selectFrom('audit_log')
      .select('event')
      .where('event', '=', 'tool.installed')
      .execute();
    expect(audit).toHaveLength(1);
    const listed = await json<{ data: { name: string }[] }>(await server.request('GET', '/v1/tools'));
    expect(listed.body.data.map((tool) => tool.name)).toEqual(['github']);
    const marketplace = await json<{ data: { name: string; installed: boolean }[] }>(
      await server.request('GET', '/v1/tools/marketplace'),
    );
    expect(marketplace.body.data.find((tool) => tool.name === 'github')?.installed).toBe(true);

    expect((await server.request('DELETE', '/v1/tools/github/install')).status).toBe(200);
    expect((await json<{ data: unknown[] }>(await server.request('GET', '/v1/tools'))).body.data).toEqual([]);
    expect(await failure(json(await server.request('GET', '/v1/tools/github')))).toMatchObject({
      status: 404,
      code: 'tool_not_found',
    });
    expect((await server.request('DELETE', '/v1/tools/github/install')).status).toBe(404);
    expect(await failure(json(await server.request('POST', '/v1/tools/no-such-tool/install')))).toMatchObject({
      status: 404,
      code: 'tool_not_found',
    });
    expect((await server.request('POST', '/v1/tools/..%2Fsecrets/install')).status).toBe(400);
    expect((await server.request('GET', '/v1/tools/custom')).status).toBe(400);
  });

  it('refuses a call it cannot run before anything runs: not installed, unknown action, params off the schema, no credentials', async () => {
    const before = github.requests.length;
    expect(await failure(execute({ action: 'list_repos' }))).toMatchObject({ status: 404, code: 'tool_not_found' });
    await server.request('POST', '/v1/tools/github/install');
    expect(await failure(execute({ action: 'drop_everything' }))).toMatchObject({
      status: 404,
      code: 'tool_action_not_found',
    });
    const invalid = await failure(execute({ action: 'list_repos', params: { perPage: 0, extra: true } }));
    expect(invalid).toMatchObject({ status: 400, code: 'tool_params_invalid' });
    expect(JSON.stringify(invalid.error.details)).toContain('perPage');
    expect(JSON.stringify(invalid.error.details)).toContain('additional');
    const missing = await failure(execute({ action: 'list_repos', params: {} }));
    expect(missing).toMatchObject({
      status: 400,
      code: 'tool_credentials_missing',
      error: { details: { missing: ['token'] } },
    });
    expect(missing.error.message).toMatch(/credentials.*PUT \/v1\/tools\/\{name\}\/credentials.*secret/);
    expect(missing.error.message).toContain('connect one with `runtools oauth connect github`');
    expect(await failure(execute({ action: 'list_repos', credentials: { password: 'x' } }))).toMatchObject({
      status: 400,
      code: 'validation_failed',
    });
    expect(github.requests.length).toBe(before);
  });

  it('runs list_repos verbatim with a token passed with the call, and pages as GitHub pages', async () => {
    const { status, body } = await execute({ action: 'list_repos', params: {}, credentials: { token: github.token } });
    expect(status).toBe(200);
    const answer = body as unknown as { result: { repos: { fullName: string }[]; nextPage: number | null } };
    expect(answer.result.repos.map((repo) => repo.fullName)).toEqual(['octo/repo-0', 'octo/repo-1', 'octo/repo-2']);
    expect(answer.result.nextPage).toBeNull();
    expect(github.requests.at(-1)?.authorization).toBe(`token ${github.token}`);
    const paged = await execute({ action: 'list_repos', params: { perPage: 2 }, credentials: { token: github.token } });
    expect((paged.body as unknown as { result: { nextPage: number } }).result.nextPage).toBe(2);
  });

  it('resolves credentials in order: the call’s own, then the stored value, then a mapped secret', async () => {
    const tokenSent = () => github.requests.at(-1)?.authorization;
    // Stored: sealed at rest, shown as configured but never returned.
    const stored = await json<{ credentials: { configured: Record<string, string> } }>(
      await server.request('PUT', '/v1/tools/github/credentials', { body: { credentials: { token: github.token } } }),
    );
    expect(stored.body.credentials.configured).toEqual({ token: 'stored' });
    expect(JSON.stringify(stored.body)).not.toContain(github.token);
    const row = await server.running.db.kysely.selectFrom('tool_credentials').selectAll().executeTakeFirstOrThrow();
    expect(row.ciphertext).not.toContain(github.token);
    expect((await execute({ action: 'get_repo', params: { owner: 'octo', repo: 'repo-1' } })).status).toBe(200);
    expect(tokenSent()).toBe(`token ${github.token}`);

    // The call's own credential wins over the stored one.
    const overridden = await failure(
      execute({ action: 'get_repo', params: { owner: 'octo', repo: 'repo-1' }, credentials: { token: 'wrong' } }),
    );
    expect(overridden).toMatchObject({ status: 502, code: 'tool_auth_failed' });
    expect(overridden.error.message).toContain('Bad credentials');
    expect(tokenSent()).toBe('token wrong');

    // A field mapped to a secret reads the secret at each call.
    await server.request('POST', '/v1/secrets', { body: { name: 'GH_TOKEN', value: github.token, category: 'tool' } });
    const mapped = await json<{ credentials: { configured: Record<string, string> } }>(
      await server.request('PUT', '/v1/tools/github/credentials', {
        body: { credentials: { token: { secret: 'GH_TOKEN' } } },
      }),
    );
    expect(mapped.body.credentials.configured).toEqual({ token: 'secret' });
    expect(
      (await execute({ action: 'get_file_contents', params: { owner: 'octo', repo: 'repo-0', path: 'README.md' } }))
        .body,
    ).toMatchObject({
      result: { type: 'file', content: 'hello world' },
    });
    await server.request('DELETE', '/v1/secrets/GH_TOKEN');
    expect(await failure(execute({ action: 'list_repos' }))).toMatchObject({ code: 'tool_credentials_missing' });

    // null removes the field; an unknown field is refused.
    const removed = await json<{ credentials: { configured: Record<string, string> } }>(
      await server.request('PUT', '/v1/tools/github/credentials', { body: { credentials: { token: null } } }),
    );
    expect(removed.body.credentials.configured).toEqual({});
    expect(
      (await server.request('PUT', '/v1/tools/github/credentials', { body: { credentials: { password: 'x' } } }))
        .status,
    ).toBe(400);
  });

  it("maps GitHub's refusals to tool errors: rate limit with retry-after, a missing repository", async () => {
    const limited = await failure(execute({ action: 'list_repos', credentials: { token: 'rate-limited' } }));
    expect(limited).toMatchObject({ status: 429, code: 'tool_rate_limited' });
    expect(limited.error.details?.retryAfterSeconds).toEqual(expect.any(Number));
    const missing = await failure(
      execute({ action: 'get_repo', params: { owner: 'octo', repo: 'nope' }, credentials: { token: github.token } }),
    );
    expect(missing).toMatchObject({ status: 404, code: 'tool_not_found', error: { details: { upstreamStatus: 404 } } });
    const created = await execute({
      action: 'create_issue',
      params: { owner: 'octo', repo: 'repo-0', title: 'Found a bug', labels: ['bug'] },
      credentials: { token: github.token },
    });
    expect(created.body).toMatchObject({ result: { number: 1, title: 'Found a bug', labels: ['bug'] } });
    expect(github.issues).toEqual([{ number: 1, title: 'Found a bug', body: null, labels: ['bug'] }]);
  });

  it('records every call with who made it and how it ended, never its credentials, newest first', async () => {
    const me = (await (await server.request('GET', '/v1/me')).json()) as { key: { id: string } };
    const { body } = await json<{
      data: {
        tool: string;
        action: string;
        status: string;
        errorCode: string | null;
        principal: { kind: string; id: string };
      }[];
    }>(await server.request('GET', '/v1/tools/executions?limit=3'));
    expect(body.data.map((execution) => [execution.action, execution.status, execution.errorCode])).toEqual([
      ['create_issue', 'succeeded', null],
      ['get_repo', 'failed', 'tool_not_found'],
      ['list_repos', 'failed', 'tool_rate_limited'],
    ]);
    expect(body.data[0]?.principal).toEqual({ kind: 'key', id: me.key.id });
    const failed = await json<{ data: { status: string }[] }>(
      await server.request('GET', '/v1/tools/executions?status=failed&limit=1000'),
    );
    expect(failed.body.data.length).toBeGreaterThan(0);
    expect(failed.body.data.every((execution) => execution.status === 'failed')).toBe(true);
    const rows = await server.running.db.kysely.selectFrom('tool_executions').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(github.token);
    expect(JSON.stringify(rows)).not.toContain('wrong');
  });

  it('keeps one org’s installations, credentials and calls from another, and runs a call only with tools:execute', async () => {
    const outsider = await json<{ apiKey: { key: string } }>(
      await server.request('POST', '/v1/orgs', { body: { name: 'Other tools org' } }),
    );
    const key = outsider.body.apiKey.key;
    expect((await json<{ data: unknown[] }>(await server.request('GET', '/v1/tools', { key }))).body.data).toEqual([]);
    expect(await failure(execute({ action: 'list_repos', credentials: { token: github.token } }, key))).toMatchObject({
      status: 404,
      code: 'tool_not_found',
    });
    expect(
      (await json<{ data: unknown[] }>(await server.request('GET', '/v1/tools/executions', { key }))).body.data,
    ).toEqual([]);

    const reader = await json<{ key: string }>(
      await server.request('POST', '/v1/auth/keys', {
        body: { name: 'tools reader', scopes: ['tools:read', 'tools:write'] },
      }),
    );
    expect(
      await failure(execute({ action: 'list_repos', credentials: { token: github.token } }, reader.body.key)),
    ).toMatchObject({
      status: 403,
      code: 'insufficient_scope',
    });
    const member = await addMember(server, 'tool-runner@example.com', 'member');
    const runner = await json<{ key: string }>(
      await server.request('POST', '/v1/auth/keys', {
        key: member.apiKey.key,
        body: { name: 'runs tools', scopes: ['tools:execute'] },
      }),
    );
    expect(
      (await execute({ action: 'list_repos', credentials: { token: github.token } }, runner.body.key)).status,
    ).toBe(200);
  });
});
