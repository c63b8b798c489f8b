import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../../../test/support/server.js';

type Body = Record<string, unknown> & { error?: { code: string; details?: Record<string, unknown> } };

/**
 * Projects group an org's sandboxes, workspaces, agents and workflows: a resource is made in a project (the
 * org's default one unless told), listed by it, moved between them, and a project holding any is not deleted.
 */
describe('resources in projects', () => {
  let server: TestServer;
  let defaultProject: string;
  let apps: string;
  let otherOrgProject: string;
  let otherOrgKey: string;
  const call = async (method: string, path: string, body?: unknown, key?: string) => {
    const response = await server.request(method, path, {
      ...(body === undefined ? {} : { body }),
      ...(key ? { key } : {}),
    });
    return { status: response.status, body: (await response.json()) as Body };
  };
  const ids = (body: Body) => (body.data as { id: string }[]).map((item) => item.id);

  beforeAll(async () => {
    server = await startTestServer();
    defaultProject = ((await call('GET', '/v1/me')).body.project as { id: string }).id;
    apps = (await call('POST', '/v1/projects', { name: 'Apps' })).body.id as string;
    const other = (await call('POST', '/v1/orgs', { name: 'Elsewhere' }, undefined)).body as {
      project: { id: string };
      apiKey: { key: string };
    };
    otherOrgProject = other.project.id;
    otherOrgKey = other.apiKey.key;
  });
  afterAll(async () => {
    for (const sandbox of ids((await call('GET', '/v1/sandboxes')).body))
      await call('DELETE', `/v1/sandboxes/${sandbox}`);
    await server.close();
  });

  it('puts each kind of resource in the project it names, in the default project otherwise, and lists by project', async () => {
    const graph = { nodes: [{ id: 'out', type: 'output', config: { expression: '1' } }], edges: [] };
    const made = {
      sandboxes: [
        (await call('POST', '/v1/sandboxes', { projectId: apps })).body,
        (await call('POST', '/v1/sandboxes', {})).body,
      ],
      workspaces: [
        (await call('POST', '/v1/workspaces', { name: 'Site', projectId: apps })).body,
        (await call('POST', '/v1/workspaces', { name: 'Misc' })).body,
      ],
      agents: [
        (await call('POST', '/v1/agents', { slug: 'builder', model: 'gpt-5', projectId: apps })).body,
        (await call('POST', '/v1/agents', { slug: 'helper', model: 'gpt-5' })).body,
      ],
      workflows: [
        (await call('POST', '/v1/workflows', { name: 'Ship', graph, projectId: apps })).body,
        (await call('POST', '/v1/workflows', { name: 'Chores', graph })).body,
      ],
    };
    for (const [kind, [inApps, inDefault]] of Object.entries(made)) {
      expect([inApps?.projectId, inDefault?.projectId], kind).toEqual([apps, defaultProject]);
      expect(ids((await call('GET', `/v1/${kind}?projectId=${apps}`)).body), kind).toEqual([inApps?.id]);
      expect(ids((await call('GET', `/v1/${kind}?projectId=${defaultProject}`)).body), kind).toEqual([inDefault?.id]);
      // Unfiltered: both.
      expect(ids((await call('GET', `/v1/${kind}`)).body).sort(), kind).toEqual([inApps?.id, inDefault?.id].sort());
      // Read back, the project is the one it was made in.
      const path = kind === 'agents' || kind === 'workflows' ? (inApps?.slug as string) : (inApps?.id as string);
      expect((await call('GET', `/v1/${kind}/${path}`)).body.projectId, kind).toBe(apps);
    }
  });

  it("refuses another org's project (and one that does not exist) as not found, and lists nothing of it", async () => {
    const missing = 'prj_aaaaaaaaaaaaaaaaaaaa';
    for (const projectId of [otherOrgProject, missing]) {
      const attempts = [
        await call('POST', '/v1/sandboxes', { projectId }),
        await call('POST', '/v1/workspaces', { name: 'Stolen', projectId }),
        await call('POST', '/v1/agents', { slug: 'stolen', model: 'gpt-5', projectId }),
        await call('POST', '/v1/workflows', {
          name: 'Stolen',
          graph: { nodes: [{ id: 'out', type: 'output', config: { expression: '1' } }], edges: [] },
          projectId,
        }),
        await call('PATCH', '/v1/agents/builder', { projectId }),
        await call('PUT', '/v1/agents/builder', { model: 'gpt-5', projectId }),
        await call('PATCH', '/v1/workspaces/site', { projectId }),
        await call('POST', '/v1/workflows', {
          name: 'Ship',
          graph: { nodes: [{ id: 'out', type: 'output', config: { expression: '1' } }], edges: [] },
          projectId,
        }),
      ];
      for (const attempt of attempts)
        expect([attempt.status, attempt.body.error?.code]).toEqual([404, 'project_not_found']);
      for (const kind of ['sandboxes', 'workspaces', 'agents', 'workflows'])
        expect(ids((await call('GET', `/v1/${kind}?projectId=${projectId}`)).body), kind).toEqual([]);
    }
    // Nothing was made, and nothing moved.
    expect((await call('GET', '/v1/agents/stolen')).status).toBe(404);
    expect((await call('GET', '/v1/agents/builder')).body.projectId).toBe(apps);
    expect((await call('GET', '/v1/workspaces/site')).body.projectId).toBe(apps);
    expect((await call('GET', '/v1/workflows/ship')).body).toMatchObject({ projectId: apps, draftRevision: 1 });
    // A change refused as a whole moves nothing either: the move and the change are checked before either is written.
    const refused = await call('PATCH', '/v1/agents/builder', { projectId: defaultProject, tools: ['no-such-tool'] });
    expect(refused.status).toBe(400);
    expect((await call('GET', '/v1/agents/builder')).body).toMatchObject({ projectId: apps, version: 1 });
    // The other org sees none of this org's resources through its own project.
    expect(ids((await call('GET', `/v1/agents?projectId=${apps}`, undefined, otherOrgKey)).body)).toEqual([]);
    // A malformed project id is a validation error, not a lookup.
    const malformed = await call('GET', '/v1/sandboxes?projectId=apps');
    expect([malformed.status, malformed.body.error?.code]).toEqual([400, 'validation_failed']);
  });

  it('moves agents, workflows and workspaces between projects (an agent without a new version)', async () => {
    const before = (await call('GET', '/v1/agents/helper')).body;
    const moved = (await call('PATCH', '/v1/agents/helper', { projectId: apps })).body;
    expect([moved.projectId, moved.version]).toEqual([apps, before.version]);
    // A change and a move together: one new version, in the new project.
    const both = (await call('PATCH', '/v1/agents/helper', { projectId: defaultProject, maxIterations: 7 })).body;
    expect([both.projectId, both.version, both.maxIterations]).toEqual([defaultProject, Number(before.version) + 1, 7]);
    // A whole definition put without a project keeps the agent where it is; with one, moves it.
    expect((await call('PUT', '/v1/agents/helper', { model: 'gpt-5' })).body.projectId).toBe(defaultProject);
    expect((await call('PUT', '/v1/agents/helper', { model: 'gpt-5', projectId: apps })).body.projectId).toBe(apps);

    const graph = { nodes: [{ id: 'out', type: 'output', config: { expression: '1' } }], edges: [] };
    // Saving a draft without a project keeps it; with one, moves it.
    expect((await call('POST', '/v1/workflows', { name: 'Chores', graph })).body.projectId).toBe(defaultProject);
    expect((await call('POST', '/v1/workflows', { name: 'Chores', graph, projectId: apps })).body.projectId).toBe(apps);

    const workspace = (await call('PATCH', '/v1/workspaces/misc', { projectId: apps })).body;
    expect([workspace.projectId, workspace.name]).toEqual([apps, 'Misc']);
    const renamed = (await call('PATCH', '/v1/workspaces/misc', { name: 'Odds' })).body;
    expect([renamed.projectId, renamed.name]).toEqual([apps, 'Odds']);
    const empty = await call('PATCH', '/v1/workspaces/misc', {});
    expect([empty.status, empty.body.error?.code]).toEqual([400, 'validation_failed']);
    // Moved back for the next test's counts.
    await call('PATCH', '/v1/agents/helper', { projectId: defaultProject });
    await call('POST', '/v1/workflows', { name: 'Chores', graph, projectId: defaultProject });
    await call('PATCH', '/v1/workspaces/misc', { projectId: defaultProject });
  });

  it('keeps a project that still holds resources, saying what it holds, and deletes it once empty', async () => {
    const refused = await call('DELETE', `/v1/projects/${apps}`);
    expect([refused.status, refused.body.error?.code]).toEqual([409, 'project_not_empty']);
    expect(refused.body.error?.details).toEqual({ sandboxes: 1, workspaces: 1, agents: 1, workflows: 1 });
    // Everything is still there.
    for (const kind of ['sandboxes', 'workspaces', 'agents', 'workflows'])
      expect(ids((await call('GET', `/v1/${kind}?projectId=${apps}`)).body), kind).toHaveLength(1);

    const [sandbox] = ids((await call('GET', `/v1/sandboxes?projectId=${apps}`)).body);
    // A destroyed sandbox no longer holds its project.
    expect((await call('DELETE', `/v1/sandboxes/${sandbox}`)).status).toBe(200);
    await call('DELETE', '/v1/agents/builder');
    await call('PATCH', '/v1/workspaces/site', { projectId: defaultProject });
    const left = await call('DELETE', `/v1/projects/${apps}`);
    expect([left.status, left.body.error?.details]).toEqual([409, { workflows: 1 }]);
    await call('DELETE', '/v1/workflows/ship');
    expect((await call('DELETE', `/v1/projects/${apps}`)).status).toBe(200);
    expect((await call('GET', `/v1/projects/${apps}`)).status).toBe(404);
    // The destroyed sandbox it held is kept, in the default project.
    expect((await call('GET', `/v1/sandboxes/${sandbox}`)).body).toMatchObject({
      status: 'destroyed',
      projectId: defaultProject,
    });
  });
});
