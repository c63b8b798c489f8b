import type { Workspace, WorkspaceCreateRequest, WorkspaceEntry, WorkspaceUsage } from '@runtools/spec';
import { utf8, utf8Text } from '../bytes.js';
import type { HttpClient } from '../http.js';
import { PagedList } from '../paged-list.js';

/**
 * Workspaces: storage of the org that outlives every sandbox. Org workspaces mount into sandboxes at
 * `/workspace` (or under it); personal ones are yours (and your admins') and never mount. Every method (and a
 * sandbox's `mounts`) takes a workspace by its id or its slug.
 *
 * @example
 * const workspace = await rt.workspaces.create({ name: 'Project files', slug: 'my-project' });
 * const sandbox = await rt.sandboxes.create({ mounts: [{ workspaceId: 'my-project', path: '/workspace' }] });
 */
export class Workspaces {
  constructor(private readonly http: HttpClient) {}

  /** @example await rt.workspaces.create({ name: 'Data', kind: 'org' }) */
  async create(input: WorkspaceCreateRequest): Promise<Workspace> {
    return this.http.call('workspacesCreate', { body: input });
  }

  /**
   * Oldest first; `projectId`: only that project's.
   * @example for await (const workspace of rt.workspaces.list()) console.log(workspace.slug)
   */
  list(filter: { projectId?: string } = {}): PagedList<Workspace> {
    return new PagedList((page) => this.http.call('workspacesList', { query: { ...filter, ...page } }));
  }

  async get(id: string): Promise<Workspace> {
    return this.http.call('workspacesGet', { params: { workspaceId: id } });
  }

  async rename(id: string, name: string): Promise<Workspace> {
    return this.http.call('workspacesRename', { params: { workspaceId: id }, body: { name } });
  }

  /** Moves it to another project of the org. @example await rt.workspaces.move('my-project', project.id) */
  async move(id: string, projectId: string): Promise<Workspace> {
    return this.http.call('workspacesRename', { params: { workspaceId: id }, body: { projectId } });
  }

  /** Deletes it and its files; refused (409 workspace_in_use) while a sandbox mounts it. */
  async delete(id: string): Promise<void> {
    await this.http.call('workspacesDelete', { params: { workspaceId: id } });
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
    return this.http.call('workspacesUsage', { params: { workspaceId: id } });
  }
}

const transferTimeoutMs = 60 * 60_000;

/**
 * Files of one workspace. What a running sandbox that mounts it sees is the same files.
 *
 * @example
 * const files = rt.workspaces.files(workspace.id);
 * await files.upload('/notes.txt', 'hello');
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

  /** A directory's entries, by name. @example await files.list('/src', { showHidden: true }) */
  list(path = '/', options: { showHidden?: boolean } = {}): PagedList<WorkspaceEntry> {
    const query = { path, ...(options.showHidden ? { showHidden: 'true' as const } : {}) };
    return new PagedList((page) =>
      this.http.call('workspaceFilesList', { params: this.params, query: { ...query, ...page } }),
    );
  }

  async info(path: string): Promise<WorkspaceEntry> {
    return this.http.call('workspaceFilesInfo', { params: this.params, query: { path } });
  }

  /** Streams bytes in (any size); replaces the file atomically. @example await files.upload('/a.bin', createReadStream('a.bin')) */
  async upload(
    path: string,
    data: string | Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  ): Promise<WorkspaceEntry> {
    const response = await this.http.raw(
      'workspaceFilesUpload',
      { params: this.params, query: { path }, body: typeof data === 'string' ? utf8(data) : data },
      { timeoutMs: transferTimeoutMs },
    );
    return this.http.answer('workspaceFilesUpload', response);
  }

  /**
   * Uploads several files into a directory in one multipart/form-data request (what a browser form sends).
   * @example await files.uploadMany('/inbox', [{ name: 'a.txt', data: 'A' }, { name: 'b.bin', data: bytes }])
   */
  async uploadMany(directory: string, parts: { name: string; data: string | Uint8Array }[]): Promise<WorkspaceEntry[]> {
    const form = new FormData();
    for (const part of parts)
      form.append('file', new Blob([typeof part.data === 'string' ? part.data : new Uint8Array(part.data)]), part.name);
    const response = await this.http.form(
      'workspaceFilesUploadForm',
      { params: this.params, query: { path: directory }, form },
      { timeoutMs: transferTimeoutMs },
    );
    return (await this.http.answer('workspaceFilesUploadForm', response)).data;
  }

  /** @example const bytes = await files.download('/a.bin') */
  async download(path: string): Promise<Uint8Array> {
    return new Uint8Array(await (await this.downloadResponse(path)).arrayBuffer());
  }

  /** Reads a file as UTF-8 text. @example const text = await files.read('/notes.txt') */
  async read(path: string): Promise<string> {
    return utf8Text(await this.download(path));
  }

  /** The bytes as a stream, for files too big to hold in memory. */
  async downloadStream(path: string): Promise<ReadableStream<Uint8Array>> {
    const response = await this.downloadResponse(path);
    return response.body as ReadableStream<Uint8Array>;
  }

  private downloadResponse(path: string): Promise<Response> {
    return this.http.raw(
      'workspaceFilesDownload',
      { params: this.params, query: { path } },
      { timeoutMs: transferTimeoutMs },
    );
  }

  async mkdir(path: string): Promise<WorkspaceEntry> {
    return this.http.call('workspaceFilesMkdir', { params: this.params, body: { path } });
  }

  async move(from: string, to: string): Promise<WorkspaceEntry> {
    return this.http.call('workspaceFilesMove', { params: this.params, body: { from, to } });
  }

  async copy(from: string, to: string): Promise<WorkspaceEntry> {
    return this.http.call('workspaceFilesCopy', { params: this.params, body: { from, to } });
  }

  /** Renames in place: `name` is the new last component. @example await files.rename('/a.txt', 'b.txt') */
  async rename(path: string, name: string): Promise<WorkspaceEntry> {
    return this.http.call('workspaceFilesRename', { params: this.params, body: { path, name } });
  }

  /** Removes a file or a directory tree. */
  async remove(path: string): Promise<void> {
    await this.http.call('workspaceFilesDelete', { params: this.params, query: { path } });
  }
}
