import {
  routes,
  type Workspace,
  type WorkspaceCreateRequest,
  type WorkspaceEntry,
  type WorkspaceUsage,
} from '@runtools/spec';
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

  /**
   * The files of a workspace, by workspace paths (`/` is its root).
   * @example await rt.workspaces.files(id).upload('/data/input.csv', buffer)
   */
  files(id: string): WorkspaceFiles {
    return new WorkspaceFiles(this.http, id);
  }

  /** Bytes, files and directories, counted now. @example const { bytes } = await rt.workspaces.usage(id) */
  async usage(id: string): Promise<WorkspaceUsage> {
    return this.http.call(routes.workspacesUsage, { params: { workspaceId: id } });
  }
}

const transferTimeoutMs = 60 * 60_000;

/**
 * Files of one workspace. What a running sandbox that mounts it sees is the same files.
 *
 * @example
 * const files = rt.workspaces.files(workspace.id);
 * await files.upload('/notes.txt', Buffer.from('hello'));
 * console.log(await files.list('/'));
 */
export class WorkspaceFiles {
  constructor(
    private readonly http: HttpClient,
    private readonly workspaceId: string,
  ) {}

  private get params() {
    return { workspaceId: this.workspaceId };
  }

  /** @example await files.list('/src', { showHidden: true }) */
  async list(path = '/', options: { showHidden?: boolean } = {}): Promise<WorkspaceEntry[]> {
    const query = { path, ...(options.showHidden ? { showHidden: 'true' } : {}) };
    return (await this.http.call<{ data: WorkspaceEntry[] }>(routes.workspaceFilesList, { params: this.params, query }))
      .data;
  }

  async info(path: string): Promise<WorkspaceEntry> {
    return this.http.call(routes.workspaceFilesInfo, { params: this.params, query: { path } });
  }

  /** Streams bytes in (any size); replaces the file atomically. @example await files.upload('/a.bin', createReadStream('a.bin')) */
  async upload(
    path: string,
    data: string | Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  ): Promise<WorkspaceEntry> {
    const response = await this.http.raw(
      routes.workspaceFilesUpload,
      { params: this.params, query: { path }, body: typeof data === 'string' ? Buffer.from(data, 'utf8') : data },
      { timeoutMs: transferTimeoutMs },
    );
    return (await response.json()) as WorkspaceEntry;
  }

  /**
   * Uploads several files into a directory in one multipart/form-data request (what a browser form sends).
   * @example await files.uploadMany('/inbox', [{ name: 'a.txt', data: 'A' }, { name: 'b.bin', data: bytes }])
   */
  async uploadMany(directory: string, parts: { name: string; data: string | Uint8Array }[]): Promise<WorkspaceEntry[]> {
    const form = new FormData();
    for (const part of parts)
      form.append('file', new Blob([typeof part.data === 'string' ? part.data : Buffer.from(part.data)]), part.name);
    const response = await this.http.form(
      routes.workspaceFilesUploadForm,
      { params: this.params, query: { path: directory }, form },
      { timeoutMs: transferTimeoutMs },
    );
    return ((await response.json()) as { data: WorkspaceEntry[] }).data;
  }

  /** @example const bytes = await files.download('/a.bin') */
  async download(path: string): Promise<Buffer> {
    return Buffer.from(await (await this.downloadResponse(path)).arrayBuffer());
  }

  /** The bytes as a stream, for files too big to hold in memory. */
  async downloadStream(path: string): Promise<ReadableStream<Uint8Array>> {
    const response = await this.downloadResponse(path);
    return response.body as ReadableStream<Uint8Array>;
  }

  private downloadResponse(path: string): Promise<Response> {
    return this.http.raw(
      routes.workspaceFilesDownload,
      { params: this.params, query: { path } },
      { timeoutMs: transferTimeoutMs },
    );
  }

  async mkdir(path: string): Promise<WorkspaceEntry> {
    return this.http.call(routes.workspaceFilesMkdir, { params: this.params, body: { path } });
  }

  async move(from: string, to: string): Promise<WorkspaceEntry> {
    return this.http.call(routes.workspaceFilesMove, { params: this.params, body: { from, to } });
  }

  async copy(from: string, to: string): Promise<WorkspaceEntry> {
    return this.http.call(routes.workspaceFilesCopy, { params: this.params, body: { from, to } });
  }

  /** Renames in place: `name` is the new last component. @example await files.rename('/a.txt', 'b.txt') */
  async rename(path: string, name: string): Promise<WorkspaceEntry> {
    return this.http.call(routes.workspaceFilesRename, { params: this.params, body: { path, name } });
  }

  /** Removes a file or a directory tree. */
  async remove(path: string): Promise<void> {
    await this.http.call(routes.workspaceFilesDelete, { params: this.params, query: { path } });
  }
}
