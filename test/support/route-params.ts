import type { Sandbox } from '@runtools/sdk';
import { mapRouteParams } from '@runtools/spec';
import { claim, type FakeDevice, fakeDevice } from './mesh-fake-device.js';
import type { TestServer } from './server.js';
import { ed25519KeyPair } from './ssh-keys.js';

/**
 * A route's path with every `:name` filled from `values` (URL-encoded; a lone surrogate becomes U+FFFD). A parameter without a value throws: a
 * test that sent the placeholder itself would be answered 400 on the path and never reach what it tests.
 */
export function concretePath(path: string, values: Record<string, string>): string {
  return mapRouteParams(path, (name) => {
    const value = values[name];
    if (value === undefined) throw new Error(`no value for path parameter :${name} of ${path}`);
    return encodeURIComponent(wellFormed(value));
  });
}

/** The string with any lone surrogate replaced by U+FFFD (what URL encoding can take). */
export function wellFormed(value: string): string {
  return value.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** Well-formed ids of the right kind for every path parameter the spec uses; they name nothing that exists. */
export const absentParams: Record<string, string> = {
  orgId: 'org_aaaaaaaaaaaaaaaaaaaa',
  projectId: 'prj_aaaaaaaaaaaaaaaaaaaa',
  memberId: 'mem_aaaaaaaaaaaaaaaaaaaa',
  keyId: 'key_aaaaaaaaaaaaaaaaaaaa',
  sshKeyId: 'ssh_aaaaaaaaaaaaaaaaaaaa',
  name: 'NO_SUCH_SECRET',
  sandboxId: 'sbx_aaaaaaaaaaaaaaaaaaaa',
  pid: '42',
  templateName: 'no-such-template',
  workspaceId: 'wsp_aaaaaaaaaaaaaaaaaaaa',
  path: 'no-such-dir',
  snapshotId: 'snp_aaaaaaaaaaaaaaaaaaaa',
  port: '8080',
  slug: 'no-such-agent',
  runId: 'run_aaaaaaaaaaaaaaaaaaaa',
  threadId: 'thr_aaaaaaaaaaaaaaaaaaaa',
  invitationId: 'inv_aaaaaaaaaaaaaaaaaaaa',
  toolName: 'no-such-tool',
  provider: 'linkedin',
  connectionId: 'oac_aaaaaaaaaaaaaaaaaaaa',
  version: '99',
  triggerId: 'trg_aaaaaaaaaaaaaaaaaaaa',
  workflowRunId: 'wfr_aaaaaaaaaaaaaaaaaaaa',
  approvalId: 'apv_aaaaaaaaaaaaaaaaaaaa',
  token: 'wh_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  linkId: 'mln_aaaaaaaaaaaaaaaaaaaa',
  code: 'AAAA-AAAA',
  node: 'mnd_aaaaaaaaaaaaaaaaaaaa',
  member: 'mem_aaaaaaaaaaaaaaaaaaaa',
  sessionId: 'dss_aaaaaaaaaaaaaaaaaaaa',
};

async function created<T>(response: Response, what: string): Promise<T> {
  if (response.status >= 300) throw new Error(`could not create ${what}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/** A RunMesh node linked through the device flow (a fake device asks, `key`'s member approves, the device polls). */
export interface LinkedNode {
  device: FakeDevice;
  linkId: string;
  code: string;
  node: { id: string; name: string; address: string };
  nodeToken: string;
}

/** Links a fake device as a node of `key`'s org (the admin key's by default), named `name`. */
export async function linkNode(server: TestServer, name: string, key?: string): Promise<LinkedNode> {
  const device = fakeDevice(server.url);
  const link = await device.link(name);
  await created(
    await server.request('POST', '/v1/mesh/links/approve', { ...(key ? { key } : {}), body: { code: link.code } }),
    `the node ${name}`,
  );
  const claimed = await claim(device, link);
  return { device, linkId: link.linkId, code: link.code, node: claimed.node, nodeToken: claimed.nodeToken };
}

/**
 * Ids of things that exist, in the admin key's org, for every path parameter: its org, project, member and key;
 * a secret, an SSH key, a workspace, an agent on `sandbox`, a process running in it, the github tool installed, an OAuth app and a pending connection,
 * a RunMesh node (linked and claimed), a device's link still waiting for its code's approval and a dashboard session. Snapshots, runs and threads
 * cost a snapshot or a model to make: those stay absent (well-formed) ids.
 */
export async function existingParams(server: TestServer, sandbox: Sandbox): Promise<Record<string, string>> {
  const me = await created<{ org: { id: string }; project: { id: string }; member: { id: string } }>(
    await server.request('GET', '/v1/me'),
    'the caller',
  );
  const key = await created<{ id: string }>(
    await server.request('POST', '/v1/auth/keys', { body: { name: 'route-params', scopes: ['secrets:read'] } }),
    'an API key',
  );
  await created(
    await server.request('POST', '/v1/secrets', { body: { name: 'ROUTE_PARAMS', value: 'x' } }),
    'a secret',
  );
  const sshKey = await created<{ id: string }>(
    await server.request('POST', '/v1/ssh-keys', {
      body: { name: 'route-params', publicKey: ed25519KeyPair().public },
    }),
    'an SSH key',
  );
  const workspace = await created<{ id: string }>(
    await server.request('POST', '/v1/workspaces', { body: { name: 'route-params' } }),
    'a workspace',
  );
  await created(
    await server.request('POST', '/v1/agents', {
      body: { slug: 'route-params', model: 'claude-haiku-4.5', sandbox: sandbox.id },
    }),
    'an agent',
  );
  await created(await server.request('POST', '/v1/tools/github/install'), 'a tool installation');
  await created(
    await server.request('PUT', '/v1/oauth/apps/github', { body: { clientId: 'route-params', clientSecret: 'x' } }),
    'an OAuth app',
  );
  const connection = await created<{ connection: { id: string } }>(
    await server.request('POST', '/v1/oauth/connections', { body: { provider: 'github' } }),
    'a pending OAuth connection',
  );
  // A workflow named like the agent (slugs are per kind), published, with a trigger and a run waiting for
  // its approval.
  await created(
    await server.request('POST', '/v1/workflows', {
      body: {
        name: 'route-params',
        graph: {
          nodes: [
            { id: 'gate', type: 'approval', config: { message: 'route-params' } },
            { id: 'out', type: 'output', config: { expression: '1' } },
          ],
          edges: [{ source: 'gate', target: 'out' }],
        },
      },
    }),
    'a workflow',
  );
  await created(
    await server.request('POST', '/v1/workflows/route-params/publish', { body: { visibility: 'org' } }),
    'a workflow version',
  );
  const trigger = await created<{ id: string }>(
    await server.request('POST', '/v1/workflows/route-params/triggers', {
      body: { kind: 'cron', schedule: '0 0 1 1 *' },
    }),
    'a workflow trigger',
  );
  const workflowRun = await created<{ runId: string }>(
    await server.request('POST', '/v1/workflows/route-params/runs', { body: { input: {} } }),
    'a workflow run',
  );
  let approvalId: string | undefined;
  for (let tries = 0; tries < 200 && !approvalId; tries++) {
    const approvals = await created<{ data: { id: string }[] }>(
      await server.request('GET', `/v1/workflow-approvals?runId=${workflowRun.runId}`),
      'the approvals',
    );
    approvalId = approvals.data[0]?.id;
    if (!approvalId) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (!approvalId) throw new Error('the route-params workflow run never asked for its approval');
  const process = await sandbox.processes.start('sleep 100000');
  const node = await linkNode(server, 'route-params');
  const pending = await fakeDevice(server.url).link('route-params-pending');
  const session = await created<{ id: string }>(
    await server.request('POST', '/v1/dashboard/sessions', { key: null, body: { apiKey: server.adminKey } }),
    'a dashboard session',
  );
  return {
    ...absentParams,
    orgId: me.org.id,
    projectId: me.project.id,
    memberId: me.member.id,
    keyId: key.id,
    sshKeyId: sshKey.id,
    name: 'ROUTE_PARAMS',
    sandboxId: sandbox.id,
    pid: String(process.pid),
    templateName: 'minimal',
    workspaceId: workspace.id,
    slug: 'route-params',
    toolName: 'github',
    provider: 'github',
    connectionId: connection.connection.id,
    version: '1',
    triggerId: trigger.id,
    workflowRunId: workflowRun.runId,
    approvalId,
    linkId: pending.linkId,
    code: pending.code,
    node: node.node.id,
    member: me.member.id,
    sessionId: session.id,
  };
}
