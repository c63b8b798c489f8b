import type {
  MeshAuditAction,
  MeshAuditEntry,
  MeshLinkInfo,
  MeshNode,
  MeshNodeConfig,
  MeshRunStarted,
} from '@runtools/spec';
import type { HttpClient } from '../http.js';
import { PagedList } from '../paged-list.js';

/** Link requests from devices (`runtools mesh up` prints the code), approved or denied by a member. */
export class MeshLinks {
  constructor(private readonly http: HttpClient) {}

  /**
   * The device a code names and where it asked from, before deciding.
   * @example const link = await rt.mesh.links.get('KDWX-7Q3M')
   */
  get(code: string): Promise<MeshLinkInfo> {
    return this.http.call('meshLinkLookup', { params: { code } });
  }

  /**
   * Approves a code: the device joins the org as a node you own, and receives its identity and config.
   * @example const node = await rt.mesh.links.approve('KDWX-7Q3M')
   */
  approve(code: string, options: { name?: string } = {}): Promise<MeshNode> {
    return this.http.call('meshLinkApprove', { body: { code, ...options } });
  }

  /** @example await rt.mesh.links.deny('KDWX-7Q3M') */
  deny(code: string): Promise<MeshLinkInfo> {
    return this.http.call('meshLinkDeny', { body: { code } });
  }
}

/** The org's nodes: linked devices with their mesh address, owner, status and WireGuard config. */
export class MeshNodes {
  constructor(private readonly http: HttpClient) {}

  /** @example for await (const node of rt.mesh.nodes.list()) console.log(node.name, node.online) */
  list(options: { status?: 'active' | 'revoked' } = {}): PagedList<MeshNode> {
    return new PagedList((page) => this.http.call('meshNodesList', { query: { ...page, ...options } }));
  }

  /** A node by id (`mnd_…`) or name. @example const node = await rt.mesh.nodes.get('my-laptop') */
  get(node: string): Promise<MeshNode> {
    return this.http.call('meshNodeGet', { params: { node } });
  }

  /** Its WireGuard config: interface and peers (never a private key). @example await rt.mesh.nodes.config('my-laptop') */
  config(node: string): Promise<MeshNodeConfig> {
    return this.http.call('meshNodeConfig', { params: { node } });
  }

  /**
   * Revokes it at once: its token stops working, its channel closes, its work fails and its peers drop it.
   * @example await rt.mesh.nodes.revoke('my-laptop')
   */
  revoke(node: string): Promise<MeshNode> {
    return this.http.call('meshNodeRevoke', { params: { node } });
  }

  /**
   * Lets another member (id or email) run local agents on the node; its owner always may.
   * @example await rt.mesh.nodes.allow('my-laptop', 'dev@example.com')
   */
  allow(node: string, member: string): Promise<MeshNode> {
    return this.http.call('meshNodeAllow', { params: { node }, body: { member } });
  }

  /** @example await rt.mesh.nodes.disallow('my-laptop', 'dev@example.com') */
  disallow(node: string, member: string): Promise<MeshNode> {
    return this.http.call('meshNodeDisallow', { params: { node, member } });
  }
}

/** RunMesh: devices linked to the org, their nodes, and the audit log of both. */
export class Mesh {
  readonly links: MeshLinks;
  readonly nodes: MeshNodes;

  constructor(private readonly http: HttpClient) {
    this.links = new MeshLinks(http);
    this.nodes = new MeshNodes(http);
  }

  /**
   * The audit log, newest first: links, connections, config fetches, dispatches, runs, revocations.
   * @example for await (const entry of rt.mesh.audit({ action: 'node.revoked' })) console.log(entry.at, entry.actor)
   */
  audit(options: { nodeId?: string; action?: MeshAuditAction } = {}): PagedList<MeshAuditEntry> {
    return new PagedList((page) => this.http.call('meshAudit', { query: { ...page, ...options } }));
  }

  /**
   * Starts a run as a device does (`POST /v1/run`): the run and its thread live on the platform.
   * @example const { runId, threadId } = await rt.mesh.run({ agent: 'code-on-my-mac', prompt: 'hi' })
   */
  run(input: { agent: string; prompt: string; threadId?: string }): Promise<MeshRunStarted> {
    return this.http.call('meshRun', { body: input });
  }
}
