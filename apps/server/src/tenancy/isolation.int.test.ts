import { type RouteContract, type RouteId, routes } from '@runtools/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember } from '../../../../test/support/members.js';
import { type ModelServer, startModelServer } from '../../../../test/support/model-server.js';
import { concretePath, linkNode } from '../../../../test/support/route-params.js';
import { useSandboxServer } from '../../../../test/support/server.js';

/** Everything an org has, one of each kind a route names by path parameter, and how to read it back. */
interface OrgFixture {
  key: string;
  /** A value for every path parameter of the route table, each naming something of this org. */
  params: Record<string, string>;
  /** This org's provider (the route `/v1/providers/:name` names a provider, not a secret). */
  providerName: string;
  runId: string;
  threadId: string;
  /** The webhook trigger beside the cron one in `params.triggerId`. */
  hookTriggerId: string;
  /** The token of this org's RunMesh node (`params.node`). */
  nodeToken: string;
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

/**
 * A request each route accepts on its own org's resources, so that refusing it is the ownership check and
 * never validation (a function: made from the victim's params). A route with a body or a required query and
 * no entry here fails the test: a new route is attacked from the day it lands.
 */
const validBodies: Partial<Record<RouteId, unknown>> = {
  orgsUpdate: { name: 'pwned' },
  projectsUpdate: { name: 'pwned' },
  membersUpdate: { role: 'admin' },
  workspacesRename: { name: 'pwned' },
  workspaceFilesMkdir: { path: '/pwned' },
  workspaceFilesMove: { from: '/notes.txt', to: '/moved.txt' },
  workspaceFilesCopy: { from: '/notes.txt', to: '/copied.txt' },
  workspaceFilesRename: { path: '/notes.txt', name: 'renamed.txt' },
  sandboxesExec: { command: 'echo pwned > /root/note' },
  sandboxesExecStream: { command: 'echo pwned > /root/note' },
  sandboxFilesWrite: { path: '/root/note', content: Buffer.from('pwned').toString('base64') },
  sandboxFilesMove: { from: '/root/note', to: '/root/moved' },
  sandboxFilesRemove: { path: '/root/note' },
  sandboxFilesMkdir: { path: '/root/pwned' },
  sandboxesSnapshotsCreate: { name: 'pwned' },
  sandboxesRollback: { snapshot: 'base' },
  sandboxesBranch: { snapshot: 'base' },
  sandboxesUrlsCreate: { port: 8000, public: true },
  sandboxProcessesStart: { command: 'sleep 1' },
  sandboxProcessesStdin: { data: Buffer.from('x').toString('base64'), eof: true },
  sandboxProcessesResize: { cols: 80, rows: 24 },
  sandboxProcessesSignal: { signal: 'KILL' },
  agentsUpdate: { systemPrompt: 'pwned' },
  agentRunsCreate: { prompt: 'pwned' },
  agentRunsStream: { prompt: 'pwned' },
  toolsExecute: { action: 'run', params: {} },
  toolsCredentialsSet: { credentials: { token: 'pwned' } },
  workflowsPublish: { visibility: 'org', note: 'pwned' },
  workflowsRun: { input: { pwned: true } },
  workflowTriggersCreate: { kind: 'webhook', input: { pwned: true } },
  workflowApprovalsResolve: { approved: true, comment: 'pwned' },
  // Another member of the victim's org, allowed on the victim's node: refused only because the node is not ours.
  meshNodeAllow: (params: Record<string, string>) => ({ member: params.memberId }),
};

/** Raw bodies, with their content type. */
const rawBodies: Record<NonNullable<RouteContract['rawBody']>, { contentType: string; body: string }> = {
  'octet-stream': { contentType: 'application/octet-stream', body: 'pwned' },
  any: { contentType: 'application/json', body: '{"pwned":true}' },
  multipart: {
    contentType: 'multipart/form-data; boundary=x',
    body: '--x\r\nContent-Disposition: form-data; name="file"; filename="pwned.txt"\r\n\r\npwned\r\n--x--\r\n',
  },
};

/**
 * Routes where another org's id is not refused but means something of the caller's own: PUT of an agent
 * slug creates (or replaces) the caller's own agent of that slug; an OAuth app is named by its provider, so
 * PUT or DELETE of /v1/oauth/apps/github is the caller's own app. Each is checked on its own below.
 */
const ownNamespace = new Set<RouteId>(['agentsPut', 'oauthAppSet', 'oauthAppDelete']);

function queryFor(id: RouteId, contract: RouteContract): string {
  if (!contract.query) return '';
  const shape = (contract.query as unknown as { shape: Record<string, unknown> }).shape;
  // The marketplace search needs its query.
  if ('q' in shape) return '?q=github';
  // GET /v1/workspaces/:workspaceId/direct names the file as ?id=.
  if ('id' in shape) return `?id=${encodeURIComponent('/notes.txt')}`;
  if (!('path' in shape)) return '';
  // Sandbox routes take absolute paths inside the sandbox; workspace routes paths inside the workspace.
  return `?path=${encodeURIComponent(id.startsWith('workspace') ? '/notes.txt' : '/root/note')}`;
}

describe('cross-org isolation', () => {
  let model: ModelServer;
  const fixture = useSandboxServer(async () => {
    model = await startModelServer();
    return {};
  });
  const server = () => fixture.server;
  let a: OrgFixture;
  let b: OrgFixture;

  async function populate(key: string, tag: string): Promise<OrgFixture> {
    const request = (method: string, path: string, body?: unknown) =>
      server().request(method, path, { key, ...(body === undefined ? {} : { body }) });
    const me = await json<{ org: { id: string }; member: { id: string } }>(await request('GET', '/v1/me'), 200);
    const project = await json<{ id: string }>(await request('POST', '/v1/projects', { name: `p ${tag}` }), 201);
    await json(await request('POST', '/v1/secrets', { name: `SECRET_${tag}`, value: `value-${tag}` }), 201);
    const sshKey = await json<{ id: string }>(
      await request('POST', '/v1/ssh-keys', { name: tag, publicKey: ed25519(tag) }),
      201,
    );
    const apiKey = await json<{ id: string }>(
      await request('POST', '/v1/auth/keys', { name: tag, scopes: ['secrets:read'] }),
      201,
    );
    const session = await json<{ id: string }>(
      await server().request('POST', '/v1/dashboard/sessions', { key: null, body: { apiKey: key } }),
      201,
    );
    const member = await addMember(server(), `member-${tag.toLowerCase()}@example.com`, 'member', key);
    const invitation = await json<{ invitation: { id: string } }>(
      await request('POST', '/v1/invitations', { email: `invitee-${tag.toLowerCase()}@example.com` }),
      201,
    );
    const workspace = await json<{ id: string }>(await request('POST', '/v1/workspaces', { name: `w ${tag}` }), 201);
    await json(
      await server().request('PUT', `/v1/workspaces/${workspace.id}/files/content?path=%2Fnotes.txt`, {
        key,
        body: `notes of ${tag}`,
        headers: { 'content-type': 'application/octet-stream' },
      }),
      200,
    );
    const sandbox = await json<{ id: string }>(await request('POST', '/v1/sandboxes', { runtime: 'container' }), 201);
    fixture.track({ destroy: () => server().request('DELETE', `/v1/sandboxes/${sandbox.id}`, { key }) });
    await json(
      await request('PUT', `/v1/sandboxes/${sandbox.id}/files`, {
        path: '/root/note',
        content: Buffer.from(`note of ${tag}`).toString('base64'),
      }),
      200,
    );
    const process = await json<{ pid: number }>(
      await request('POST', `/v1/sandboxes/${sandbox.id}/processes`, { command: 'sleep 100000' }),
      201,
    );
    await json(await request('POST', `/v1/sandboxes/${sandbox.id}/snapshots`, { name: 'base' }), 201);
    await json(await request('POST', `/v1/sandboxes/${sandbox.id}/urls`, { port: 8000 }), 200);
    const template = `tpl-${tag.toLowerCase()}`;
    await json(await request('POST', '/v1/templates', { name: template, base: 'minimal' }), 201);
    const providerName = `models-${tag.toLowerCase()}`;
    await json(
      await request('POST', '/v1/providers', {
        name: providerName,
        type: 'openai-compatible',
        baseUrl: model.openaiBaseUrl,
        apiKeySecret: `SECRET_${tag}`,
      }),
      201,
    );
    // A custom tool of the org's own, with a stored credential (deployed, not run: no runner is needed).
    const toolName = `tool-${tag.toLowerCase()}`;
    await json(
      await request('POST', '/v1/tools/custom', {
        name: toolName,
        description: `tool of ${tag}`,
        credentials: { required: ['token'], schema: { token: { type: 'string' } } },
        actions: [{ name: 'run', description: 'runs', parameters: { type: 'object', properties: {} } }],
        bundle: Buffer.from('export default { actions: { run: { execute: async () => ({}) } } };').toString('base64'),
      }),
      200,
    );
    await json(
      await request('PUT', `/v1/tools/${toolName}/credentials`, { credentials: { token: `value-${tag}` } }),
      200,
    );
    // An OAuth app at GitHub and a connection started with it (pending: no provider is reached).
    await json(
      await request('PUT', '/v1/oauth/apps/github', { clientId: `app-${tag}`, clientSecret: `value-${tag}` }),
      200,
    );
    const connection = await json<{ connection: { id: string } }>(
      await request('POST', '/v1/oauth/connections', { provider: 'github' }),
      201,
    );
    // A RunMesh device linked as a node of the org, approved by the key's member, and another member allowed on it.
    const node = await linkNode(server(), `node-${tag.toLowerCase()}`, key);
    await json(await request('POST', `/v1/mesh/nodes/${node.node.id}/allow`, { member: member.member.id }), 200);
    const slug = `agent-${tag.toLowerCase()}`;
    await json(
      await request('POST', '/v1/agents', { slug, model: `${providerName}/m1`, sandbox: sandbox.id, tools: [] }),
      201,
    );
    model.script([{ text: `answer of ${tag}` }]);
    const run = await json<{ id: string; threadId: string }>(
      await request('POST', `/v1/agents/${slug}/runs`, { prompt: `question of ${tag}`, thread: true }),
      201,
    );
    for (let attempt = 0; attempt < 100; attempt++) {
      const state = await json<{ status: string }>(await request('GET', `/v1/runs/${run.id}`), 200);
      if (state.status === 'completed') break;
      expect(['queued', 'running']).toContain(state.status);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // A workflow named like the agent (slugs are per kind), published, with a cron and a webhook trigger and a
    // run waiting for its approval.
    await json(
      await request('POST', '/v1/workflows', {
        name: `workflow ${tag}`,
        slug,
        graph: {
          nodes: [
            { id: 'gate', type: 'approval', config: { message: `approve for ${tag}` } },
            { id: 'out', type: 'output', config: { expression: 'input' } },
          ],
          edges: [{ source: 'gate', target: 'out' }],
        },
      }),
      200,
    );
    await json(await request('POST', `/v1/workflows/${slug}/publish`, { visibility: 'org' }), 201);
    const cron = await json<{ id: string }>(
      await request('POST', `/v1/workflows/${slug}/triggers`, { kind: 'cron', schedule: '0 0 1 1 *' }),
      201,
    );
    const hook = await json<{ id: string; url: string }>(
      await request('POST', `/v1/workflows/${slug}/triggers`, { kind: 'webhook' }),
      201,
    );
    const workflowRun = await json<{ runId: string }>(
      await request('POST', `/v1/workflows/${slug}/runs`, { input: { of: tag } }),
      201,
    );
    let approvalId: string | undefined;
    for (let attempt = 0; attempt < 200 && !approvalId; attempt++) {
      const approvals = await json<{ data: { id: string }[] }>(
        await request('GET', `/v1/workflow-approvals?runId=${workflowRun.runId}`),
        200,
      );
      approvalId = approvals.data[0]?.id;
      if (!approvalId) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(approvalId).toBeDefined();
    return {
      hookTriggerId: hook.id,
      nodeToken: node.nodeToken,
      key,
      providerName,
      runId: run.id,
      threadId: run.threadId,
      params: {
        orgId: me.org.id,
        projectId: project.id,
        memberId: member.member.id,
        keyId: apiKey.id,
        sshKeyId: sshKey.id,
        name: `SECRET_${tag}`,
        sandboxId: sandbox.id,
        pid: String(process.pid),
        templateName: template,
        workspaceId: workspace.id,
        // The rest of a workspace file route's URL (`/files/:path{.+}`, `/upload/:path{.+}`): a path in it.
        path: 'inbox',
        snapshotId: (
          await json<{ data: { id: string }[] }>(await request('GET', `/v1/sandboxes/${sandbox.id}/snapshots`), 200)
        ).data[0]?.id as string,
        port: '8000',
        slug,
        runId: run.id,
        threadId: run.threadId,
        invitationId: invitation.invitation.id,
        toolName,
        provider: 'github',
        connectionId: connection.connection.id,
        version: '1',
        triggerId: cron.id,
        workflowRunId: workflowRun.runId,
        approvalId: approvalId as string,
        token: new URL(hook.url).pathname.split('/').pop() as string,
        linkId: node.linkId,
        // The code the org approved its node with: spent, and no other org's to look up.
        code: node.code,
        node: node.node.id,
        member: member.member.id,
        sessionId: session.id,
      },
    };
  }

  beforeAll(async () => {
    a = await populate(server().adminKey, 'A');
    // Org B belongs to a different person: the admin creates it, brings bob in as its owner, and leaves.
    const created = await json<{ apiKey: { key: string }; org: { id: string } }>(
      await server().request('POST', '/v1/orgs', { body: { name: 'Org B' } }),
      201,
    );
    const bob = await addMember(server(), 'bob@b.example', 'owner', created.apiKey.key);
    const adminInB = await json<{ data: { id: string; email: string }[] }>(
      await server().request('GET', '/v1/members', { key: bob.apiKey.key }),
      200,
    );
    const adminMember = adminInB.data.find((member) => member.email === 'admin@localhost');
    await json(await server().request('DELETE', `/v1/members/${adminMember?.id}`, { key: bob.apiKey.key }), 200);
    b = await populate(bob.apiKey.key, 'B');
    expect(b.params.orgId).toBe(created.org.id);
  }, 10 * 60_000);
  afterAll(() => model?.close());

  const attacked = (Object.entries(routes) as [RouteId, RouteContract][]).filter(
    ([id, contract]) => contract.auth === 'key' && contract.path.includes('/:') && !ownNamespace.has(id),
  );

  it("answers 404, not 403, for every one of another org's ids on every route that takes one", async () => {
    const outcomes: string[] = [];
    for (const [attacker, victim] of [
      [a, b],
      [b, a],
    ] as const) {
      for (const [id, contract] of attacked) {
        const values = id === 'providersDelete' ? { ...victim.params, name: victim.providerName } : victim.params;
        const path = concretePath(contract.path, values) + queryFor(id, contract);
        let body: unknown;
        const headers: Record<string, string> = {};
        if (contract.body) {
          if (!(id in validBodies)) throw new Error(`add a valid body for ${id} to validBodies`);
          const valid = validBodies[id];
          body =
            typeof valid === 'function' ? (valid as (params: Record<string, string>) => unknown)(victim.params) : valid;
        } else if (contract.rawBody) {
          body = rawBodies[contract.rawBody].body;
          headers['content-type'] = rawBodies[contract.rawBody].contentType;
        }
        const response = await server().request(contract.method, path, { key: attacker.key, body, headers });
        const text = await response.text();
        outcomes.push(`${id} ${response.status}`);
        expect([id, path, response.status]).toEqual([id, path, 404]);
        // Nothing of what it holds comes back, not even in an error.
        expect([id, text.includes(`value-${victim.params.name?.slice('SECRET_'.length)}`)]).toEqual([id, false]);
      }
    }
    expect(outcomes.length).toBe(attacked.length * 2);
  });

  it("answers 404 to a node's token for another org's ids, and to a key for another org's link codes", async () => {
    const nodeRoutes = (Object.entries(routes) as [RouteId, RouteContract][]).filter(
      ([, contract]) => contract.nodeToken && contract.path.includes('/:'),
    );
    expect(nodeRoutes.length).toBeGreaterThan(0);
    for (const [attacker, victim] of [
      [a, b],
      [b, a],
    ] as const) {
      for (const [id, contract] of nodeRoutes) {
        const path = concretePath(contract.path, victim.params) + queryFor(id, contract);
        const response = await server().request(contract.method, path, { key: attacker.nodeToken });
        expect([id, path, response.status]).toEqual([id, path, 404]);
      }
      // A device's own run: not with another org's agent (by token or key), nor in another org's thread (the
      // thread is looked up as for any key: a node's token cannot reach it with this agent, whose sandbox it
      // may not use, and answers 403 insufficient_scope before any thread is read).
      for (const [key, body] of [
        [attacker.nodeToken, { agent: victim.params.slug, prompt: 'pwned' }],
        [attacker.key, { agent: victim.params.slug, prompt: 'pwned' }],
        [attacker.key, { agent: attacker.params.slug, prompt: 'pwned', threadId: victim.threadId }],
      ] as const) {
        const response = await server().request('POST', '/v1/run', { key, body });
        const error = ((await response.json()) as { error?: { code: string } }).error?.code;
        expect([body, key === attacker.key, response.status, error]).toEqual([
          body,
          key === attacker.key,
          404,
          body.agent === victim.params.slug ? 'agent_not_found' : 'thread_not_found',
        ]);
      }
      // The code the victim approved its node with: another org neither sees it nor decides it.
      for (const [method, path, body] of [
        ['GET', `/v1/mesh/links/code/${victim.params.code}`, undefined],
        ['POST', '/v1/mesh/links/approve', { code: victim.params.code }],
        ['POST', '/v1/mesh/links/deny', { code: victim.params.code }],
      ] as const) {
        const response = await server().request(method, path, { key: attacker.key, body });
        const error = ((await response.json()) as { error?: { code: string } }).error?.code;
        expect([method, path, response.status, error]).toEqual([method, path, 404, 'mesh_link_not_found']);
      }
    }
  });

  it("answers 404 for another org's trigger under the caller's own workflow", async () => {
    for (const [attacker, victim] of [
      [a, b],
      [b, a],
    ] as const) {
      for (const triggerId of [victim.params.triggerId, victim.hookTriggerId]) {
        const path = `/v1/workflows/${attacker.params.slug}/triggers/${triggerId}`;
        const response = await server().request('DELETE', path, { key: attacker.key });
        expect([path, response.status]).toEqual([path, 404]);
      }
    }
  });

  it("means the caller's own namespace where another org's name is not an id (PUT /v1/agents/:slug)", async () => {
    const put = await json<{ id: string; slug: string }>(
      await server().request('PUT', `/v1/agents/${b.params.slug}`, {
        key: a.key,
        body: { model: 'claude-haiku-4.5', tools: [] },
      }),
      200,
    );
    const theirs = await json<{ id: string }>(
      await server().request('GET', `/v1/agents/${b.params.slug}`, { key: b.key }),
      200,
    );
    expect(put.id).not.toBe(theirs.id);
    await json(await server().request('DELETE', `/v1/agents/${b.params.slug}`, { key: a.key }), 200);
  });

  it("means the caller's own app where another org's provider is named (PUT /v1/oauth/apps/:provider)", async () => {
    await json(
      await server().request('PUT', '/v1/oauth/apps/github', {
        key: a.key,
        body: { clientId: 'app-A', clientSecret: 'x' },
      }),
      200,
    );
    const theirs = await json<{ data: { provider: string; clientId: string }[] }>(
      await server().request('GET', '/v1/oauth/apps', { key: b.key }),
      200,
    );
    expect(theirs.data.map((app) => `${app.provider} ${app.clientId}`)).toEqual(['github app-B']);
  });

  it("never lists another org's data", async () => {
    const lists = (Object.entries(routes) as [RouteId, RouteContract][])
      .filter(([, contract]) => contract.auth === 'key' && contract.method === 'GET' && !contract.path.includes(':'))
      .map(([id, contract]) => contract.path + queryFor(id, contract));
    expect(lists.length).toBeGreaterThan(10);
    for (const [viewer, other] of [
      [a, b],
      [b, a],
    ] as const) {
      for (const path of lists) {
        const text = JSON.stringify(await json(await server().request('GET', path, { key: viewer.key }), 200));
        for (const [name, id] of Object.entries(other.params)) {
          // A template's or agent's name is not an id: another org may have the same one of its own.
          // Nor is a workspace path (the marketplace's mail tools speak of an inbox) or a provider's name.
          // A version is a small number, which any list has in it.
          if (name === 'port' || name === 'pid' || name === 'path' || name === 'provider' || name === 'version')
            continue;
          expect([path, name, text.includes(id)]).toEqual([path, name, false]);
        }
      }
    }
  });

  it("leaves the other org's data intact after the attempts: everything attacked, read back", async () => {
    for (const [victim, tag] of [
      [a, 'A'],
      [b, 'B'],
    ] as const) {
      const get = async <T>(path: string) => json<T>(await server().request('GET', path, { key: victim.key }), 200);
      const p = victim.params;
      expect((await get<{ name: string }>(`/v1/orgs/${p.orgId}`)).name).toBe(tag === 'A' ? 'Default' : 'Org B');
      expect((await get<{ name: string }>(`/v1/projects/${p.projectId}`)).name).toBe(`p ${tag}`);
      expect((await get<{ value: string }>(`/v1/secrets/${p.name}`)).value).toBe(`value-${tag}`);
      expect((await get<{ data: { id: string }[] }>('/v1/ssh-keys')).data.map((key) => key.id)).toContain(p.sshKeyId);
      expect((await get<{ revokedAt: string | null }>(`/v1/auth/keys/${p.keyId}`)).revokedAt).toBeNull();
      expect(await get(`/v1/oauth/connections/${p.connectionId}`)).toMatchObject({
        status: 'pending',
        isDefault: false,
      });
      expect((await get<{ data: { clientId: string }[] }>('/v1/oauth/apps')).data.map((app) => app.clientId)).toEqual([
        `app-${tag}`,
      ]);
      const members = await get<{ data: { id: string; role: string }[] }>('/v1/members');
      expect(members.data.find((member) => member.id === p.memberId)?.role).toBe('member');
      const invitations = await get<{ data: { id: string; status: string }[] }>('/v1/invitations');
      expect(invitations.data.find((invitation) => invitation.id === p.invitationId)?.status).toBe('pending');
      expect((await get<{ name: string }>(`/v1/workspaces/${p.workspaceId}`)).name).toBe(`w ${tag}`);
      const notes = await server().request('GET', `/v1/workspaces/${p.workspaceId}/files/content?path=%2Fnotes.txt`, {
        key: victim.key,
      });
      expect(await notes.text()).toBe(`notes of ${tag}`);
      const workspaceFiles = await get<{ data: { name: string }[] }>(`/v1/workspaces/${p.workspaceId}/files`);
      expect(workspaceFiles.data.map((entry) => entry.name).sort()).toEqual(['notes.txt']);
      expect((await get<{ status: string }>(`/v1/sandboxes/${p.sandboxId}`)).status).toBe('running');
      const note = await get<{ content: string }>(`/v1/sandboxes/${p.sandboxId}/files?path=%2Froot%2Fnote`);
      expect(Buffer.from(note.content, 'base64').toString()).toBe(`note of ${tag}`);
      const rootFiles = await get<{ data: { name: string }[] }>(`/v1/sandboxes/${p.sandboxId}/files/list?path=%2Froot`);
      expect(rootFiles.data.map((entry) => entry.name)).not.toContain('pwned');
      expect((await get<{ running: boolean }>(`/v1/sandboxes/${p.sandboxId}/processes/${p.pid}`)).running).toBe(true);
      const snapshots = await get<{ data: { id: string; name: string }[] }>(`/v1/sandboxes/${p.sandboxId}/snapshots`);
      expect(snapshots.data.map((snapshot) => snapshot.name)).toEqual(['base']);
      const urls = await get<{ data: { port: number; public: boolean }[] }>(`/v1/sandboxes/${p.sandboxId}/urls`);
      expect(urls.data.map((url) => [url.port, url.public])).toEqual([[8000, false]]);
      const sandboxes = await get<{ data: { id: string }[] }>('/v1/sandboxes');
      expect(sandboxes.data.map((sandbox) => sandbox.id)).toEqual([p.sandboxId]);
      expect((await get<{ name: string }>(`/v1/templates/${p.templateName}`)).name).toBe(p.templateName);
      const tool = await get<{ version: number; credentials: { configured: Record<string, string> } }>(
        `/v1/tools/${p.toolName}`,
      );
      expect([tool.version, tool.credentials.configured]).toEqual([1, { token: 'stored' }]);
      const executions = await get<{ data: unknown[] }>('/v1/tools/executions');
      expect(executions.data).toEqual([]);
      const agent = await get<{ version: number; systemPrompt: string }>(`/v1/agents/${p.slug}`);
      expect([agent.version, agent.systemPrompt]).toEqual([1, '']);
      expect((await get<{ data: { name: string }[] }>('/v1/providers')).data.map((item) => item.name)).toEqual([
        victim.providerName,
      ]);
      const runs = await get<{ data: { id: string; status: string }[] }>('/v1/runs');
      expect(runs.data.map((run) => [run.id, run.status])).toEqual([[victim.runId, 'completed']]);
      expect((await get<{ id: string }>(`/v1/threads/${victim.threadId}`)).id).toBe(victim.threadId);
      const messages = await get<{ data: unknown[] }>(`/v1/threads/${victim.threadId}/messages`);
      expect(JSON.stringify(messages.data)).toContain(`answer of ${tag}`);
      // The workflow, its one version, its two triggers, its run still waiting for its approval: its own only.
      const workflow = await get<{ draftRevision: number; latestVersion: number }>(`/v1/workflows/${p.slug}`);
      expect([workflow.draftRevision, workflow.latestVersion]).toEqual([1, 1]);
      expect((await get<{ data: { slug: string }[] }>('/v1/workflows')).data.map((item) => item.slug)).toEqual([
        p.slug,
      ]);
      const versions = await get<{ data: { version: number; note: string | null }[] }>(
        `/v1/workflows/${p.slug}/versions`,
      );
      expect(versions.data.map((version) => [version.version, version.note])).toEqual([[1, null]]);
      const triggers = await get<{ data: { id: string; input: unknown }[] }>(`/v1/workflows/${p.slug}/triggers`);
      expect(triggers.data.map((trigger) => [trigger.id, trigger.input])).toEqual([
        [p.triggerId, {}],
        [victim.hookTriggerId, {}],
      ]);
      const workflowRuns = await get<{ data: { runId: string; status: string; input: unknown }[] }>(
        '/v1/workflow-runs',
      );
      expect(workflowRuns.data.map((run) => [run.runId, run.status, run.input])).toEqual([
        [p.workflowRunId, 'waiting', { of: tag }],
      ]);
      // Its node: still active, still allowing its member, its token still good for its own config.
      const meshNode = await get<{ status: string; allowedMembers: { memberId: string }[] }>(
        `/v1/mesh/nodes/${p.node}`,
      );
      expect([meshNode.status, meshNode.allowedMembers.map((member) => member.memberId)]).toEqual([
        'active',
        [p.member],
      ]);
      const config = await server().request('GET', `/v1/mesh/nodes/${p.node}/config`, { key: victim.nodeToken });
      expect(config.status).toBe(200);
      const approvals = await get<{ data: { id: string; status: string; comment: string | null }[] }>(
        '/v1/workflow-approvals',
      );
      expect(approvals.data.map((approval) => [approval.id, approval.status, approval.comment])).toEqual([
        [p.approvalId, 'pending', null],
      ]);
      const log = await server().request('GET', `/v1/workflow-runs/${p.workflowRunId}/events?follow=false`, {
        key: victim.key,
      });
      const types = (await log.text())
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => (JSON.parse(line.slice('data:'.length)) as { type: string }).type);
      expect(types).toEqual(expect.arrayContaining(['approval.requested', 'run.waiting']));
      expect(types.filter((type) => /resolved|cancelled|completed/.test(type))).toEqual([]);
    }
  });

  it('lets the same SSH key be registered in two orgs, but only once per org', async () => {
    const publicKey = ed25519('shared');
    await json(await server().request('POST', '/v1/ssh-keys', { key: a.key, body: { name: 'x', publicKey } }), 201);
    await json(await server().request('POST', '/v1/ssh-keys', { key: b.key, body: { name: 'x', publicKey } }), 201);
    const again = await server().request('POST', '/v1/ssh-keys', { key: a.key, body: { name: 'y', publicKey } });
    expect((await json<{ error: { code: string } }>(again, 409)).error.code).toBe('ssh_key_exists');
  });
});
