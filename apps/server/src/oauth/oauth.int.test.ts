import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunEvent, RunTools } from '@runtools/sdk';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../../../../test/support/browser.js';
import { runCli, startCli } from '../../../../test/support/cli.js';
import { type SlackServer, startSlackServer } from '../../../../test/support/fakes/slack.js';
import { type GithubServer, startGithubServer } from '../../../../test/support/github-server.js';
import { addMember } from '../../../../test/support/members.js';
import { type ModelServer, startModelServer } from '../../../../test/support/model-server.js';
import { type OAuthServer, startOAuthServer } from '../../../../test/support/oauth-server.js';
import { testBaseRootfs } from '../../../../test/support/rootfs.js';
import { startTestServer, type TestServer } from '../../../../test/support/server.js';

/**
 * The OAuth broker against a real authorization server on loopback, through the real CLI and a real headless
 * Chromium that follows the authorization URL and gives (or refuses) consent. GitHub is the provider: its
 * endpoints point at the local authorization server, its API at the local GitHub, which accepts the tokens
 * the authorization server issues.
 */
describe('OAuth broker: connecting accounts, refreshing, revoking, and tools using the connection', () => {
  let oauth: OAuthServer;
  let github: GithubServer;
  let server: TestServer;
  let browser: Browser;
  let model: ModelServer;
  let slack: SlackServer;
  let rt: RunTools;
  let configDir: string;
  const clientId = 'runtools-test-app';
  const clientSecret = 'runtools-test-secret-0123456789';
  const cli = (args: string[]) =>
    runCli(args, { configDir, env: { RUNTOOLS_API_URL: server.url, RUNTOOLS_API_KEY: server.adminKey } });

  /** Opens the authorization URL in a fresh page, shows the consent page, and answers it. */
  async function consent(url: string, answer: 'Allow' | 'Deny'): Promise<Page> {
    const page = await browser.newPage();
    await page.goto(url);
    expect(await page.getByRole('button', { name: answer }).count()).toBe(1);
    await Promise.all([page.waitForURL(/\/v1\/oauth\/callback/), page.getByRole('button', { name: answer }).click()]);
    return page;
  }

  /** The connection's stored row, as the database has it. */
  const stored = (id: string) =>
    server.running.db.kysely.selectFrom('oauth_connections').selectAll().where('id', '=', id).executeTakeFirst();

  /** Makes the connection's access token expire now (what an hour's wait would do). */
  const expire = (id: string) =>
    server.running.db.kysely
      .updateTable('oauth_connections')
      .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
      .where('id', '=', id)
      .execute();

  beforeAll(async () => {
    await testBaseRootfs();
    model = await startModelServer();
    oauth = await startOAuthServer();
    github = await startGithubServer();
    slack = await startSlackServer();
    oauth.onAccessToken((token) => github.acceptToken(token));
    server = await startTestServer({
      RUNTOOLS_TOOL_GITHUB_BASE_URL: github.url,
      RUNTOOLS_TOOL_SLACK_BASE_URL: slack.url,
      RUNTOOLS_OAUTH_GITHUB_AUTHORIZE_URL: oauth.authorizeUrl,
      RUNTOOLS_OAUTH_GITHUB_TOKEN_URL: oauth.tokenUrl,
      RUNTOOLS_OAUTH_GITHUB_USERINFO_URL: `${oauth.url}/user`,
      // GitHub's own revocation: DELETE /applications/{client_id}/token, which the authorization server speaks.
      RUNTOOLS_OAUTH_GITHUB_REVOKE_URL: `${oauth.url}/applications/{client_id}/token`,
      // The other providers at the same server, each with its own identity document and revocation.
      ...providerEndpoints(oauth),
    });
    oauth.addClient({
      clientId,
      clientSecret,
      redirectUris: [`${server.url}/v1/oauth/callback`],
      name: 'RunTools test',
    });
    rt = new RunTools({ apiKey: server.adminKey, baseUrl: server.url });
    configDir = mkdtempSync(join(tmpdir(), 'runtools-oauth-cli-'));
    browser = await launchBrowser();
  }, 15 * 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await github?.close();
    await slack?.close();
    await oauth?.close();
    await model?.close();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  let connectionId = '';

  it('connects GitHub through `runtools oauth connect` and a browser, and github.list_repos uses the connection', async () => {
    // The operator registers the app; the secret comes on standard input, never on the command line.
    const app = await runCli(['oauth', 'app', 'set', 'github', '--client-id', clientId, '--client-secret', '-'], {
      configDir,
      input: `${clientSecret}\n`,
      env: { RUNTOOLS_API_URL: server.url, RUNTOOLS_API_KEY: server.adminKey },
    });
    expect(app.code, app.stderr).toBe(0);
    expect(app.stdout).toContain(`callback URL (register it with the provider): ${server.url}/v1/oauth/callback`);
    const row = await server.running.db.kysely.selectFrom('oauth_apps').selectAll().executeTakeFirstOrThrow();
    expect(row.client_secret).not.toContain(clientSecret);

    const connect = startCli(['oauth', 'connect', 'github', '--no-open'], {
      configDir,
      env: { RUNTOOLS_API_URL: server.url, RUNTOOLS_API_KEY: server.adminKey },
    });
    const url = await waitFor(() => /^(http\S+)$/m.exec(connect.stdout())?.[1]);
    const authorize = new URL(url);
    expect(authorize.origin + authorize.pathname).toBe(oauth.authorizeUrl);
    expect(Object.fromEntries(authorize.searchParams)).toMatchObject({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: `${server.url}/v1/oauth/callback`,
      code_challenge_method: 'S256',
      scope: 'read:user repo',
    });
    expect(authorize.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const page = await consent(url, 'Allow');
    expect(await page.locator('#title').textContent()).toBe('GitHub connected');
    expect(await page.locator('#message').textContent()).toContain(
      '(octocat) is connected for admin@localhost in the RunTools org',
    );
    await page.close();
    const done = await connect.result;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(/connected github as octocat \((oac_[a-z2-7]{20}); scopes: read:user repo\)/);
    connectionId = /(oac_[a-z2-7]{20})/.exec(done.stdout)?.[1] ?? '';
    // The exchange sent the flow's verifier, and the client's credentials in the form.
    const exchange = oauth.tokenRequests.find((request) => request.grant_type === 'authorization_code');
    expect(exchange).toMatchObject({
      code_verifier: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      authMethod: 'client_secret_post',
    });

    const connection = await rt.auth.connections.get(connectionId);
    expect(connection).toMatchObject({
      provider: 'github',
      status: 'active',
      scopes: ['read:user', 'repo'],
      account: { login: 'octocat', email: 'octocat@example.test' },
      isDefault: false,
      error: null,
    });
    expect(JSON.stringify(connection)).not.toMatch(/token/i);
    const tokens = await stored(connectionId);
    const issued = oauth.accessTokens();
    expect(issued.length).toBeGreaterThan(0);
    for (const token of issued) expect(JSON.stringify(tokens)).not.toContain(token);

    await rt.tools.install('github');
    const { result } = await rt.tools.execute('github', { action: 'list_repos', params: {} });
    expect((result as { repos: { fullName: string }[] }).repos.length).toBeGreaterThan(0);
    const listed = await cli(['oauth', 'list']);
    expect(listed.stdout).toMatch(new RegExp(`${connectionId}\\s+github\\s+active\\s+octocat`));
  });

  it("runs an agent's github tool calls with its caller's connection", async () => {
    await rt.secrets.set('MOCK_KEY', 'sk-mock', { category: 'provider' });
    await rt.providers.create({
      name: 'mock',
      type: 'openai-compatible',
      baseUrl: model.openaiBaseUrl,
      apiKeySecret: 'MOCK_KEY',
    });
    await rt.agents.create({
      slug: 'oauth-reader',
      model: 'mock/m',
      tools: ['github.list_repos'],
      sandbox: { runtime: 'container' },
    });
    model.script([{ toolCalls: [{ id: 'r1', name: 'github_list_repos', input: {} }] }, { text: 'Listed.' }]);
    const events: RunEvent[] = [];
    for await (const event of rt.agent.run('oauth-reader', 'List my repositories.', { stream: true }))
      events.push(event);
    const result = events.find(
      (event): event is Extract<RunEvent, { type: 'tool-result' }> => event.type === 'tool-result',
    );
    expect(result).toMatchObject({ toolName: 'github_list_repos', isError: false });
    expect((result?.output as { repos: unknown[] } | undefined)?.repos.length).toBeGreaterThan(0);
    expect(events.at(-1)).toMatchObject({ type: 'done', status: 'completed' });
  }, 120_000);

  it("runs an agent with tools ['github', 'slack'] that lists a repository's issues and posts their summary", async () => {
    await rt.tools.install('slack');
    await rt.tools.credentials.set('slack', { token: slack.token });
    await rt.agents.create({
      slug: 'reporter',
      model: 'mock/m',
      tools: ['github', 'slack'],
      sandbox: { runtime: 'container' },
    });
    const general = slack.channels.general.id;
    // The model reads what the tools answered: the summary it posts is made of the issues GitHub listed.
    model.script((request) => {
      const messages = (request.body.messages ?? []) as { role: string; content?: unknown }[];
      const results = messages.filter((message) => message.role === 'tool');
      if (results.length === 0) {
        return { toolCalls: [{ id: 'i1', name: 'github_list_issues', input: { owner: 'octo', repo: 'repo-1' } }] };
      }
      if (results.length === 1) {
        const listed = JSON.parse(String(results[0]?.content)) as { issues: { number: number; title: string }[] };
        const text = `octo/repo-1: ${listed.issues.map((issue) => `#${issue.number} ${issue.title}`).join('; ')}`;
        return { toolCalls: [{ id: 's1', name: 'slack_post_message', input: { channel: general, text } }] };
      }
      return { text: 'Posted the summary to #general.' };
    });
    try {
      const run = await rt.agent.run('reporter', 'Summarize the open issues of octo/repo-1 in #general.');
      expect(run.status).toBe('completed');
      // The open pull request GitHub lists among the issues is in the summary; the closed one is not.
      const posted = slack.messagesOf(general).at(-1);
      expect(posted?.text).toMatch(/^octo\/repo-1: #1 Add CI workflow/);
      expect(posted?.text).not.toContain('Old experiment');
      expect(run.text).toBe('Posted the summary to #general.');
    } finally {
      model.reset();
    }
  }, 120_000);

  it('refreshes an expiring token once for twenty concurrent calls, with the rotated refresh token kept', async () => {
    await expire(connectionId);
    const before = oauth.refreshCount;
    const refreshBefore = (await stored(connectionId))?.refresh_token;
    oauth.setRefreshDelay(300);
    try {
      const calls = await Promise.all(
        Array.from({ length: 20 }, () => rt.tools.execute('github', { action: 'list_repos', params: {} })),
      );
      expect(calls.every((call) => Array.isArray((call.result as { repos: unknown[] }).repos))).toBe(true);
    } finally {
      oauth.setRefreshDelay(0);
    }
    expect(oauth.refreshCount - before).toBe(1);
    const after = await stored(connectionId);
    expect(after?.refresh_token).not.toBe(refreshBefore);
    expect(Date.parse(after?.expires_at ?? '')).toBeGreaterThan(Date.now() + 60_000);
    // The refreshed token works again on the next call, with no refresh.
    await rt.tools.execute('github', { action: 'list_repos', params: {} });
    expect(oauth.refreshCount - before).toBe(1);
  });

  it("keeps the connection when a refresh fails for the app's own credentials, and names the fix", async () => {
    await expire(connectionId);
    await rt.auth.apps.set('github', { clientId, clientSecret: 'a-mistyped-secret' });
    try {
      const error = await rt.tools.execute('github', { action: 'list_repos', params: {} }).catch((caught) => caught);
      expect(error).toMatchObject({ status: 502, code: 'oauth_exchange_failed' });
      expect((error as Error).message).toContain('runtools oauth app set github');
      expect((await rt.auth.connections.get(connectionId)).status).toBe('active');
    } finally {
      await rt.auth.apps.set('github', { clientId, clientSecret });
    }
    // With the app fixed, the same refresh token still works.
    const { result } = await rt.tools.execute('github', { action: 'list_repos', params: {} });
    expect((result as { repos: unknown[] }).repos.length).toBeGreaterThan(0);
  });

  it('marks the connection needs_reauth when the provider refuses the refresh, and the call names the fix', async () => {
    await expire(connectionId);
    oauth.rejectRefresh(true);
    try {
      const error = await rt.tools.execute('github', { action: 'list_repos', params: {} }).catch((caught) => caught);
      expect(error).toMatchObject({ status: 403, code: 'oauth_reauth_required' });
      expect((error as Error).message).toContain('runtools oauth connect github');
      expect(await rt.auth.connections.get(connectionId)).toMatchObject({
        status: 'needs_reauth',
        error: { code: 'refresh_refused' },
      });
      // It stays refused without asking the provider again.
      const refreshes = oauth.refreshCount;
      const again = await rt.tools.execute('github', { action: 'list_repos', params: {} }).catch((caught) => caught);
      expect(again).toMatchObject({ code: 'oauth_reauth_required' });
      expect(oauth.refreshCount).toBe(refreshes);
    } finally {
      oauth.rejectRefresh(false);
    }
  });

  it('ends a declined consent with a clear page and a failed connection, storing no token', async () => {
    const started = await rt.auth.connections.create('github');
    const page = await consent(started.authorizationUrl, 'Deny');
    expect(await page.locator('#title').textContent()).toBe('GitHub was not connected');
    expect(await page.locator('#message').textContent()).toContain('declined');
    await page.close();
    const connection = await rt.auth.connections.get(started.connection.id);
    expect(connection).toMatchObject({ status: 'failed', error: { code: 'access_denied' }, account: null });
    const row = await stored(started.connection.id);
    expect([row?.access_token, row?.refresh_token]).toEqual([null, null]);
    // A CLI that waited says so, with the provider's code.
    const waited = await rt.auth.connections.wait(started.connection.id, { timeoutMs: 1000 });
    expect(waited.status).toBe('failed');
  });

  it('refuses a forged, a replayed and an expired state, and a code whose PKCE verifier does not match', async () => {
    const callback = (query: string) => fetch(`${server.url}/v1/oauth/callback?${query}`);
    // Forged: a well-formed state this server did not sign.
    const started = await rt.auth.connections.create('github');
    const state = new URL(started.authorizationUrl).searchParams.get('state') ?? '';
    const forged = await callback(`code=x&state=${state.slice(0, -4)}AAAA`);
    expect(forged.status).toBe(400);
    expect(await forged.text()).toContain('oauth_state_invalid');
    expect((await callback('code=x&state=nonsense')).status).toBe(400);
    expect((await callback('code=x')).status).toBe(400);
    expect((await rt.auth.connections.get(started.connection.id)).status).toBe('pending');

    // Replayed: the provider's redirect, sent a second time after it completed.
    const page = await browser.newPage();
    await page.goto(started.authorizationUrl);
    await Promise.all([page.waitForURL(/\/v1\/oauth\/callback/), page.getByRole('button', { name: 'Allow' }).click()]);
    const redirect = page.url();
    expect(await page.locator('#title').textContent()).toBe('GitHub connected');
    await page.close();
    const replay = await fetch(redirect);
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain('already used');
    expect((await rt.auth.connections.get(started.connection.id)).status).toBe('active');
    await rt.auth.connections.revoke(started.connection.id);

    // Expired: a flow older than its ten minutes.
    const late = await rt.auth.connections.create('github');
    await server.running.db.kysely
      .updateTable('oauth_states')
      .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
      .where('connection_id', '=', late.connection.id)
      .execute();
    const latePage = await consent(late.authorizationUrl, 'Allow');
    expect(await latePage.locator('#message').textContent()).toContain('took too long');
    await latePage.close();
    expect(await rt.auth.connections.get(late.connection.id)).toMatchObject({
      status: 'failed',
      error: { code: 'oauth_state_expired' },
    });

    // A code issued for another challenge: the provider refuses the exchange, nothing is stored.
    const mismatched = await rt.auth.connections.create('github');
    const tampered = new URL(mismatched.authorizationUrl);
    tampered.searchParams.set('code_challenge', 'A'.repeat(43));
    const mismatchedPage = await consent(tampered.toString(), 'Allow');
    expect(await mismatchedPage.locator('#title').textContent()).toBe('GitHub was not connected');
    await mismatchedPage.close();
    const failed = await rt.auth.connections.get(mismatched.connection.id);
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'invalid_grant' } });
    expect((await stored(mismatched.connection.id))?.access_token).toBeNull();
  });

  it("lets an admin set the org's default, which a member without a connection uses; members see only theirs", async () => {
    // A fresh connection for the admin (the first one needs reauthorizing).
    const started = await rt.auth.connections.create('github', { default: true });
    const page = await consent(started.authorizationUrl, 'Allow');
    await page.close();
    expect(await rt.auth.connections.get(started.connection.id)).toMatchObject({ status: 'active', isDefault: true });

    const member = await addMember(server, 'oauth-member@example.test', 'member');
    const memberRt = new RunTools({ apiKey: member.apiKey.key, baseUrl: server.url });
    const { result } = await memberRt.tools.execute('github', { action: 'list_repos', params: {} });
    expect((result as { repos: unknown[] }).repos.length).toBeGreaterThan(0);
    // The member sees the default, not the admin's other connections, and cannot change the default.
    const seen = (await memberRt.auth.connections.list()).map((connection) => connection.id);
    expect(seen).toEqual([started.connection.id]);
    await expect(memberRt.auth.connections.get(connectionId)).rejects.toMatchObject({
      code: 'oauth_connection_not_found',
    });
    await expect(memberRt.auth.connections.setDefault(started.connection.id, false)).rejects.toMatchObject({
      code: 'role_forbidden',
    });
    await expect(memberRt.auth.connections.create('github', { default: true })).rejects.toMatchObject({
      code: 'role_forbidden',
    });
    await expect(memberRt.auth.apps.set('github', { clientId: 'x', clientSecret: 'y' })).rejects.toMatchObject({
      code: 'role_forbidden',
    });
    await expect(memberRt.auth.connections.revoke(started.connection.id)).rejects.toMatchObject({
      code: 'role_forbidden',
    });
    // Nor can an admin make a member's own connection the default (and so use the member's account).
    const membersOwn = await memberRt.auth.connections.create('github');
    await expect(rt.auth.connections.setDefault(membersOwn.connection.id)).rejects.toMatchObject({
      code: 'role_forbidden',
    });
    await memberRt.auth.connections.revoke(membersOwn.connection.id);

    // Unset, the member has no account to use, and the error names the command that fixes it.
    await rt.auth.connections.setDefault(started.connection.id, false);
    const missing = await memberRt.tools
      .execute('github', { action: 'list_repos', params: {} })
      .catch((caught) => caught);
    expect(missing).toMatchObject({ code: 'tool_credentials_missing' });
    expect((missing as Error).message).toContain('runtools oauth connect github');
  });

  it("keeps one org's connections and apps from another org", async () => {
    const other = await rt.orgs.create({ name: 'Other OAuth Org', slug: 'other-oauth-org' });
    const otherRt = new RunTools({ apiKey: other.apiKey.key, baseUrl: server.url });
    await expect(otherRt.auth.connections.get(connectionId)).rejects.toMatchObject({
      code: 'oauth_connection_not_found',
    });
    expect(await otherRt.auth.connections.list()).toEqual([]);
    expect(await otherRt.auth.apps.list()).toEqual([]);
    await expect(otherRt.auth.connections.create('github')).rejects.toMatchObject({
      code: 'oauth_app_not_configured',
    });
    await expect(otherRt.auth.connections.revoke(connectionId)).rejects.toMatchObject({
      code: 'oauth_connection_not_found',
    });
  });

  it.each([
    {
      provider: 'google',
      name: 'Google',
      account: 'octocat@example.test',
      auth: 'client_secret_post',
      revoke: 'revoke',
    },
    { provider: 'slack', name: 'Slack', account: 'octocat', auth: 'client_secret_post', revoke: 'slack' },
    {
      provider: 'microsoft',
      name: 'Microsoft',
      account: 'octocat@example.test',
      auth: 'client_secret_post',
      revoke: null,
    },
    { provider: 'x', name: 'X', account: 'octocat', auth: 'client_secret_basic', revoke: 'revoke' },
    { provider: 'linkedin', name: 'LinkedIn', account: 'The Octocat', auth: 'client_secret_post', revoke: 'revoke' },
  ] as const)(
    'connects $name in its own dialect: authorization parameters, client authentication, identity and revocation',
    async ({ provider, name, account, auth, revoke }) => {
      const app = { clientId: `${provider}-app`, clientSecret: `${provider}-secret-0123456789` };
      oauth.addClient({ ...app, redirectUris: [`${server.url}/v1/oauth/callback`], name: `RunTools on ${name}` });
      await rt.auth.apps.set(provider, app);
      const started = await rt.auth.connections.create(provider);
      const query = new URL(started.authorizationUrl).searchParams;
      const expectedScopes = (await rt.auth.providers()).find((entry) => entry.id === provider)?.scopes ?? [];
      expect(expectedScopes.length).toBeGreaterThan(0);
      // Slack separates scopes with commas, the others with spaces; Google is asked for offline access.
      expect(query.get('scope')).toBe(expectedScopes.join(provider === 'slack' ? ',' : ' '));
      if (provider === 'google') {
        expect([query.get('access_type'), query.get('prompt')]).toEqual(['offline', 'consent']);
        expect(expectedScopes).toEqual(
          expect.arrayContaining(['openid', 'https://www.googleapis.com/auth/gmail.modify']),
        );
      }
      const page = await consent(started.authorizationUrl, 'Allow');
      expect(await page.locator('#title').textContent()).toBe(`${name} connected`);
      await page.close();
      expect(await rt.auth.connections.get(started.connection.id)).toMatchObject({
        status: 'active',
        account: { login: account },
      });
      const exchange = oauth.tokenRequests.findLast(
        (request) => request.grant_type === 'authorization_code' && request.clientId === app.clientId,
      );
      expect(exchange?.authMethod).toBe(auth);
      const revokedBefore = oauth.revoked.length;
      const revoked = await rt.auth.connections.revoke(started.connection.id);
      expect(revoked.revokedAtProvider).toBe(revoke !== null);
      if (revoke) expect(oauth.revoked.slice(revokedBefore).map((entry) => entry.endpoint)).toEqual([revoke]);
      else expect(oauth.revoked.length).toBe(revokedBefore);
      expect(await stored(started.connection.id)).toBeUndefined();
    },
  );

  it('revokes a connection at the provider and deletes its tokens; the next call names the command', async () => {
    const started = await rt.auth.connections.create('github');
    const page = await consent(started.authorizationUrl, 'Allow');
    await page.close();
    const active = await stored(started.connection.id);
    expect(active?.status).toBe('active');
    const revokedBefore = oauth.revoked.length;
    const revoked = await cli(['oauth', 'revoke', started.connection.id]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toBe(`revoked ${started.connection.id}\n`);
    expect(oauth.revoked.length).toBeGreaterThan(revokedBefore);
    expect(await stored(started.connection.id)).toBeUndefined();
    // Revoke the others (the first needs reauthorizing, the former default is active), and none is left.
    for (const connection of await rt.auth.connections.list({ provider: 'github' })) {
      await rt.auth.connections.revoke(connection.id);
    }
    expect(await rt.auth.connections.list()).toEqual([]);
    const error = await rt.tools.execute('github', { action: 'list_repos', params: {} }).catch((caught) => caught);
    expect(error).toMatchObject({ code: 'tool_credentials_missing' });
  });
});

/** Polls `read` until it answers something (the CLI's output arrives in pieces). */
async function waitFor<T>(read: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Every provider but GitHub at the local authorization server, each identity where its shape is served. */
function providerEndpoints(oauth: OAuthServer): Record<string, string> {
  const identity = {
    google: '/userinfo',
    slack: '/api/auth.test',
    microsoft: '/me',
    x: '/2/users/me',
    linkedin: '/userinfo',
  };
  const revoke = { google: '/revoke', slack: '/api/auth.revoke', x: '/revoke', linkedin: '/revoke' };
  const env: Record<string, string> = {};
  for (const [provider, path] of Object.entries(identity)) {
    const prefix = `RUNTOOLS_OAUTH_${provider.toUpperCase()}`;
    env[`${prefix}_AUTHORIZE_URL`] = oauth.authorizeUrl;
    env[`${prefix}_TOKEN_URL`] = oauth.tokenUrl;
    env[`${prefix}_USERINFO_URL`] = `${oauth.url}${path}`;
    const revokePath = revoke[provider as keyof typeof revoke];
    if (revokePath) env[`${prefix}_REVOKE_URL`] = `${oauth.url}${revokePath}`;
  }
  return env;
}
