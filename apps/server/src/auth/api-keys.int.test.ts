import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember as join } from '../../../../test/support/members.js';
import { startTestServer, type TestServer } from '../../../../test/support/server.js';

interface Created {
  id: string;
  key: string;
  prefix: string;
  scopes: string[];
}

describe('API keys', () => {
  let server: TestServer;
  const createKey = async (body: unknown, key?: string) =>
    server.request('POST', '/v1/auth/keys', { body, ...(key ? { key } : {}) });
  const code = async (response: Response) => ((await response.json()) as { error: { code: string } }).error.code;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('returns the key once and stores only its SHA-256 hash', async () => {
    const response = await createKey({ name: 'ci', scopes: ['secrets:read'] });
    expect(response.status).toBe(201);
    const created = (await response.json()) as Created;
    expect(created.key).toMatch(/^rt_[a-z2-7]{8}_[A-Za-z0-9_-]{43}$/);
    expect(created.key.startsWith(`${created.prefix}_`)).toBe(true);

    const row = await server.running.db.kysely
      .selectFrom('api_keys')
      .selectAll()
      .where('id', '=', created.id)
      .executeTakeFirstOrThrow();
    expect(row.key_hash).toBe(createHash('sha256').update(created.key).digest('hex'));
    expect(JSON.stringify(row)).not.toContain(created.key);

    const listed = await server.request('GET', '/v1/auth/keys');
    const text = await listed.text();
    expect(text).toContain(created.prefix);
    expect(text).not.toContain(created.key);
    const fetched = (await (await server.request('GET', `/v1/auth/keys/${created.id}`)).json()) as Record<
      string,
      unknown
    >;
    expect(fetched.key).toBeUndefined();
    expect(fetched.prefix).toBe(created.prefix);
  });

  it('names the principal in audit records: the calling key by kind and id, the platform for the first org', async () => {
    const me = (await (await server.request('GET', '/v1/me')).json()) as { key: { id: string }; org: { id: string } };
    const created = (await (await createKey({ name: 'audited', scopes: ['secrets:read'] })).json()) as Created;
    expect((await server.request('DELETE', `/v1/auth/keys/${created.id}`)).status).toBe(200);
    const records = await server.running.db.kysely
      .selectFrom('audit_log')
      .select(['event', 'actor_kind', 'actor_id', 'target_id'])
      .where('org_id', '=', me.org.id)
      .orderBy('seq')
      .execute();
    expect(records.filter((record) => record.target_id === created.id)).toEqual([
      { event: 'api_key.created', actor_kind: 'key', actor_id: me.key.id, target_id: created.id },
      { event: 'api_key.revoked', actor_kind: 'key', actor_id: me.key.id, target_id: created.id },
    ]);
    expect(records.find((record) => record.event === 'org.created')).toMatchObject({
      actor_kind: 'system',
      actor_id: 'runtools',
    });
  });

  it('rejects a key whose secret part is wrong even when its prefix exists', async () => {
    const created = (await (await createKey({ name: 'x', scopes: ['secrets:read'] })).json()) as Created;
    const forged = `${created.prefix}_${'A'.repeat(43)}`;
    const response = await server.request('GET', '/v1/secrets', { key: forged });
    expect([response.status, await code(response)]).toEqual([401, 'invalid_api_key']);
  });

  it('stops a revoked key at once, and revoking twice is harmless', async () => {
    const created = (await (await createKey({ name: 'temp', scopes: ['secrets:read'] })).json()) as Created;
    expect((await server.request('GET', '/v1/secrets', { key: created.key })).status).toBe(200);
    const revoked = await server.request('DELETE', `/v1/auth/keys/${created.id}`);
    expect(revoked.status).toBe(200);
    expect(((await revoked.json()) as { revokedAt: string | null }).revokedAt).not.toBeNull();
    const after = await server.request('GET', '/v1/secrets', { key: created.key });
    expect([after.status, await code(after)]).toEqual([401, 'api_key_revoked']);
    expect((await server.request('DELETE', `/v1/auth/keys/${created.id}`)).status).toBe(200);
  });

  it('refuses an expiry in the past and stops a key once it expires', async () => {
    const past = await createKey({ name: 'old', scopes: ['secrets:read'], expiresAt: '2020-01-01T00:00:00Z' });
    expect([past.status, await code(past)]).toEqual([400, 'validation_failed']);

    const future = new Date(Date.now() + 3600_000).toISOString();
    const created = (await (
      await createKey({ name: 'soon', scopes: ['secrets:read'], expiresAt: future })
    ).json()) as Created & {
      expiresAt: string;
    };
    expect(created.expiresAt).toBe(future);
    expect((await server.request('GET', '/v1/secrets', { key: created.key })).status).toBe(200);
    // Move the expiry into the past in the database rather than waiting for the clock.
    await server.running.db.kysely
      .updateTable('api_keys')
      .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
      .where('id', '=', created.id)
      .execute();
    const expired = await server.request('GET', '/v1/secrets', { key: created.key });
    expect([expired.status, await code(expired)]).toEqual([401, 'api_key_expired']);
  });

  it('will not mint a key with scopes its creator lacks', async () => {
    const limited = (await (
      await createKey({ name: 'limited', scopes: ['keys:write', 'secrets:read'] })
    ).json()) as Created;
    const escalate = await createKey({ name: 'more', scopes: ['*'] }, limited.key);
    expect([escalate.status, await code(escalate)]).toEqual([403, 'scope_escalation']);
    const sideways = await createKey({ name: 'write', scopes: ['secrets:write'] }, limited.key);
    expect([sideways.status, await code(sideways)]).toEqual([403, 'scope_escalation']);
    const same = await createKey({ name: 'same', scopes: ['secrets:read'] }, limited.key);
    expect(same.status).toBe(201);
  });

  it('rejects unknown scopes by name', async () => {
    for (const scopes of [['secret:read'], ['sandboxes:admin'], ['*:*'], [], ['']]) {
      const response = await createKey({ name: 'bad', scopes });
      expect([JSON.stringify(scopes), response.status]).toEqual([JSON.stringify(scopes), 400]);
    }
  });

  it('records when a key was last used', async () => {
    const created = (await (await createKey({ name: 'used', scopes: ['secrets:read'] })).json()) as Created;
    const before = (await (await server.request('GET', `/v1/auth/keys/${created.id}`)).json()) as {
      lastUsedAt: string | null;
    };
    expect(before.lastUsedAt).toBeNull();
    await server.request('GET', '/v1/secrets', { key: created.key });
    await expect
      .poll(
        async () =>
          ((await (await server.request('GET', `/v1/auth/keys/${created.id}`)).json()) as { lastUsedAt: string | null })
            .lastUsedAt,
      )
      .not.toBeNull();
  });
});

