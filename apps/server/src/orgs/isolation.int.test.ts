import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember } from '../../../../test/support/members.js';
import { startTestServer, type TestServer } from '../../../../test/support/server.js';

interface OrgFixture {
  key: string;
  orgId: string;
  projectId: string;
  secretName: string;
  sshKeyId: string;
  apiKeyId: string;
  memberId: string;
}

const ed25519 = (seed: string) => {
  // A syntactically valid Ed25519 public key: type string + 32 key bytes.
  const type = Buffer.from('ssh-ed25519');
  const key = Buffer.alloc(32, seed);
  const blob = Buffer.concat([Buffer.from([0, 0, 0, type.length]), type, Buffer.from([0, 0, 0, 32]), key]);
  return `ssh-ed25519 ${blob.toString('base64')} ${seed}@test`;
};

async function json<T>(response: Response, status: number): Promise<T> {
  const body = await response.text();
  expect([response.status, body]).toEqual([status, expect.any(String)]);
  return JSON.parse(body) as T;
}

describe('cross-org isolation', () => {
  let server: TestServer;
  let a: OrgFixture;
  let b: OrgFixture;

  async function populate(key: string, tag: string): Promise<OrgFixture> {
    const me = await json<{ org: { id: string } }>(await server.request('GET', '/v1/me', { key }), 200);
    const project = await json<{ id: string }>(
      await server.request('POST', '/v1/projects', { key, body: { name: `p ${tag}` } }),
      201,
    );
    await json(
      await server.request('POST', '/v1/secrets', { key, body: { name: `SECRET_${tag}`, value: `value-${tag}` } }),
      201,
    );
    const sshKey = await json<{ id: string }>(
      await server.request('POST', '/v1/ssh-keys', { key, body: { name: tag, publicKey: ed25519(tag) } }),
      201,
    );
    const apiKey = await json<{ id: string }>(
      await server.request('POST', '/v1/auth/keys', { key, body: { name: tag, scopes: ['secrets:read'] } }),
      201,
    );
    const member = await addMember(server, `${tag.toLowerCase()}@example.com`, 'member', key);
    return {
      key,
      orgId: me.org.id,
      projectId: project.id,
      secretName: `SECRET_${tag}`,
      sshKeyId: sshKey.id,
      apiKeyId: apiKey.id,
      memberId: member.member.id,
    };
  }

  beforeAll(async () => {
    server = await startTestServer();
    a = await populate(server.adminKey, 'A');
    // Org B belongs to a different person: the admin creates it, hands it to bob, and leaves.
    const created = await json<{ apiKey: { key: string }; org: { id: string } }>(
      await server.request('POST', '/v1/orgs', { body: { name: 'Org B' } }),
      201,
    );
    const bob = await addMember(server, 'bob@b.example', 'owner', created.apiKey.key);
    const adminInB = await json<{ data: { id: string; email: string }[] }>(
      await server.request('GET', '/v1/members', { key: bob.apiKey.key }),
      200,
    );
    const adminMember = adminInB.data.find((member) => member.email === 'admin@localhost');
    await json(await server.request('DELETE', `/v1/members/${adminMember?.id}`, { key: bob.apiKey.key }), 200);
    b = await populate(bob.apiKey.key, 'B');
    expect(b.orgId).toBe(created.org.id);
  });
  afterAll(() => server.close());

  it("answers 404, not 403, for every one of another org's ids", async () => {
    for (const [attacker, victim] of [
      [a, b],
      [b, a],
    ] as const) {
      const attempts: [string, string, unknown?][] = [
        ['GET', `/v1/orgs/${victim.orgId}`],
        ['PATCH', `/v1/orgs/${victim.orgId}`, { name: 'pwned' }],
        ['GET', `/v1/projects/${victim.projectId}`],
        ['PATCH', `/v1/projects/${victim.projectId}`, { name: 'pwned' }],
        ['DELETE', `/v1/projects/${victim.projectId}`],
        ['GET', `/v1/secrets/${victim.secretName}`],
        ['DELETE', `/v1/secrets/${victim.secretName}`],
        ['DELETE', `/v1/ssh-keys/${victim.sshKeyId}`],
        ['GET', `/v1/auth/keys/${victim.apiKeyId}`],
        ['DELETE', `/v1/auth/keys/${victim.apiKeyId}`],
        ['PATCH', `/v1/members/${victim.memberId}`, { role: 'admin' }],
        ['DELETE', `/v1/members/${victim.memberId}`],
      ];
      for (const [method, path, body] of attempts) {
        const response = await server.request(method, path, { key: attacker.key, body });
        expect([method, path, response.status]).toEqual([method, path, 404]);
      }
    }
  });

  it("never lists another org's data", async () => {
    for (const [viewer, other] of [
      [a, b],
      [b, a],
    ] as const) {
      const listings = await Promise.all(
        ['/v1/secrets', '/v1/ssh-keys', '/v1/projects', '/v1/auth/keys', '/v1/members', '/v1/orgs'].map(async (path) =>
          JSON.stringify(await json(await server.request('GET', path, { key: viewer.key }), 200)),
        ),
      );
      const text = listings.join('\n');
      for (const id of [
        other.orgId,
        other.projectId,
        other.secretName,
        other.sshKeyId,
        other.apiKeyId,
        other.memberId,
      ]) {
        expect(text).not.toContain(id);
      }
    }
  });

  it("leaves the other org's data intact after the attempts", async () => {
    const secret = await json<{ value: string }>(
      await server.request('GET', `/v1/secrets/${b.secretName}`, { key: b.key }),
      200,
    );
    expect(secret.value).toBe('value-B');
    const project = await json<{ name: string }>(
      await server.request('GET', `/v1/projects/${b.projectId}`, { key: b.key }),
      200,
    );
    expect(project.name).toBe('p B');
  });

  it('lets the same SSH key be registered in two orgs, but only once per org', async () => {
    const publicKey = ed25519('shared');
    await json(await server.request('POST', '/v1/ssh-keys', { key: a.key, body: { name: 'x', publicKey } }), 201);
    await json(await server.request('POST', '/v1/ssh-keys', { key: b.key, body: { name: 'x', publicKey } }), 201);
    const again = await server.request('POST', '/v1/ssh-keys', { key: a.key, body: { name: 'y', publicKey } });
    expect((await json<{ error: { code: string } }>(again, 409)).error.code).toBe('ssh_key_exists');
  });
});
