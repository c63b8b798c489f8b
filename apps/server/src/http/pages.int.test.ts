import { type RouteContract, type RouteId, routes } from '@runtools/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember } from '../../../../test/support/members.js';
import { type ModelServer, startModelServer } from '../../../../test/support/model-server.js';
import { linkNode } from '../../../../test/support/route-params.js';
import { useSandboxServer } from '../../../../test/support/server.js';
import { ed25519KeyPair } from '../../../../test/support/ssh-keys.js';

type Item = Record<string, unknown>;
interface Page {
  data: Item[];
  nextCursor: string | null;
}

/** How one list is read in this test: its path, its other query, how many items it has at least, its order. */
interface ListCase {
  path: string;
  query?: Record<string, string>;
  min: number;
  /** The documented order, by fields of the items (checked on the whole list). */
  order?: [field: string, direction: 'asc' | 'desc'][];
  /** What tells its items apart (default: `id`, else `name`). */
  identity?: (item: Item) => unknown;
}

/** Every list route that pages with a cursor: the route table's GET routes answering `{ data, nextCursor }`. */
const pageRoutes = (Object.entries(routes) as [RouteId, RouteContract][])
  .filter(([, contract]) => {
    if (contract.method !== 'GET' || contract.stream) return false;
    const shape = (contract.response as { shape?: Record<string, unknown> }).shape;
    return shape !== undefined && 'data' in shape && 'nextCursor' in shape;
  })
  .map(([id]) => id);

const oldestFirst: ListCase['order'] = [
  ['createdAt', 'asc'],
  ['id', 'asc'],
];

