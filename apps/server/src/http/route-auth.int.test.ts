import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ConcreteScope, concreteScopes, type RouteContract, routes } from '@runtools/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember } from '../../../../test/support/members.js';
import { absentParams, concretePath, type LinkedNode, linkNode } from '../../../../test/support/route-params.js';
import { startTestServer, type TestServer, useSandboxServer } from '../../../../test/support/server.js';

/** The route's path with every parameter a well-formed value that names nothing (one is missing: a throw). */
const samplePath = (path: string) => concretePath(path, absentParams);

const keyRoutes = (Object.entries(routes) as [string, RouteContract][]).filter(
  ([, contract]) => contract.auth === 'key',
);
const scopedRoutes = keyRoutes.filter(([, contract]) => contract.scopes.length > 0);
/** Routes a RunMesh node's token (`rtn_…`) opens in place of a key, and the key routes it must not open. */
const nodeTokenRoutes = keyRoutes.filter(([, contract]) => contract.nodeToken);
const keyOnlyRoutes = keyRoutes.filter(([, contract]) => !contract.nodeToken);

describe('route auth', () => {
  let server: TestServer;
  const keysByScope = new Map<ConcreteScope, string>();
  /** A node of the admin's org, linked through the device flow: its token is a real one. */
  let node: LinkedNode;

  beforeAll(async () => {
    server = await startTestServer();
    for (const scope of concreteScopes) {
      const response = await server.request('POST', '/v1/auth/keys', { body: { name: scope, scopes: [scope] } });
      expect(response.status).toBe(201);
      keysByScope.set(scope, ((await response.json()) as { key: string }).key);
    }
    node = await linkNode(server, 'route-auth');
  });
  afterAll(() => server.close());

  it('serves only routes that are in the spec contract table', () => {
    const contracts = new Set(Object.values(routes).map((contract) => `${contract.method} ${contract.path}`));
    const undocumented = server.running.routes
      .filter((route) => route.method !== 'ALL' && route.path.startsWith('/v1/'))
      .map((route) => `${route.method} ${route.path}`)
      // Besides the table: the OpenAPI document itself, and the OAuth callback (an HTML page for a browser).
      .filter((route) => !contracts.has(route) && !['GET /v1/openapi.json', 'GET /v1/oauth/callback'].includes(route));
    expect(undocumented).toEqual([]);
    for (const contract of contracts) {
      expect(server.running.routes.map((route) => `${route.method} ${route.path}`)).toContain(contract);
    }
  });

  it('declares at least one scope on every key route except whoami, accepting an invitation and a sign-in link', () => {
    // Accepting needs no scope: the key it returns has exactly the accepting key's scopes and expiry. A
    // sign-in link makes a session with exactly the key's scopes.
    expect(keyRoutes.filter(([, contract]) => contract.scopes.length === 0).map(([id]) => id)).toEqual([
      'whoAmI',
      'invitationsAccept',
      'signInLinksCreate',
    ]);
  });

  it.each(keyRoutes)('%s rejects a request without a key with 401 unauthenticated', async (_id, contract) => {
    const response = await server.request(contract.method, samplePath(contract.path), {
      key: null,
      body: contract.body ? {} : undefined,
    });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('unauthenticated');
  });

  it.each(keyRoutes)('%s rejects a well-formed but unknown key with 401 invalid_api_key', async (_id, contract) => {
    const response = await server.request(contract.method, samplePath(contract.path), {
      key: 'rt_aaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      body: contract.body ? {} : undefined,
    });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
  });

  it.each(scopedRoutes)(
    '%s refuses every scope it does not list, and admits each one it does',
    async (_id, contract) => {
      for (const scope of concreteScopes) {
        const key = keysByScope.get(scope);
        // A body the schema rejects: an admitted call stops at validation and never creates anything.
        const response = await server.request(contract.method, samplePath(contract.path), {
          key: key ?? null,
          body: contract.body ? { notAField: true } : undefined,
        });
        const body = (await response.json()) as { error?: { code: string } };
        if (contract.scopes.includes(scope)) {
          // Past the scope check the call succeeds or stops at validation or a missing resource: never a 401 or
          // 403, and never a 500, which would not show that the check let it through.
          const admitted = response.status < 500 && response.status !== 401 && response.status !== 403;
          expect([scope, response.status, body.error?.code, admitted]).toEqual([
            scope,
            response.status,
            body.error?.code,
            true,
          ]);
        } else {
          expect([response.status, body.error?.code, scope]).toEqual([403, 'insufficient_scope', scope]);
        }
      }
    },
  );

  /** The node's token as either header a key may come in. */
  const nodeTokenHeaders = (): Record<string, string>[] => [
    { authorization: `Bearer ${node.nodeToken}` },
    { 'x-api-key': node.nodeToken },
  ];

  it('lets a node token open exactly the routes that say so, and only routes that need a key', () => {
    expect(nodeTokenRoutes.map(([id]) => id).sort()).toEqual(['meshNodeConfig', 'meshRun', 'runsEvents', 'runsGet']);
    const publicWithNodeToken = (Object.entries(routes) as [string, RouteContract][])
      .filter(([, contract]) => contract.auth === 'public' && contract.nodeToken)
      .map(([id]) => id);
    expect(publicWithNodeToken).toEqual([]);
  });

  /** A dashboard session cookie of the admin's key (scopes `*`), and its CSRF token: one for the file. */
  let shared: { cookie: string; csrfToken: string } | undefined;
  const adminSession = async () => {
    if (shared) return shared;
    const response = await server.request('POST', '/v1/dashboard/sessions', {
      key: null,
      body: { apiKey: server.adminKey },
    });
    expect(response.status).toBe(201);
    const cookie = (response.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    shared = { cookie, csrfToken: ((await response.json()) as { csrfToken: string }).csrfToken };
    return shared;
  };
  const sessionRoutes = (Object.entries(routes) as [string, RouteContract][]).filter(
    ([, contract]) => contract.auth === 'session',
  );
  const mutatingKeyRoutes = keyRoutes.filter(([, contract]) => contract.method !== 'GET');

  it.each(mutatingKeyRoutes)(
    '%s refuses a dashboard session without its CSRF token, or from another origin, with 403 csrf_failed',
    async (_id, contract) => {
      const { cookie, csrfToken } = await adminSession();
      for (const headers of [
        { cookie } as Record<string, string>,
        { cookie, 'x-csrf-token': 'A'.repeat(43) },
        { cookie, 'x-csrf-token': csrfToken, origin: 'http://attacker.example' },
      ]) {
        const response = await server.request(contract.method, samplePath(contract.path), {
          key: null,
          headers,
          body: contract.body ? { notAField: true } : undefined,
        });
        const body = (await response.json()) as { error?: { code: string } };
        expect([Object.keys(headers).join('+'), response.status, body.error?.code]).toEqual([
          Object.keys(headers).join('+'),
          403,
          'csrf_failed',
        ]);
      }
      // With its token the same session is past authentication: validation, a missing thing, or done.
      const response = await server.request(contract.method, samplePath(contract.path), {
        key: null,
        headers: { cookie, 'x-csrf-token': csrfToken },
        body: contract.body ? { notAField: true } : undefined,
      });
      expect([response.status === 401 || response.status === 403, response.status < 500]).toEqual([false, true]);
    },
  );

  it.each(sessionRoutes)(
    '%s needs a dashboard session: a key alone gets 401 session_required',
    async (_id, contract) => {
      const response = await server.request(contract.method, samplePath(contract.path));
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('session_required');
    },
  );

  it.each(keyOnlyRoutes)('%s refuses a node token with 401 invalid_api_key', async (_id, contract) => {
    for (const headers of nodeTokenHeaders()) {
      const response = await server.request(contract.method, samplePath(contract.path), {
        key: null,
        headers,
        body: contract.body ? { notAField: true } : undefined,
      });
      const body = (await response.json()) as { error?: { code: string } };
      expect([Object.keys(headers)[0], response.status, body.error?.code]).toEqual([
        Object.keys(headers)[0],
        401,
        'invalid_api_key',
      ]);
    }
  });

  it.each(nodeTokenRoutes)(
    '%s admits a node token, and refuses an unknown one with 401 invalid_node_token',
    async (_id, contract) => {
      // The node's own id where the route names a node: it reads its own config.
      const path = concretePath(contract.path, { ...absentParams, node: node.node.id });
      for (const headers of nodeTokenHeaders()) {
        const response = await server.request(contract.method, path, {
          key: null,
          headers,
          body: contract.body ? { notAField: true } : undefined,
        });
        const body = (await response.json()) as { error?: { code: string } };
        // Past authentication and the scope check: it succeeds or stops at validation or a missing resource.
        const admitted = response.status < 500 && response.status !== 401 && response.status !== 403;
        expect([Object.keys(headers)[0], response.status, body.error?.code, admitted]).toEqual([
          Object.keys(headers)[0],
          response.status,
          body.error?.code,
          true,
        ]);
        if (contract.params && 'node' in contract.params.shape) expect(response.status).toBe(200);
      }
      const unknown = await server.request(contract.method, path, {
        key: null,
        headers: { authorization: `Bearer rtn_${'A'.repeat(43)}` },
        body: contract.body ? { notAField: true } : undefined,
      });
      expect([unknown.status, ((await unknown.json()) as { error: { code: string } }).error.code]).toEqual([
        401,
        'invalid_node_token',
      ]);
    },
  );

  it('accepts the key as "Authorization: Bearer" as well as "X-API-Key"', async () => {
    const bearer = await server.request('GET', '/v1/me', {
      key: null,
      headers: { authorization: `Bearer ${server.adminKey}` },
    });
    expect(bearer.status).toBe(200);
    const malformed = await server.request('GET', '/v1/me', {
      key: null,
      headers: { authorization: `Basic ${server.adminKey}` },
    });
    expect(malformed.status).toBe(401);
  });

  it('expands resource wildcards to exactly that resource', async () => {
    const created = await server.request('POST', '/v1/auth/keys', { body: { name: 'files', scopes: ['secrets:*'] } });
    const { key } = (await created.json()) as { key: string };
    expect((await server.request('GET', '/v1/secrets/NOPE', { key })).status).toBe(404);
    expect((await server.request('POST', '/v1/secrets', { key, body: { name: 'A', value: 'b' } })).status).toBe(201);
    expect((await server.request('GET', '/v1/ssh-keys', { key })).status).toBe(403);
  });

  it('lets public routes through without a key', async () => {
    expect((await server.request('GET', '/v1/health', { key: null })).status).toBe(200);
    expect((await server.request('GET', '/v1/ready', { key: null })).status).toBe(200);
    expect((await server.request('GET', '/v1/openapi.json', { key: null })).status).toBe(200);
    expect((await server.request('GET', '/docs', { key: null })).status).toBe(200);
    // A hook URL is its own credential: no key is asked for, and a key (even a bad one) changes nothing.
    for (const key of [null, 'rt_aaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA']) {
      const hook = await server.request('POST', samplePath(routes.hooksDeliver.path), { key, body: '{}' });
      expect([key, hook.status, ((await hook.json()) as { error: { code: string } }).error.code]).toEqual([
        key,
        404,
        'trigger_not_found',
      ]);
    }
  });

  it('lets a key with only the scope a workflow route lists do the real thing, on things that exist', async () => {
    const keyFor = (scope: ConcreteScope) => keysByScope.get(scope) as string;
    const call = async (scope: ConcreteScope, method: string, path: string, body?: unknown) => {
      const response = await server.request(method, path, { key: keyFor(scope), body });
      const text = await response.text();
      return [scope, method, path, response.status, response.status < 300 ? '' : text];
    };
    const gated = {
      nodes: [
        { id: 'gate', type: 'approval', config: { message: 'ok?' } },
        { id: 'out', type: 'output', config: { expression: '1' } },
      ],
      edges: [{ source: 'gate', target: 'out' }],
    };
    const ok = (scope: string, method: string, path: string, status: number) => [scope, method, path, status, ''];
    const write = 'workflows:write' as ConcreteScope;
    const read = 'workflows:read' as ConcreteScope;
    const execute = 'workflows:execute' as ConcreteScope;
    expect(await call(write, 'POST', '/v1/workflows', { name: 'Scoped', graph: gated })).toEqual(
      ok(write, 'POST', '/v1/workflows', 200),
    );
    expect(await call(write, 'POST', '/v1/workflows/scoped/publish', { visibility: 'org' })).toEqual(
      ok(write, 'POST', '/v1/workflows/scoped/publish', 201),
    );
    const started = await server.request('POST', '/v1/workflows/scoped/runs', { key: keyFor(execute), body: {} });
    expect(started.status).toBe(201);
    const { runId } = (await started.json()) as { runId: string };
    let approvalId: string | undefined;
    for (let tries = 0; tries < 200 && !approvalId; tries++) {
      const list = await server.request('GET', `/v1/workflow-approvals?runId=${runId}`, { key: keyFor(read) });
      approvalId = ((await list.json()) as { data: { id: string }[] }).data[0]?.id;
      if (!approvalId) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const path of [
      '/v1/workflows',
      '/v1/workflows/scoped',
      '/v1/workflows/scoped/versions',
      '/v1/workflows/scoped/versions/1',
      '/v1/workflows/scoped/triggers',
      '/v1/workflow-runs',
      `/v1/workflow-runs/${runId}`,
      `/v1/workflow-runs/${runId}/events?follow=false`,
      '/v1/workflow-approvals',
      `/v1/workflow-approvals/${approvalId}`,
    ])
      expect(await call(read, 'GET', path)).toEqual(ok(read, 'GET', path, 200));
    expect(await call(read, 'POST', '/v1/workflows/validate', { graph: gated })).toEqual(
      ok(read, 'POST', '/v1/workflows/validate', 200),
    );
    const resolve = `/v1/workflow-approvals/${approvalId}/resolve`;
    expect(await call(execute, 'POST', resolve, { approved: true })).toEqual(ok(execute, 'POST', resolve, 200));
    const second = (await (
      await server.request('POST', '/v1/workflows/scoped/runs', { key: keyFor(execute), body: {} })
    ).json()) as { runId: string };
    const cancel = `/v1/workflow-runs/${second.runId}/cancel`;
    expect(await call(execute, 'POST', cancel)).toEqual(ok(execute, 'POST', cancel, 200));
    // Creating a trigger is starting runs later, with the creator's rights: it takes workflows:execute as well
    // as the workflows:write its route lists (the table's scopes are any-of), so neither alone will do.
    for (const scope of [write, execute]) {
      const refused = await server.request('POST', '/v1/workflows/scoped/triggers', {
        key: keyFor(scope),
        body: { kind: 'cron', schedule: '0 0 1 1 *' },
      });
      expect([scope, refused.status, ((await refused.json()) as { error: { code: string } }).error.code]).toEqual([
        scope,
        403,
        'insufficient_scope',
      ]);
    }
    const both = await server.request('POST', '/v1/auth/keys', {
      body: { name: 'triggers', scopes: ['workflows:write', 'workflows:execute'] },
    });
    const bothKey = ((await both.json()) as { key: string }).key;
    const trigger = await server.request('POST', '/v1/workflows/scoped/triggers', {
      key: bothKey,
      body: { kind: 'cron', schedule: '0 0 1 1 *' },
    });
    expect(trigger.status).toBe(201);
    const { id: triggerId } = (await trigger.json()) as { id: string };
    for (let tries = 0; tries < 200; tries++) {
      const run = await server.request('GET', `/v1/workflow-runs/${runId}`, { key: keyFor(read) });
      if (((await run.json()) as { status: string }).status === 'completed') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const deleteTrigger = `/v1/workflows/scoped/triggers/${triggerId}`;
    expect(await call(write, 'DELETE', deleteTrigger)).toEqual(ok(write, 'DELETE', deleteTrigger, 200));
    expect(await call(write, 'DELETE', '/v1/workflows/scoped')).toEqual(
      ok(write, 'DELETE', '/v1/workflows/scoped', 200),
    );
  });
});

/**
 * The scope test above proves each route checks its own scopes. These prove that no route lets a key do
 * *indirectly* what its scopes forbid directly (issue 12): through a member it adds or promotes, a key it
 * mints, a provider that names a secret, an agent that names a sandbox, or a run that acts for it.
 */
describe('route auth: indirect paths', () => {
  const fixture = useSandboxServer();
  const server = () => fixture.server;
  const code = async (response: Response) => ((await response.json()) as { error?: { code: string } }).error?.code;
  async function keyWith(scopes: string[], options: { expiresAt?: string; key?: string } = {}) {
    const response = await server().request('POST', '/v1/auth/keys', {
      ...(options.key ? { key: options.key } : {}),
      body: { name: scopes.join(' '), scopes, ...(options.expiresAt ? { expiresAt: options.expiresAt } : {}) },
    });
    expect(response.status).toBe(201);
    return (await response.json()) as { id: string; key: string; expiresAt: string | null };
  }

  it('lets a members:write key invite or promote no one who could do what the key cannot', async () => {
    const membersOnly = (await keyWith(['members:write'])).key;
    for (const role of ['owner', 'admin', 'member']) {
      const invite = await server().request('POST', '/v1/invitations', {
        key: membersOnly,
        body: { email: `${role}@escalate.example`, role },
      });
      expect([role, invite.status, await code(invite)]).toEqual([role, 403, 'scope_escalation']);
    }
    const { member } = await addMember(server(), 'promoted@escalate.example', 'member');
    const promote = await server().request('PATCH', `/v1/members/${member.id}`, {
      key: membersOnly,
      body: { role: 'owner' },
    });
    // Member to owner adds orgs:write, which this key lacks (member to admin adds only members:write: allowed).
    expect([promote.status, await code(promote)]).toEqual([403, 'scope_escalation']);
    // An admin with every scope invites an admin, but no owner.
    const admin = await addMember(server(), 'admin@escalate.example', 'admin');
    const owner = await server().request('POST', '/v1/invitations', {
      key: admin.apiKey.key,
      body: { email: 'owner2@escalate.example', role: 'owner' },
    });
    expect([owner.status, await code(owner)]).toEqual([403, 'role_forbidden']);
    const peer = await server().request('POST', '/v1/invitations', {
      key: admin.apiKey.key,
      body: { email: 'peer@escalate.example', role: 'admin' },
    });
    expect(peer.status).toBe(201);
  });

  it('enrols nobody without their consent, and shows a key only its own org', async () => {
    const carol = await addMember(server(), 'carol@consent.example', 'member');
    const other = (await (await server().request('POST', '/v1/orgs', { body: { name: 'Other' } })).json()) as {
      org: { id: string };
      apiKey: { key: string };
    };
    const invited = (await (
      await server().request('POST', '/v1/invitations', {
        key: other.apiKey.key,
        body: { email: 'carol@consent.example', role: 'member' },
      })
    ).json()) as { token: string };
    // The inviter holds the token but cannot use it for carol: she has an account, so only her keys accept.
    const signUp = await server().request('POST', '/v1/invitations/sign-up', {
      key: null,
      body: { token: invited.token },
    });
    expect([signUp.status, await code(signUp)]).toEqual([409, 'account_exists']);
    const byInviter = await server().request('POST', '/v1/invitations/accept', {
      key: other.apiKey.key,
      body: { token: invited.token },
    });
    expect([byInviter.status, await code(byInviter)]).toEqual([403, 'invitation_email_mismatch']);
    const members = (await (await server().request('GET', '/v1/members', { key: other.apiKey.key })).json()) as {
      data: { email: string }[];
    };
    expect(members.data.map((item) => item.email)).not.toContain('carol@consent.example');

    const accepted = await server().request('POST', '/v1/invitations/accept', {
      key: carol.apiKey.key,
      body: { token: invited.token },
    });
    expect(accepted.status).toBe(201);
    const inOther = ((await accepted.json()) as { apiKey: { key: string } }).apiKey.key;
    // Each of her keys sees its own org only, though she belongs to both.
    for (const [key, orgId, otherOrgId] of [
      [carol.apiKey.key, carol.org.id, other.org.id],
      [inOther, other.org.id, carol.org.id],
    ] as const) {
      const orgs = (await (await server().request('GET', '/v1/orgs', { key })).json()) as { data: { id: string }[] };
      expect(orgs.data.map((org) => org.id)).toEqual([orgId]);
      expect((await server().request('GET', `/v1/orgs/${otherOrgId}`, { key })).status).toBe(404);
    }
    const used = await server().request('POST', '/v1/invitations/accept', {
      key: carol.apiKey.key,
      body: { token: invited.token },
    });
    expect([used.status, await code(used)]).toEqual([404, 'invitation_not_found']);
  });

  it("voids an invitation when its sender's key can no longer grant its role", async () => {
    const sender = await keyWith(['*']);
    const invited = (await (
      await server().request('POST', '/v1/invitations', {
        key: sender.key,
        body: { email: 'late@void.example', role: 'admin' },
      })
    ).json()) as { token: string };
    expect((await server().request('DELETE', `/v1/auth/keys/${sender.id}`)).status).toBe(200);
    const signUp = await server().request('POST', '/v1/invitations/sign-up', {
      key: null,
      body: { token: invited.token },
    });
    expect([signUp.status, await code(signUp)]).toEqual([404, 'invitation_not_found']);
  });

  it("lets no admin revoke an owner's keys", async () => {
    const admin = await addMember(server(), 'admin@revoke.example', 'admin');
    const me = (await (await server().request('GET', '/v1/me')).json()) as { key: { id: string } };
    const revoke = await server().request('DELETE', `/v1/auth/keys/${me.key.id}`, { key: admin.apiKey.key });
    expect([revoke.status, await code(revoke)]).toEqual([403, 'role_forbidden']);
    expect((await server().request('GET', '/v1/me')).status).toBe(200);
    // A member's keys are still the admin's to revoke.
    const member = await addMember(server(), 'member@revoke.example', 'member');
    expect(
      (await server().request('DELETE', `/v1/auth/keys/${member.apiKey.id}`, { key: admin.apiKey.key })).status,
    ).toBe(200);
  });

  it('mints no key that outlives the key minting it', async () => {
    const expiresAt = new Date(Date.now() + 3600_000).toISOString();
    const parent = await keyWith(['*'], { expiresAt });
    const child = await keyWith(['secrets:read'], { key: parent.key });
    expect(child.expiresAt).toBe(expiresAt);
    const later = await server().request('POST', '/v1/auth/keys', {
      key: parent.key,
      body: { name: 'later', scopes: ['secrets:read'], expiresAt: new Date(Date.now() + 7200_000).toISOString() },
    });
    expect([later.status, await code(later)]).toEqual([400, 'validation_failed']);
    // Nor through an org it creates, or an invitation it sends (whose sign-up the sender could do itself).
    const org = (await (
      await server().request('POST', '/v1/orgs', { key: parent.key, body: { name: 'Brief' } })
    ).json()) as { apiKey: { expiresAt: string | null } };
    expect(org.apiKey.expiresAt).toBe(expiresAt);
    const invited = (await (
      await server().request('POST', '/v1/invitations', {
        key: parent.key,
        body: { email: 'brief@expiry.example', role: 'member' },
      })
    ).json()) as { invitation: { expiresAt: string }; token: string };
    expect(invited.invitation.expiresAt).toBe(expiresAt);
    const joined = (await (
      await server().request('POST', '/v1/invitations/sign-up', { key: null, body: { token: invited.token } })
    ).json()) as { apiKey: { expiresAt: string | null } };
    expect(joined.apiKey.expiresAt).toBe(expiresAt);
  });

  it('needs sandboxes:write to register an SSH key, which opens a shell in every sandbox of the org', async () => {
    const sshOnly = (await keyWith(['ssh_keys:*'])).key;
    const publicKey = `ssh-ed25519 ${Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 7)]).toString('base64')}`;
    const refused = await server().request('POST', '/v1/ssh-keys', { key: sshOnly, body: { name: 'x', publicKey } });
    expect([refused.status, await code(refused)]).toEqual([403, 'insufficient_scope']);
    const both = (await keyWith(['ssh_keys:*', 'sandboxes:write'])).key;
    expect((await server().request('POST', '/v1/ssh-keys', { key: both, body: { name: 'x', publicKey } })).status).toBe(
      201,
    );
  });

  it("needs files:write to mount a workspace into a sandbox (or an agent's), whose processes then read and write it", async () => {
    const workspace = (await (
      await server().request('POST', '/v1/workspaces', { body: { name: 'private' } })
    ).json()) as {
      id: string;
    };
    const mounts = [{ workspaceId: workspace.id }];
    const sandboxOnly = (await keyWith(['sandboxes:*', 'agents:*'])).key;
    const sandbox = await server().request('POST', '/v1/sandboxes', {
      key: sandboxOnly,
      body: { runtime: 'container', mounts },
    });
    expect([sandbox.status, await code(sandbox)]).toEqual([403, 'insufficient_scope']);
    const agent = await server().request('POST', '/v1/agents', {
      key: sandboxOnly,
      body: { slug: 'mounter', model: 'claude-haiku-4.5', sandbox: { mounts } },
    });
    expect([agent.status, await code(agent)]).toEqual([403, 'insufficient_scope']);
    // An agent someone else defined with a mount does not hand it to a narrower key's run either.
    await server().request('POST', '/v1/secrets', { body: { name: 'ANTHROPIC_API_KEY', value: 'x' } });
    expect(
      (
        await server().request('POST', '/v1/agents', {
          body: { slug: 'mounter', model: 'claude-haiku-4.5', sandbox: { mounts } },
        })
      ).status,
    ).toBe(201);
    const run = await server().request('POST', '/v1/agents/mounter/runs', { key: sandboxOnly, body: { prompt: 'ls' } });
    expect([run.status, await code(run)]).toEqual([403, 'insufficient_scope']);
    // Nor does branching a sandbox that someone else gave a mount: the branch mounts it too.
    const mounted = fixture.track(await fixture.rt.sandboxes.create({ runtime: 'container', mounts }));
    await mounted.snapshot({ name: 'base' });
    const branch = await server().request('POST', `/v1/sandboxes/${mounted.id}/branch`, {
      key: sandboxOnly,
      body: { snapshot: 'base' },
    });
    expect([branch.status, await code(branch)]).toEqual([403, 'insufficient_scope']);
  });

  describe('agents, providers and runs', () => {
    const received: string[] = [];
    const listener = createServer((request, response) => {
      received.push(String(request.headers.authorization));
      response.writeHead(500).end();
    });
    let listenerUrl: string;
    let boxId: string;
    beforeAll(async () => {
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
      listenerUrl = `http://127.0.0.1:${(listener.address() as AddressInfo).port}/v1`;
      await server().request('POST', '/v1/secrets', { body: { name: 'PRECIOUS', value: 'precious-value' } });
      boxId = fixture.track(await fixture.rt.sandboxes.create({ runtime: 'container' })).id;
    });
    afterAll(() => new Promise<void>((resolve) => listener.close(() => resolve())));

    it('needs secrets:read to register a provider that names a secret', async () => {
      const agentsOnly = (await keyWith(['agents:*'])).key;
      const body = { name: 'listener', type: 'openai', baseUrl: listenerUrl, apiKeySecret: 'PRECIOUS' };
      const refused = await server().request('POST', '/v1/providers', { key: agentsOnly, body });
      expect([refused.status, await code(refused)]).toEqual([403, 'insufficient_scope']);
      const { apiKeySecret: _, ...withoutSecret } = body;
      const plain = await server().request('POST', '/v1/providers', {
        key: agentsOnly,
        body: { ...withoutSecret, name: 'keyless' },
      });
      expect(plain.status).toBe(201);
      const reader = (await keyWith(['agents:*', 'secrets:read'])).key;
      expect((await server().request('POST', '/v1/providers', { key: reader, body })).status).toBe(201);
    });

    it('needs sandboxes:write to give an agent a sandbox to work in', async () => {
      const agentsOnly = (await keyWith(['agents:*'])).key;
      const body = { slug: 'linked', model: 'keyless/m', sandbox: boxId };
      const refused = await server().request('POST', '/v1/agents', { key: agentsOnly, body });
      expect([refused.status, await code(refused)]).toEqual([403, 'insufficient_scope']);
      const put = await server().request('PUT', '/v1/agents/linked', {
        key: agentsOnly,
        body: { model: 'keyless/m', sandbox: boxId },
      });
      expect([put.status, await code(put)]).toEqual([403, 'insufficient_scope']);
      const writer = (await keyWith(['agents:*', 'sandboxes:write'])).key;
      expect((await server().request('POST', '/v1/agents', { key: writer, body })).status).toBe(201);
      const relink = await server().request('PATCH', '/v1/agents/linked', {
        key: agentsOnly,
        body: { sandbox: boxId },
      });
      expect([relink.status, await code(relink)]).toEqual([403, 'insufficient_scope']);
    });

    it("runs an agent only with its caller's scopes: the sandbox it works in and the secret its model gets", async () => {
      // Set up with every scope: an agent on the listener's provider (which names PRECIOUS), in the sandbox.
      expect(
        (
          await server().request('POST', '/v1/agents', {
            body: { slug: 'exfil', model: 'listener/m', sandbox: boxId },
          })
        ).status,
      ).toBe(201);
      const tries: [string[], string][] = [
        [['agents:*'], 'sandboxes:write'],
        [['agents:*', 'secrets:read'], 'sandboxes:write'],
        [['agents:*', 'sandboxes:write'], 'secrets:read'],
      ];
      for (const [scopes, missing] of tries) {
        const key = (await keyWith(scopes)).key;
        for (const path of ['/v1/agents/exfil/runs', '/v1/agents/exfil/runs/stream']) {
          const run = await server().request('POST', path, { key, body: { prompt: 'hi' } });
          const body = (await run.json()) as { error?: { code: string; details: { required: string[] } } };
          expect([path, scopes, run.status, body.error?.code, body.error?.details.required]).toEqual([
            path,
            scopes,
            403,
            'insufficient_scope',
            [missing],
          ]);
        }
      }
      const runs = (await (await server().request('GET', '/v1/runs')).json()) as { data: unknown[] };
      expect(runs.data).toEqual([]);
      expect(received).toEqual([]);
    });
  });
});
