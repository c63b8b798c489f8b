import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember } from '../../../../test/support/members.js';
import { startTestServer, type TestServer } from '../../../../test/support/server.js';

/** A built dashboard of two files, so what is served can be checked byte for byte. */
function fakeDashboard(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runtools-dashboard-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>RunTools</title><div id="root"></div>');
  writeFileSync(join(dir, 'assets', 'index-abc123.js'), `console.log(${JSON.stringify('x'.repeat(4000))});`);
  writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  return dir;
}

type Session = { id: string; csrfToken: string; scopes: string[]; expiresAt: string; role: string };

describe('dashboard sessions', () => {
  let server: TestServer;
  const dashboardDir = fakeDashboard();

  beforeAll(async () => {
    server = await startTestServer({ RUNTOOLS_DASHBOARD_DIR: dashboardDir, RUNTOOLS_SIGN_IN_RATE_PER_MINUTE: '1000' });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dashboardDir, { recursive: true, force: true });
  });

  const signIn = async (body: unknown) => {
    const response = await server.request('POST', '/v1/dashboard/sessions', { key: null, body });
    const setCookie = response.headers.get('set-cookie');
    return { response, setCookie, cookie: setCookie?.split(';')[0] ?? '', body: (await response.json()) as Session };
  };
  /** A request as the browser holding `cookie` makes it (no key), with `csrf` when given. */
  const asBrowser = (
    method: string,
    path: string,
    cookie: string,
    options: { csrf?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) =>
    server.request(method, path, {
      key: null,
      body: options.body,
      headers: { cookie, ...(options.csrf ? { 'x-csrf-token': options.csrf } : {}), ...options.headers },
    });
  const code = async (response: Response) => ((await response.json()) as { error?: { code: string } }).error?.code;

  it('signs in with an API key: an HttpOnly, SameSite=Strict cookie whose session has the key’s scopes', async () => {
    const { response, setCookie, cookie, body } = await signIn({ apiKey: server.adminKey });
    expect(response.status).toBe(201);
    expect(setCookie).toMatch(
      /^runtools_session=rts_[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/,
    );
    // Served over http: no Secure flag (a browser would drop the cookie), and the key is in no header or body.
    expect(JSON.stringify(body)).not.toContain(server.adminKey);
    expect(body.role).toBe('owner');
    expect(body.scopes).toContain('secrets:write');
    const session = await asBrowser('GET', '/v1/dashboard/session', cookie);
    expect(session.status).toBe(200);
    expect(((await session.json()) as Session).csrfToken).toBe(body.csrfToken);
    const me = await asBrowser('GET', '/v1/me', cookie);
    expect(((await me.json()) as { member: { email: string } }).member.email).toBe('admin@localhost');
  });

  it('refuses a wrong or malformed key and sets no cookie', async () => {
    for (const apiKey of ['rt_aaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'not a key']) {
      const { response, setCookie } = await signIn({ apiKey });
      expect([response.status, setCookie]).toEqual([401, null]);
    }
    const { response } = await signIn({ apiKey: server.adminKey, extra: true });
    expect(response.status).toBe(400);
  });

  it('needs the CSRF token and this origin for every change, and changes nothing without them', async () => {
    const { cookie, body } = await signIn({ apiKey: server.adminKey });
    const create = (headers: { csrf?: string; origin?: string }) =>
      asBrowser('POST', '/v1/secrets', cookie, {
        ...(headers.csrf ? { csrf: headers.csrf } : {}),
        headers: headers.origin ? { origin: headers.origin } : {},
        body: { name: 'CSRF_PROBE', value: 'x' },
      });
    for (const attempt of [{}, { csrf: 'A'.repeat(43) }, { csrf: body.csrfToken, origin: 'http://evil.example' }]) {
      const response = await create(attempt);
      expect([response.status, await code(response)]).toEqual([403, 'csrf_failed']);
    }
    const list = await server.request('GET', '/v1/secrets');
    expect(JSON.stringify(await list.json())).not.toContain('CSRF_PROBE');
    const made = await create({ csrf: body.csrfToken, origin: server.url });
    expect(made.status).toBe(201);
    // The token of one session does not work with another's cookie.
    const other = await signIn({ apiKey: server.adminKey });
    const crossed = await asBrowser('DELETE', '/v1/secrets/CSRF_PROBE', other.cookie, { csrf: body.csrfToken });
    expect([crossed.status, await code(crossed)]).toEqual([403, 'csrf_failed']);
  });

  it('acts with no more than its key: a narrow key’s session is refused what the key is refused', async () => {
    const created = await server.request('POST', '/v1/auth/keys', {
      body: { name: 'narrow', scopes: ['sandboxes:read'] },
    });
    const { key } = (await created.json()) as { key: string };
    const { cookie, body } = await signIn({ apiKey: key });
    expect(body.scopes).toEqual(['sandboxes:read']);
    const refused = await asBrowser('POST', '/v1/secrets', cookie, {
      csrf: body.csrfToken,
      body: { name: 'NARROW', value: 'x' },
    });
    expect([refused.status, await code(refused)]).toEqual([403, 'insufficient_scope']);
    // Nor can it mint a key broader than itself, or a sign-in link at all.
    const minted = await asBrowser('POST', '/v1/auth/keys', cookie, {
      csrf: body.csrfToken,
      body: { name: 'wider', scopes: ['*'] },
    });
    expect(minted.status).toBe(403);
    const link = await asBrowser('POST', '/v1/dashboard/sign-in-links', cookie, { csrf: body.csrfToken, body: {} });
    expect([link.status, await code(link)]).toEqual([403, 'key_required']);
  });

  it('ends with its key: revoking the key signs its sessions out', async () => {
    const created = await server.request('POST', '/v1/auth/keys', { body: { name: 'doomed', scopes: ['*'] } });
    const { key, id } = (await created.json()) as { key: string; id: string };
    const { cookie } = await signIn({ apiKey: key });
    expect((await asBrowser('GET', '/v1/sandboxes', cookie)).status).toBe(200);
    expect((await server.request('DELETE', `/v1/auth/keys/${id}`)).status).toBe(200);
    const after = await asBrowser('GET', '/v1/sandboxes', cookie);
    expect([after.status, await code(after)]).toEqual([401, 'api_key_revoked']);
  });

  it('signs out: the cookie is cleared and the session no longer works', async () => {
    const { cookie, body } = await signIn({ apiKey: server.adminKey });
    const refused = await asBrowser('DELETE', '/v1/dashboard/session', cookie);
    expect([refused.status, await code(refused)]).toEqual([403, 'csrf_failed']);
    const out = await asBrowser('DELETE', '/v1/dashboard/session', cookie, { csrf: body.csrfToken });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toMatch(/^runtools_session=; .*Max-Age=0/);
    const after = await asBrowser('GET', '/v1/dashboard/session', cookie);
    expect([after.status, await code(after)]).toEqual([401, 'session_invalid']);
  });

  it('refuses forged, malformed and expired cookies with 401 session_invalid', async () => {
    for (const cookie of [`runtools_session=rts_${'A'.repeat(43)}`, 'runtools_session=garbage', 'runtools_session=']) {
      const response = await asBrowser('GET', '/v1/sandboxes', cookie);
      expect([cookie, response.status]).toEqual([cookie, 401]);
    }
    const { cookie, body } = await signIn({ apiKey: server.adminKey });
    const past = new Date(Date.now() - 1000).toISOString();
    await server.running.db.kysely
      .updateTable('dashboard_sessions')
      .set({ expires_at: past })
      .where('id', '=', body.id)
      .execute();
    const response = await asBrowser('GET', '/v1/sandboxes', cookie);
    expect([response.status, await code(response)]).toEqual([401, 'session_invalid']);
  });

  it('lists a member’s own sessions and ends one; another member’s are out of sight and out of reach', async () => {
    const mine = await signIn({ apiKey: server.adminKey });
    const bob = await addMember(server, 'bob-sessions@example.com', 'admin');
    const bobs = await signIn({ apiKey: bob.apiKey.key });
    const listed = await asBrowser('GET', '/v1/dashboard/sessions', mine.cookie);
    const sessions = ((await listed.json()) as { data: { id: string; current: boolean }[] }).data;
    expect(sessions.find((session) => session.id === mine.body.id)?.current).toBe(true);
    expect(sessions.map((session) => session.id)).not.toContain(bobs.body.id);
    // An admin of the org cannot end the owner's session, nor the owner bob's: sessions are their member's.
    const reach = await asBrowser('DELETE', `/v1/dashboard/sessions/${bobs.body.id}`, mine.cookie, {
      csrf: mine.body.csrfToken,
    });
    expect([reach.status, await code(reach)]).toEqual([404, 'session_not_found']);
    const ended = await server.request('DELETE', `/v1/dashboard/sessions/${mine.body.id}`);
    expect(ended.status).toBe(200);
    expect((await asBrowser('GET', '/v1/sandboxes', mine.cookie)).status).toBe(401);
    expect((await asBrowser('GET', '/v1/sandboxes', bobs.cookie)).status).toBe(200);
  });

  it('signs in once with a sign-in link: a second use, an expired link and a racing browser are refused', async () => {
    const minted = await server.request('POST', '/v1/dashboard/sign-in-links', { body: {} });
    expect(minted.status).toBe(201);
    const { url } = (await minted.json()) as { url: string };
    expect(url.startsWith(`${server.url}/sign-in#rtl_`)).toBe(true);
    const token = url.slice(url.indexOf('#') + 1);
    // Two browsers at once: exactly one session.
    const results = await Promise.all([signIn({ linkToken: token }), signIn({ linkToken: token })]);
    expect(results.map((result) => result.response.status).sort()).toEqual([201, 401]);
    const winner = results.find((result) => result.response.status === 201);
    expect((await asBrowser('GET', '/v1/me', winner?.cookie ?? '')).status).toBe(200);
    const again = await signIn({ linkToken: token });
    expect([again.response.status, again.setCookie]).toEqual([401, null]);
    // Expired before it was used.
    const late = (await (await server.request('POST', '/v1/dashboard/sign-in-links', { body: {} })).json()) as {
      id: string;
      url: string;
    };
    await server.running.db.kysely
      .updateTable('sign_in_links')
      .set({ expires_at: new Date(Date.now() - 1).toISOString() })
      .where('id', '=', late.id)
      .execute();
    const expired = await signIn({ linkToken: late.url.slice(late.url.indexOf('#') + 1) });
    expect([expired.response.status, (expired.body as unknown as { error: { code: string } }).error.code]).toEqual([
      401,
      'sign_in_link_invalid',
    ]);
  });

  it('sends a session over https with Secure and the __Host- prefix', async () => {
    await server.restart({
      RUNTOOLS_DASHBOARD_DIR: dashboardDir,
      RUNTOOLS_SIGN_IN_RATE_PER_MINUTE: '1000',
      RUNTOOLS_PUBLIC_URL: 'https://runtools.example.com',
    });
    const { setCookie, cookie } = await signIn({ apiKey: server.adminKey });
    expect(setCookie).toMatch(/^__Host-runtools_session=rts_.*; Path=\/; HttpOnly; SameSite=Strict; .*Secure$/);
    expect((await asBrowser('GET', '/v1/dashboard/session', cookie)).status).toBe(200);
    const link = (await (await server.request('POST', '/v1/dashboard/sign-in-links', { body: {} })).json()) as {
      url: string;
    };
    expect(link.url.startsWith('https://runtools.example.com/sign-in#rtl_')).toBe(true);
    // Behind a TLS proxy the browser's origin is the public URL's: a change from it is the dashboard's own.
    const { csrfToken } = (await (await asBrowser('GET', '/v1/dashboard/session', cookie)).json()) as Session;
    const behindProxy = await asBrowser('POST', '/v1/secrets', cookie, {
      csrf: csrfToken,
      headers: { origin: 'https://runtools.example.com' },
      body: { name: 'BEHIND_PROXY', value: 'x' },
    });
    expect(behindProxy.status).toBe(201);
    // Over https the cookie without the prefix counts for nothing: a sibling host could have set it.
    const token = cookie.slice(cookie.indexOf('=') + 1);
    const unprefixed = await asBrowser('GET', '/v1/dashboard/session', `runtools_session=${token}`);
    expect([unprefixed.status, await code(unprefixed)]).toEqual([401, 'session_required']);
    await server.restart({ RUNTOOLS_DASHBOARD_DIR: dashboardDir, RUNTOOLS_SIGN_IN_RATE_PER_MINUTE: '1000' });
  });

  it('spends its key’s request budget: signing in again buys no more requests', async () => {
    const env = { RUNTOOLS_DASHBOARD_DIR: dashboardDir, RUNTOOLS_SIGN_IN_RATE_PER_MINUTE: '1000' };
    await server.restart({ ...env, RUNTOOLS_RATE_LIMIT_PER_MINUTE: '6' });
    try {
      const sessions = [await signIn({ apiKey: server.adminKey }), await signIn({ apiKey: server.adminKey })];
      const statuses: number[] = [];
      for (let index = 0; index < 8; index++) {
        const session = sessions[index % 2] as { cookie: string };
        statuses.push((await asBrowser('GET', '/v1/sandboxes', session.cookie)).status);
      }
      // Six a minute for the key, whichever session (or the key itself) spends them.
      expect(statuses.filter((status) => status === 200).length).toBe(6);
      expect(statuses.slice(6)).toEqual([429, 429]);
      expect((await server.request('GET', '/v1/sandboxes')).status).toBe(429);
    } finally {
      await server.restart(env);
    }
  });

  it('serves the dashboard at / and on its own addresses, with a strict CSP; the API keeps its JSON 404', async () => {
    const page = await fetch(`${server.url}/`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="root">');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const deep = await fetch(`${server.url}/sandboxes/sbx_aaaaaaaaaaaaaaaaaaaa`, { headers: { accept: 'text/html' } });
    expect([deep.status, (await deep.text()).includes('id="root"')]).toEqual([200, true]);
    const asset = await fetch(`${server.url}/assets/index-abc123.js`, { headers: { 'accept-encoding': 'gzip' } });
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect(asset.headers.get('content-type')).toContain('text/javascript');
    expect((await asset.text()).startsWith('console.log(')).toBe(true);
    const raw = await import('node:http').then(
      (http) =>
        new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
          http
            .get(`${server.url}/assets/index-abc123.js`, { headers: { 'accept-encoding': 'gzip' } }, (response) => {
              const chunks: Buffer[] = [];
              response.on('data', (chunk: Buffer) => chunks.push(chunk));
              response.on('end', () =>
                resolve({ encoding: response.headers['content-encoding'], body: Buffer.concat(chunks) }),
              );
            })
            .on('error', reject);
        }),
    );
    expect(raw.encoding).toBe('gzip');
    expect(gunzipSync(raw.body).toString().startsWith('console.log(')).toBe(true);
    // Nothing outside the built files: a traversal names no file (at most the app's page), a missing asset is a
    // 404, and the API stays JSON.
    for (const path of ['/assets/../../package.json', '/assets/%2e%2e/%2e%2e/package.json', '/%2e%2e/package.json']) {
      const response = await fetch(`${server.url}${path}`, { headers: { accept: 'text/html' } });
      const text = await response.text();
      expect([path, text.includes('"name"'), response.status === 404 || text.includes('id="root"')]).toEqual([
        path,
        false,
        true,
      ]);
    }
    const missing = await fetch(`${server.url}/assets/nope.js`, { headers: { accept: 'text/html' } });
    expect(missing.status).toBe(404);
    const api = await fetch(`${server.url}/v1/no-such-route`, { headers: { accept: 'text/html' } });
    expect([api.status, await code(api)]).toEqual([404, 'route_not_found']);
  });

  it('limits sign-in attempts per address with 429 and Retry-After', async () => {
    await server.restart({ RUNTOOLS_DASHBOARD_DIR: dashboardDir, RUNTOOLS_SIGN_IN_RATE_PER_MINUTE: '10' });
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let attempt = 0; attempt < 12; attempt++) {
      const { response } = await signIn({ apiKey: 'rt_aaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
      statuses.push(response.status);
      if (response.status === 429) limited ??= response;
    }
    expect(statuses).toEqual([...Array(10).fill(401), 429, 429]);
    expect(limited?.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('keeps at most 50 live sessions a member: signing in past it ends the oldest', async () => {
    await server.restart({ RUNTOOLS_DASHBOARD_DIR: dashboardDir, RUNTOOLS_SIGN_IN_RATE_PER_MINUTE: '1000' });
    const first = await signIn({ apiKey: server.adminKey });
    for (let index = 0; index < 50; index++) await signIn({ apiKey: server.adminKey });
    const listed = (await (await server.request('GET', '/v1/dashboard/sessions?limit=100')).json()) as {
      data: { id: string }[];
    };
    expect(listed.data.length).toBe(50);
    expect(listed.data.map((session) => session.id)).not.toContain(first.body.id);
    expect((await asBrowser('GET', '/v1/sandboxes', first.cookie)).status).toBe(401);
  });

  it('makes what a session starts act as its key: an invitation it sends is accepted, a run it starts resumes without it', async () => {
    await server.restart({ RUNTOOLS_DASHBOARD_DIR: dashboardDir, RUNTOOLS_SIGN_IN_RATE_PER_MINUTE: '1000' });
    const { cookie, body } = await signIn({ apiKey: server.adminKey });
    const invited = await asBrowser('POST', '/v1/invitations', cookie, {
      csrf: body.csrfToken,
      body: { email: 'carol@example.com', role: 'member' },
    });
    expect(invited.status).toBe(201);
    const { token } = (await invited.json()) as { token: string };
    const joined = await server.request('POST', '/v1/invitations/sign-up', { key: null, body: { token } });
    expect(joined.status).toBe(201);
    // A workflow run waiting for approval, started by the session; the session ends and its row is swept;
    // approved, the run goes on as the session's key.
    const saved = await asBrowser('POST', '/v1/workflows', cookie, {
      csrf: body.csrfToken,
      body: {
        name: 'Session gate',
        graph: {
          nodes: [
            { id: 'gate', type: 'approval', config: { message: 'go?' } },
            { id: 'out', type: 'output', config: { expression: '"went"' } },
          ],
          edges: [{ source: 'gate', target: 'out', condition: true }],
        },
      },
    });
    expect(saved.status).toBe(200);
    const started = await asBrowser('POST', '/v1/workflows/session-gate/runs', cookie, {
      csrf: body.csrfToken,
      body: { version: 'draft', input: {} },
    });
    expect(started.status).toBe(201);
    const { runId } = (await started.json()) as { runId: string };
    let approvalId: string | undefined;
    for (let tries = 0; tries < 200 && !approvalId; tries++) {
      const approvals = (await (await server.request('GET', `/v1/workflow-approvals?runId=${runId}`)).json()) as {
        data: { id: string }[];
      };
      approvalId = approvals.data[0]?.id;
      if (!approvalId) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await server.running.db.kysely.deleteFrom('dashboard_sessions').where('id', '=', body.id).execute();
    const approved = await server.request('POST', `/v1/workflow-approvals/${approvalId}/resolve`, {
      body: { approved: true },
    });
    expect(approved.status).toBe(200);
    await expect
      .poll(
        async () =>
          ((await (await server.request('GET', `/v1/workflow-runs/${runId}`)).json()) as { status: string }).status,
        { timeout: 20_000 },
      )
      .toBe('completed');
  });
});
