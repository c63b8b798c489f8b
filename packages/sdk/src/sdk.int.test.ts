import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../../test/support/server.js';
import {
  AuthenticationError,
  ConflictError,
  NotFoundError,
  PermissionError,
  RunTools,
  RunToolsError,
  ValidationError,
} from './index.js';

describe('SDK against a running server', () => {
  let server: TestServer;
  let rt: RunTools;
  beforeAll(async () => {
    server = await startTestServer();
    rt = new RunTools({ apiKey: server.adminKey, baseUrl: server.url });
  });
  afterAll(() => server.close());

  it('sets, lists, gets and deletes secrets', async () => {
    const created = await rt.secrets.set('ANTHROPIC_API_KEY', 'sk-ant-123', { category: 'provider' });
    expect(created).toMatchObject({ name: 'ANTHROPIC_API_KEY', category: 'provider' });
    await rt.secrets.set('PLAIN', 'x');
    const list = await rt.secrets.list();
    expect(list.map((secret) => secret.name)).toEqual(['ANTHROPIC_API_KEY', 'PLAIN']);
    expect(JSON.stringify(list)).not.toContain('sk-ant-123');
    expect((await rt.secrets.list()).find((secret) => secret.name === 'PLAIN')?.category).toBe('custom');
    expect((await rt.secrets.get('ANTHROPIC_API_KEY')).value).toBe('sk-ant-123');
    expect(await rt.secrets.delete('PLAIN')).toEqual({ id: expect.stringMatching(/^sec_/), deleted: true });
    await expect(rt.secrets.get('PLAIN')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('creates keys that are shown once, lists them by prefix and revokes them', async () => {
    const created = await rt.auth.keys.create({
      name: 'reader',
      scopes: ['secrets:read'],
      expiresAt: new Date(Date.now() + 86_400_000),
    });
    expect(Object.keys(created).sort()).toEqual(['createdAt', 'expiresAt', 'id', 'key', 'name', 'prefix', 'scopes']);
    const listed = await rt.auth.keys.list();
    const entry = listed.find((key) => key.id === created.id);
    expect(entry?.prefix).toBe(created.prefix);
    expect(entry && 'key' in entry).toBe(false);

    const reader = new RunTools({ apiKey: created.key, baseUrl: server.url });
    expect(await reader.secrets.list()).toEqual(expect.any(Array));
    const denied = await reader.secrets.set('NOPE', 'x').catch((error: unknown) => error);
    expect(denied).toBeInstanceOf(PermissionError);
    expect((denied as PermissionError).code).toBe('insufficient_scope');
    expect((denied as PermissionError).status).toBe(403);

    const revoked = await rt.auth.keys.revoke(created.id);
    expect(revoked.revokedAt).not.toBeNull();
    const failed = await reader.secrets.list().catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(AuthenticationError);
    expect((failed as AuthenticationError).code).toBe('api_key_revoked');
  });

  it('adds, lists and removes SSH keys made by ssh-keygen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runtools-sdk-ssh-'));
    try {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'laptop', '-f', join(dir, 'id')]);
      const publicKey = readFileSync(join(dir, 'id.pub'), 'utf8');
      const fingerprint = execFileSync('ssh-keygen', ['-lf', join(dir, 'id.pub')], { encoding: 'utf8' }).split(' ')[1];
      const added = await rt.sshKeys.add({ name: 'laptop', publicKey });
      expect(added).toMatchObject({ name: 'laptop', algorithm: 'ssh-ed25519', fingerprint, comment: 'laptop' });
      expect((await rt.sshKeys.list()).map((key) => key.id)).toContain(added.id);
      await expect(rt.sshKeys.add({ name: 'again', publicKey })).rejects.toBeInstanceOf(ConflictError);
      await rt.sshKeys.remove(added.id);
      expect(await rt.sshKeys.list()).toEqual([]);
      await expect(rt.sshKeys.remove(added.id)).rejects.toBeInstanceOf(NotFoundError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports validation errors with their code and details', async () => {
    const error = await rt.secrets.set('bad name', 'x').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toBeInstanceOf(RunToolsError);
    expect((error as ValidationError).code).toBe('validation_failed');
    expect((error as ValidationError).requestId).toMatch(/^req_/);
  });

  it('manages orgs, projects and members', async () => {
    const orgs = await rt.orgs.list();
    expect(orgs).toEqual([expect.objectContaining({ slug: 'default', role: 'owner' })]);
    const project = await rt.projects.create({ name: 'Research Lab' });
    expect(project.slug).toBe('research-lab');
    expect((await rt.projects.get(project.id)).name).toBe('Research Lab');
    await rt.projects.delete(project.id);
    await expect(rt.projects.get(project.id)).rejects.toBeInstanceOf(NotFoundError);

    const created = await rt.orgs.create({ name: 'Side Project' });
    const sideRt = new RunTools({ apiKey: created.apiKey.key, baseUrl: server.url });
    expect((await sideRt.auth.whoami()).org.id).toBe(created.org.id);
    expect((await sideRt.projects.list()).map((item) => item.id)).toEqual([created.project.id]);
    // Nobody joins without accepting: invited, then signed up (no account) or accepted (an account's own key).
    const invited = await rt.members.invite({ email: 'ada@example.com', role: 'admin' });
    expect(invited.invitation).toMatchObject({ email: 'ada@example.com', role: 'admin', status: 'pending' });
    expect((await rt.members.list()).map((member) => member.email)).not.toContain('ada@example.com');
    const added = await RunTools.signUp({ token: invited.token, baseUrl: server.url });
    expect((await rt.members.list()).map((member) => member.email)).toContain('ada@example.com');
    expect((await rt.members.invitations()).find((item) => item.id === invited.invitation.id)?.status).toBe('accepted');
    const again = await sideRt.members.invite({ email: 'ada@example.com', role: 'member' });
    await expect(RunTools.signUp({ token: again.token, baseUrl: server.url })).rejects.toMatchObject({
      code: 'account_exists',
    });
    const ada = new RunTools({ apiKey: added.apiKey.key, baseUrl: server.url });
    const joined = await ada.members.acceptInvitation(again.token);
    expect(joined.org.id).toBe(created.org.id);
    const revoked = await sideRt.members.invite({ email: 'grace@example.com' });
    await sideRt.members.revokeInvitation(revoked.invitation.id);
    await expect(RunTools.signUp({ token: revoked.token, baseUrl: server.url })).rejects.toMatchObject({
      code: 'invitation_not_found',
    });
    expect((await rt.members.update(added.member.id, { role: 'member' })).role).toBe('member');
  });

  it('reads a list a page at a time: await gives every item, for await walks them, page() gives one', async () => {
    for (let index = 0; index < 101; index++) await rt.projects.create({ name: `paged ${index}` });
    const requests: URL[] = [];
    const counted = new RunTools({
      apiKey: server.adminKey,
      baseUrl: server.url,
      fetch: (input, init) => {
        requests.push(new URL(String(input)));
        return fetch(input, init);
      },
    });
    const ids = (projects: { id: string }[]) => projects.map((project) => project.id);
    const whole = await rt.projects.list().page({ limit: 1000 });
    expect(whole.nextCursor).toBeNull();
    expect(whole.data.length).toBeGreaterThan(101);

    // Awaited: every project, in order, read as two pages of the default 100.
    const every = await counted.projects.list();
    expect(ids(every)).toEqual(ids(whole.data));
    expect(requests.map((url) => url.searchParams.has('cursor'))).toEqual([false, true]);

    // Iterated: the same items, a page read only when the loop gets to it.
    requests.length = 0;
    const iterated: string[] = [];
    for await (const project of counted.projects.list()) iterated.push(project.id);
    expect(iterated).toEqual(ids(whole.data));
    expect(requests).toHaveLength(2);
    requests.length = 0;
    for await (const project of counted.projects.list()) if (project) break;
    expect(requests).toHaveLength(1);

    // One page, and the one after it.
    const first = await rt.projects.list().page({ limit: 2 });
    expect(ids(first.data)).toEqual(ids(whole.data.slice(0, 2)));
    const second = await rt.projects.list().page({ limit: 2, cursor: first.nextCursor ?? undefined });
    expect(ids(second.data)).toEqual(ids(whole.data.slice(2, 4)));
    const pages: number[] = [];
    for await (const page of rt.projects.list().pages({ limit: 50 })) pages.push(page.data.length);
    expect(pages).toEqual([50, 50, whole.data.length - 100]);
  });

  it('reads RUNTOOLS_API_KEY and RUNTOOLS_API_URL when not given', async () => {
    const saved = { key: process.env.RUNTOOLS_API_KEY, url: process.env.RUNTOOLS_API_URL };
    process.env.RUNTOOLS_API_KEY = server.adminKey;
    process.env.RUNTOOLS_API_URL = server.url;
    try {
      // A route that needs the key: it answers only if the client sent the one from the environment.
      const fromEnv = await new RunTools().auth.whoami();
      expect(fromEnv.org.id).toBe((await rt.auth.whoami()).org.id);
      delete process.env.RUNTOOLS_API_KEY;
      expect(() => new RunTools()).toThrow(AuthenticationError);
    } finally {
      if (saved.key === undefined) delete process.env.RUNTOOLS_API_KEY;
      else process.env.RUNTOOLS_API_KEY = saved.key;
      if (saved.url === undefined) delete process.env.RUNTOOLS_API_URL;
      else process.env.RUNTOOLS_API_URL = saved.url;
    }
  });
});