function compareValues(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const [x, y] = [String(a), String(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

function expectOrdered(id: RouteId, items: Item[], order: NonNullable<ListCase['order']>): void {
  for (let index = 1; index < items.length; index++) {
    const [before, after] = [items[index - 1] as Item, items[index] as Item];
    let verdict = 0;
    for (const [field, direction] of order) {
      verdict = compareValues(before[field], after[field]) * (direction === 'asc' ? 1 : -1);
      if (verdict !== 0) break;
    }
    expect([id, index, verdict < 0]).toEqual([id, index, true]);
  }
}

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('paged lists', () => {
  let model: ModelServer;
  const fixture = useSandboxServer(async () => {
    model = await startModelServer();
    return {};
  });
  afterAll(async () => model?.close());
  const server = () => fixture.server;
  // By name rather than RouteId: a case may be written for a route still on its way into the table.
  const cases: Record<string, ListCase> = {};

  async function send(method: string, path: string, body?: unknown, status = 201): Promise<Item> {
    const response = await server().request(method, path, body === undefined ? {} : { body });
    const text = await response.text();
    expect([method, path, response.status, text]).toEqual([method, path, status, expect.any(String)]);
    return text === '' ? {} : (JSON.parse(text) as Item);
  }

  async function list(entry: ListCase, query: Record<string, string>): Promise<Response> {
    const search = new URLSearchParams({ ...entry.query, ...query });
    return server().request('GET', `${entry.path}?${search}`);
  }

  async function page(entry: ListCase, query: Record<string, string>): Promise<Page> {
    const response = await list(entry, query);
    const text = await response.text();
    expect([entry.path, query, response.status, text]).toEqual([entry.path, query, 200, expect.any(String)]);
    return JSON.parse(text) as Page;
  }

  async function waitForRun(runId: string): Promise<void> {
    for (let attempt = 0; attempt < 300; attempt++) {
      const run = await send('GET', `/v1/runs/${runId}`, undefined, 200);
      if (run.status === 'completed') return;
      expect(['queued', 'running']).toContain(run.status);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`run ${runId} did not complete`);
  }

  beforeAll(async () => {
    // Tenancy: projects beside the default one, members (each an invitation and a key too), invitations.
    for (const name of ['pages a', 'pages b', 'pages c']) await send('POST', '/v1/projects', { name });
    for (const name of ['ann', 'bob']) await addMember(server(), `${name}@pages.example`, 'member');
    await send('POST', '/v1/invitations', { email: 'carl@pages.example' });
    // Credentials: keys, SSH keys, and more secrets than a default page holds.
    for (const name of ['pages a', 'pages b']) await send('POST', '/v1/auth/keys', { name, scopes: ['secrets:read'] });
    for (const name of ['pages a', 'pages b', 'pages c']) {
      const publicKey = ed25519KeyPair().public;
      await send('POST', '/v1/ssh-keys', { name, publicKey });
    }
    for (let index = 0; index < 101; index++)
      await send('POST', '/v1/secrets', { name: `PAGES_${String(index).padStart(3, '0')}`, value: `v${index}` });
    // Sandboxes (crun), and in one of them files, processes, snapshots and dev URLs.
    const sandboxes: Item[] = [];
    for (let index = 0; index < 3; index++) {
      const sandbox = await send('POST', '/v1/sandboxes', { runtime: 'container' });
      fixture.track({ destroy: () => server().request('DELETE', `/v1/sandboxes/${sandbox.id}`) });
      sandboxes.push(sandbox);
    }
    const sandboxId = String(sandboxes[0]?.id);
    for (const name of ['c', 'a', 'b'])
      await send('PUT', `/v1/sandboxes/${sandboxId}/files`, { path: `/root/pages/${name}`, content: 'eA==' }, 200);
    for (let index = 0; index < 3; index++)
      await send('POST', `/v1/sandboxes/${sandboxId}/processes`, { command: 'sleep 100000' });
    for (const name of ['one', 'two', 'three']) await send('POST', `/v1/sandboxes/${sandboxId}/snapshots`, { name });
    for (const port of [8003, 8001, 8002]) await send('POST', `/v1/sandboxes/${sandboxId}/urls`, { port }, 200);
    // Templates: the built-ins, then two of the org's own (defined, not built).
    for (const name of ['pages-b', 'pages-a']) await send('POST', '/v1/templates', { name, base: 'minimal' });
    // Workspaces, and files in a directory of one of them.
    const workspaces: Item[] = [];
    for (const name of ['pages a', 'pages b', 'pages c'])
      workspaces.push(await send('POST', '/v1/workspaces', { name }));
    const workspaceId = String(workspaces[0]?.id);
    for (const name of ['b.txt', 'c.txt', 'a.txt']) {
      const response = await server().request(
        'PUT',
        `/v1/workspaces/${workspaceId}/files/content?path=/pages/${name}`,
        {
          body: name,
          headers: { 'content-type': 'application/octet-stream' },
        },
      );
      expect(response.status).toBe(200);
    }
    // Agents: providers, agents (one changed twice: three versions), runs in threads (one thread twice).
    for (const name of ['pages-models', 'pages-b', 'pages-c'])
      await send('POST', '/v1/providers', { name, type: 'openai-compatible', baseUrl: model.openaiBaseUrl });
    for (const slug of ['pages-agent', 'pages-c', 'pages-b'])
      await send('POST', '/v1/agents', { slug, model: 'pages-models/m1', sandbox: sandboxId, tools: [] });
    for (const systemPrompt of ['second', 'third'])
      await send('PATCH', '/v1/agents/pages-agent', { systemPrompt }, 200);
    model.script([{ text: 'one' }, { text: 'two' }, { text: 'three' }, { text: 'four' }]);
    let threadId = '';
    for (const thread of [true, 'first', true, true] as const) {
      const run = await send('POST', '/v1/agents/pages-agent/runs', {
        prompt: 'hello',
        thread: thread === 'first' ? threadId : true,
      });
      threadId ||= String(run.threadId);
      await waitForRun(String(run.id));
    }
    // Tools: one installed from the marketplace, one of the org's own deployed three times.
    await send('POST', '/v1/tools/github/install', undefined, 200);
    for (const answer of [1, 2, 3])
      await send(
        'POST',
        '/v1/tools/custom',
        {
          name: 'pages-tool',
          description: 'a tool of the pages test',
          actions: [{ name: 'answer', description: 'answers', parameters: { type: 'object', properties: {} } }],
          bundle: Buffer.from(`export default { actions: { answer: () => ${answer} } };`).toString('base64'),
        },
        200,
      );

    // OAuth: apps at three providers, three flows started (pending connections).
    for (const provider of ['github', 'google', 'slack']) {
      await send('PUT', `/v1/oauth/apps/${provider}`, { clientId: `${provider}-app`, clientSecret: 'x' }, 200);
    }
    for (const provider of ['github', 'google', 'slack'])
      await send('POST', '/v1/oauth/connections', { provider }, 201);

    // Workflows: three (one published three times, with three cron triggers that fire next year or later), and
    // three runs of it, each waiting for its approval.
    const gated = {
      nodes: [
        { id: 'gate', type: 'approval', config: { message: 'pages' } },
        { id: 'out', type: 'output', config: { expression: '1' } },
      ],
      edges: [{ source: 'gate', target: 'out' }],
    };
    for (const name of ['Pages flow', 'Pages c', 'Pages b'])
      await send('POST', '/v1/workflows', { name, graph: gated }, 200);
    for (const note of ['one', 'two', 'three'])
      await send('POST', '/v1/workflows/pages-flow/publish', { visibility: 'org', note });
    for (const schedule of ['0 0 1 1 *', '0 0 2 1 *', '0 0 3 1 *'])
      await send('POST', '/v1/workflows/pages-flow/triggers', { kind: 'cron', schedule });
    for (let index = 0; index < 3; index++) {
      const { runId } = await send('POST', '/v1/workflows/pages-flow/runs', { input: { index } });
      for (let attempt = 0; attempt < 300; attempt++) {
        const approvals = await send('GET', `/v1/workflow-approvals?runId=${runId}`, undefined, 200);
        if ((approvals.data as Item[]).length === 1) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }

    // RunMesh: three devices linked as nodes (each link asked for and approved: entries in the audit log).
    for (const name of ['pages-a', 'pages-b', 'pages-c']) await linkNode(server(), name);
    // Three dashboard sessions of the admin's member.
    for (let index = 0; index < 3; index++) {
      const signedIn = await server().request('POST', '/v1/dashboard/sessions', {
        key: null,
        body: { apiKey: server().adminKey },
      });
      expect(signedIn.status).toBe(201);
    }

    Object.assign(cases, {
      oauthProviders: { path: '/v1/oauth/providers', min: 6, order: [['id', 'asc']] },
      oauthAppsList: {
        path: '/v1/oauth/apps',
        min: 3,
        order: [['provider', 'asc']],
        identity: (item) => item.provider,
      },
      oauthConnectionsList: {
        path: '/v1/oauth/connections',
        min: 3,
        order: [
          ['createdAt', 'desc'],
          ['id', 'asc'],
        ],
      },
      orgsList: { path: '/v1/orgs', min: 1, order: [['id', 'asc']] },
      projectsList: { path: '/v1/projects', min: 4, order: oldestFirst },
      membersList: { path: '/v1/members', min: 3, order: oldestFirst },
      invitationsList: {
        path: '/v1/invitations',
        min: 3,
        order: [
          ['createdAt', 'desc'],
          ['id', 'asc'],
        ],
      },
      keysList: { path: '/v1/auth/keys', min: 4, order: oldestFirst },
      secretsList: { path: '/v1/secrets', min: 101, order: [['name', 'asc']] },
      sshKeysList: { path: '/v1/ssh-keys', min: 3, order: oldestFirst },
      sandboxesList: { path: '/v1/sandboxes', min: 3, order: oldestFirst },
      sandboxFilesList: {
        path: `/v1/sandboxes/${sandboxId}/files/list`,
        query: { path: '/root/pages' },
        min: 3,
        order: [['name', 'asc']],
      },
      sandboxesSnapshotsList: { path: `/v1/sandboxes/${sandboxId}/snapshots`, min: 3, order: oldestFirst },
      sandboxesUrlsList: {
        path: `/v1/sandboxes/${sandboxId}/urls`,
        min: 3,
        order: [['port', 'asc']],
        identity: (item) => item.port,
      },
      sandboxProcessesList: {
        path: `/v1/sandboxes/${sandboxId}/processes`,
        min: 3,
        order: [
          ['startedAt', 'asc'],
          ['pid', 'asc'],
        ],
        identity: (item) => item.pid,
      },
      templatesList: { path: '/v1/templates', min: 6 },
      workspacesList: { path: '/v1/workspaces', min: 3, order: oldestFirst },
      workspaceFilesList: {
        path: `/v1/workspaces/${workspaceId}/files`,
        query: { path: '/pages' },
        min: 3,
        order: [['name', 'asc']],
      },
      workspaceFilesListAt: { path: `/v1/workspaces/${workspaceId}/files/pages`, min: 3, order: [['name', 'asc']] },
      agentsList: { path: '/v1/agents', min: 3, order: [['slug', 'asc']] },
      agentsVersions: {
        path: '/v1/agents/pages-agent/versions',
        min: 3,
        order: [['version', 'desc']],
        identity: (item) => item.version,
      },
      runsList: {
        path: '/v1/runs',
        min: 4,
        order: [
          ['createdAt', 'desc'],
          ['id', 'desc'],
        ],
      },
      threadsList: {
        path: '/v1/threads',
        min: 3,
        order: [
          ['updatedAt', 'desc'],
          ['id', 'asc'],
        ],
      },
      threadsMessages: {
        path: `/v1/threads/${threadId}/messages`,
        min: 4,
        order: [['seq', 'asc']],
        identity: (item) => item.seq,
      },
      providersList: { path: '/v1/providers', min: 3, order: [['name', 'asc']] },
      modelsList: { path: '/v1/models', min: 6, identity: (item) => item.alias ?? item.provider },
      toolsMarketplace: { path: '/v1/tools/marketplace', min: 1, order: [['name', 'asc']] },
      toolsMarketplaceSearch: { path: '/v1/tools/marketplace/search', query: { q: 'git' }, min: 1 },
      toolsExecutions: { path: '/v1/tools/executions', min: 0 },
      toolsList: { path: '/v1/tools', min: 2, order: [['name', 'asc']] },
      toolsVersions: {
        path: '/v1/tools/pages-tool/versions',
        min: 3,
        order: [['version', 'desc']],
        identity: (item) => item.version,
      },
      workflowsList: { path: '/v1/workflows', min: 3, order: [['slug', 'asc']] },
      workflowsVersions: {
        path: '/v1/workflows/pages-flow/versions',
        min: 3,
        order: [['version', 'desc']],
        identity: (item) => item.version,
      },
      workflowTriggersList: { path: '/v1/workflows/pages-flow/triggers', min: 3, order: oldestFirst },
      workflowRunsList: {
        path: '/v1/workflow-runs',
        query: { workflow: 'pages-flow' },
        min: 3,
        order: [
          ['createdAt', 'desc'],
          ['runId', 'desc'],
        ],
        identity: (item) => item.runId,
      },
      workflowApprovalsList: {
        path: '/v1/workflow-approvals',
        query: { status: 'pending' },
        min: 3,
        order: [
          ['createdAt', 'desc'],
          ['id', 'desc'],
        ],
      },
      meshNodesList: {
        path: '/v1/mesh/nodes',
        min: 3,
        order: [
          ['createdAt', 'desc'],
          ['id', 'asc'],
        ],
      },
      meshAudit: {
        path: '/v1/mesh/audit',
        min: 6,
        order: [
          ['at', 'desc'],
          ['id', 'asc'],
        ],
      },
      dashboardSessionsList: {
        path: '/v1/dashboard/sessions',
        min: 3,
        order: [
          ['createdAt', 'desc'],
          ['id', 'asc'],
        ],
      },
    } satisfies Record<string, ListCase>);
  }, 10 * 60_000);

  it('covers every paged route of the route table', () => {
    expect(pageRoutes.length).toBeGreaterThan(25);
    expect(pageRoutes.filter((id) => !cases[id])).toEqual([]);
  });

  it('documents ?limit=, ?cursor= and nextCursor for each in the OpenAPI document', async () => {
    const document = (await (await server().request('GET', '/v1/openapi.json', { key: null })).json()) as {
      paths: Record<string, Record<string, Operation>>;
      components: { schemas: Record<string, Schema> };
    };
    type Schema = { $ref?: string; properties?: Record<string, Schema>; type?: unknown; maximum?: number };
    type Operation = {
      parameters?: { name: string; in: string; required: boolean; schema: Schema }[];
      responses: Record<string, { content: Record<string, { schema: Schema }> }>;
    };
    const resolve = (schema: Schema): Schema =>
      schema.$ref ? resolve(document.components.schemas[schema.$ref.split('/').pop() as string] as Schema) : schema;
    for (const id of pageRoutes) {
      const contract = routes[id] as RouteContract;
      const operation = document.paths[contract.path.replace(/:([A-Za-z]+)(\{[^}]*\})?/g, '{$1}')]?.get;
      const query = (operation?.parameters ?? []).filter((parameter) => parameter.in === 'query');
      const limit = query.find((parameter) => parameter.name === 'limit');
      const cursor = query.find((parameter) => parameter.name === 'cursor');
      expect([id, limit?.required, resolve(limit?.schema ?? {}).maximum, cursor?.required]).toEqual([
        id,
        false,
        1000,
        false,
      ]);
      const answer = resolve(operation?.responses['200']?.content['application/json']?.schema ?? {});
      expect([id, Object.keys(answer.properties ?? {}).sort()]).toEqual([id, ['data', 'nextCursor']]);
    }
  });

  it.each(pageRoutes)('%s: two a page walk every item once, in its order, then a null cursor', async (id) => {
    const entry = cases[id];
    if (!entry) throw new Error(`no case for ${id}`);
    const identity = entry.identity ?? ((item: Item) => item.id ?? item.name);
    const whole = await page(entry, { limit: '1000' });
    expect(whole.nextCursor).toBeNull();
    expect(whole.data.length).toBeGreaterThanOrEqual(entry.min);
    if (entry.order) expectOrdered(id, whole.data, entry.order);
    // Without ?limit=: the default page of 100.
    const first = await page(entry, {});
    expect(first.data.map(identity)).toEqual(whole.data.slice(0, 100).map(identity));
    expect(first.nextCursor === null).toBe(whole.data.length <= 100);

    const seen: unknown[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const next = await page(entry, { limit: '2', ...(cursor ? { cursor } : {}) });
      expect(next.data.length).toBeLessThanOrEqual(2);
      seen.push(...next.data.map(identity));
      cursor = next.nextCursor ?? undefined;
      pages++;
    } while (cursor && pages <= whole.data.length);
    expect(cursor).toBeUndefined();
    expect(seen).toEqual(whole.data.map(identity));
    expect(new Set(seen).size).toBe(seen.length);
    expect(pages).toBe(Math.max(1, Math.ceil(whole.data.length / 2)));
  });

  it.each(pageRoutes)('%s: refuses a cursor it did not give out, and a page of 0 or 1001', async (id) => {
    const entry = cases[id];
    if (!entry) throw new Error(`no case for ${id}`);
    const given = (await page(entry, { limit: '1' })).nextCursor;
    const refused = [
      'not a cursor',
      encode(['a', 'b', 'c', 'd', 'e']),
      encode({ after: 'x' }),
      // A cursor this list gave out, altered.
      ...(given
        ? [`${given.slice(0, 2)}${given.slice(2, 3) === 'A' ? 'B' : 'A'}${given.slice(3)}`, given.slice(1)]
        : []),
    ];
    for (const cursor of refused) {
      const response = await list(entry, { cursor });
      const body = (await response.json()) as { error?: { code: string; details?: { location?: string } } };
      expect([id, cursor, response.status, body.error?.code, body.error?.details?.location]).toEqual([
        id,
        cursor,
        400,
        'validation_failed',
        'query',
      ]);
    }
    for (const limit of ['0', '1001']) {
      const response = await list(entry, { limit });
      const body = (await response.json()) as { error?: { code: string } };
      expect([id, limit, response.status, body.error?.code]).toEqual([id, limit, 400, 'validation_failed']);
    }
  });
});