describe('members and roles', () => {
  let server: TestServer;
  const code = async (response: Response) => ((await response.json()) as { error: { code: string } }).error.code;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  const addMember = (email: string, role: 'owner' | 'admin' | 'member') => join(server, email, role);

  it("caps a member's keys to their role, even a key with scope *", async () => {
    const { apiKey } = await addMember('member@example.com', 'member');
    const me = (await (await server.request('GET', '/v1/me', { key: apiKey.key })).json()) as {
      effectiveScopes: string[];
    };
    expect(me.effectiveScopes).not.toContain('members:write');
    expect(me.effectiveScopes).not.toContain('orgs:write');
    expect(me.effectiveScopes).toContain('secrets:write');
    const attempt = await server.request('POST', '/v1/invitations', {
      key: apiKey.key,
      body: { email: 'x@example.com' },
    });
    expect([attempt.status, await code(attempt)]).toEqual([403, 'insufficient_scope']);
  });

  it('shows members only their own keys, and admins all of them', async () => {
    const { apiKey: memberKey } = await addMember('viewer@example.com', 'member');
    const own = (await (await server.request('GET', '/v1/auth/keys', { key: memberKey.key })).json()) as {
      data: { id: string }[];
    };
    expect(own.data.map((key) => key.id)).toEqual([memberKey.id]);
    const all = (await (await server.request('GET', '/v1/auth/keys')).json()) as { data: { id: string }[] };
    expect(all.data.length).toBeGreaterThan(1);
    const adminKeyId = all.data.find((key) => key.id !== memberKey.id)?.id;
    const peek = await server.request('GET', `/v1/auth/keys/${adminKeyId}`, { key: memberKey.key });
    expect(peek.status).toBe(404);
    const revoke = await server.request('DELETE', `/v1/auth/keys/${adminKeyId}`, { key: memberKey.key });
    expect(revoke.status).toBe(404);
  });

  it('lets only owners make owners, and keeps the last owner', async () => {
    const { apiKey: adminKey } = await addMember('admin2@example.com', 'admin');
    const promote = await server.request('POST', '/v1/invitations', {
      key: adminKey.key,
      body: { email: 'o@example.com', role: 'owner' },
    });
    expect([promote.status, await code(promote)]).toEqual([403, 'role_forbidden']);

    const members = (await (await server.request('GET', '/v1/members')).json()) as {
      data: { id: string; role: string }[];
    };
    const owner = members.data.find((member) => member.role === 'owner');
    const demote = await server.request('PATCH', `/v1/members/${owner?.id}`, { body: { role: 'admin' } });
    expect([demote.status, await code(demote)]).toEqual([409, 'last_owner']);
    const remove = await server.request('DELETE', `/v1/members/${owner?.id}`);
    expect([remove.status, await code(remove)]).toEqual([409, 'last_owner']);
  });

  it("revokes a removed member's keys", async () => {
    const { member, apiKey } = await addMember('leaver@example.com', 'member');
    expect((await server.request('GET', '/v1/secrets', { key: apiKey.key })).status).toBe(200);
    expect((await server.request('DELETE', `/v1/members/${member.id}`)).status).toBe(200);
    const after = await server.request('GET', '/v1/secrets', { key: apiKey.key });
    expect(after.status).toBe(401);
  });

  it('refuses to invite a member again', async () => {
    await addMember('twice@example.com', 'member');
    const again = await server.request('POST', '/v1/invitations', { body: { email: 'TWICE@example.com' } });
    expect([again.status, await code(again)]).toEqual([409, 'member_exists']);
  });

  it('keeps the default project and refuses duplicate project slugs', async () => {
    const projects = (await (await server.request('GET', '/v1/projects')).json()) as {
      data: { id: string; isDefault: boolean }[];
    };
    const defaultProject = projects.data.find((project) => project.isDefault);
    const remove = await server.request('DELETE', `/v1/projects/${defaultProject?.id}`);
    expect([remove.status, await code(remove)]).toEqual([409, 'default_project']);
    expect((await server.request('POST', '/v1/projects', { body: { name: 'Web', slug: 'web' } })).status).toBe(201);
    const duplicate = await server.request('POST', '/v1/projects', { body: { name: 'Web 2', slug: 'web' } });
    expect([duplicate.status, await code(duplicate)]).toEqual([409, 'project_exists']);
  });
});
