import { routes, type Workspace, type WorkspaceCreateRequest, type WorkspaceUsage } from '@runtools/spec';
import type { HttpClient } from '../http.js';

/**
 * Workspaces: storage of the org that outlives every sandbox. Org workspaces mount into sandboxes at
 * `/workspace` (or under it); personal ones are yours (and your admins') and never mount.
 *
 * @example
 * const workspace = await rt.workspaces.create({ name: 'Project files' });
 * const sandbox = await rt.sandboxes.create({ mounts: [{ workspaceId: workspace.id, path: '/workspace' }] });
 */
export class Workspaces {
  constructor(private readonly http: HttpClient) {}

  /** @example await rt.workspaces.create({ name: 'Data', kind: 'org' }) */
  async create(input: WorkspaceCreateRequest): Promise<Workspace> {
    return this.http.call(routes.workspacesCreate, { body: input });
  }

  async list(): Promise<Workspace[]> {
    return (await this.http.call<{ data: Workspace[] }>(routes.workspacesList)).data;
  }

  async get(id: string): Promise<Workspace> {
    return this.http.call(routes.workspacesGet, { params: { workspaceId: id } });
  }

  async rename(id: string, name: string): Promise<Workspace> {
    return this.http.call(routes.workspacesRename, { params: { workspaceId: id }, body: { name } });
  }

  /** Deletes it and its files; refused (409 workspace_in_use) while a sandbox mounts it. */
  async delete(id: string): Promise<void> {
    await this.http.call(routes.workspacesDelete, { params: { workspaceId: id } });
  }

  /** Bytes, files and directories, counted now. @example const { bytes } = await rt.workspaces.usage(id) */
  async usage(id: string): Promise<WorkspaceUsage> {
    return this.http.call(routes.workspacesUsage, { params: { workspaceId: id } });
  }
}
