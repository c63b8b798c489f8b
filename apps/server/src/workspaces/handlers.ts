import type { workspacesRoutes } from '@runtools/spec';
import type { Actor } from '../auth/actor.js';
import { DomainError } from '../errors.js';
import type { DomainHandlers } from '../http/route-handlers.js';
import { quotaExceeded, type StorageQuota } from '../usage/storage-quota.js';
import type { WorkspaceService } from './workspace-service.js';

export interface WorkspacesDeps {
  workspaces: WorkspaceService;
  /** The org storage quota: sandbox disks, snapshots and workspaces. */
  storage: StorageQuota;
  /** Largest file upload, in bytes. */
  maxUploadBytes: number;
}

async function* emptyBody(): AsyncGenerator<Uint8Array> {}

/** How much of an upload refused at the quota is still read, so that its client gets the answer. */
const quotaDrainBytes = 64 * 1024 * 1024;

/** Workspaces: persistent org storage and its file API (`spec/src/routes/workspaces.ts`). */
export function workspacesHandlers(deps: WorkspacesDeps): DomainHandlers<typeof workspacesRoutes> {
  const { workspaces, storage } = deps;
  /**
   * Runs a streamed workspace write capped at what the org may still store (or the upload limit, if lower):
   * a write that would pass the quota stops there and is refused as `storage_quota_exceeded`.
   */
  async function withinQuota<T>(
    auth: Actor,
    what: string,
    rawBody: AsyncIterable<Uint8Array> | undefined,
    write: (body: AsyncIterable<Uint8Array>, limit: number) => Promise<T>,
  ): Promise<T> {
    const left = await storage.ensure(auth, 1, what);
    const limit = Math.min(deps.maxUploadBytes, left);
    // Handed on without `return`, so that a write stopped at the quota leaves the body readable, to drain.
    const reader = (rawBody ?? emptyBody())[Symbol.asyncIterator]();
    try {
      return await write({ [Symbol.asyncIterator]: () => ({ next: () => reader.next() }) }, limit);
    } catch (error) {
      if (error instanceof DomainError && error.code === 'payload_too_large' && limit < deps.maxUploadBytes) {
        // Read what the client is still sending, up to a point, so that it gets this answer rather than a
        // broken connection.
        for (let drained = 0; drained < quotaDrainBytes; ) {
          const next = await reader.next().catch(() => ({ done: true as const, value: undefined }));
          if (next.done) break;
          drained += next.value.length;
        }
        const usage = await storage.usage(auth);
        throw quotaExceeded(usage.quotaBytes ?? 0, usage.usedBytes, limit + 1, what);
      }
      throw error;
    } finally {
      await reader.return?.();
    }
  }

  /** A file's bytes, streamed; as an attachment named after it when asked. */
  async function download(auth: Actor, workspace: string, path: string, attachment: boolean) {
    const file = await (await workspaces.files(auth, workspace)).read(path);
    return {
      body: file.body,
      size: file.size,
      contentType: 'application/octet-stream',
      ...(attachment ? { filename: file.name } : {}),
    };
  }

  /** Saves a multipart/form-data upload's files into `directory`. */
  async function uploadForm(
    auth: Actor,
    workspace: string,
    directory: string,
    rawBody: AsyncIterable<Uint8Array> | undefined,
    contentType: string | undefined,
  ) {
    const files = await workspaces.files(auth, workspace);
    const entries = await withinQuota(auth, 'this upload', rawBody, (body, limit) =>
      files.writeForm(directory, contentType ?? '', body, limit),
    );
    return { data: entries };
  }

  return {
    async workspacesCreate({ auth, body }) {
      return workspaces.create(auth, body);
    },
    async workspacesList({ auth, query }) {
      return workspaces.list(auth, query);
    },
    async workspacesGet({ auth, params }) {
      return workspaces.get(auth, params.workspaceId);
    },
    async workspacesRename({ auth, params, body }) {
      return workspaces.rename(auth, params.workspaceId, body);
    },
    async workspacesDelete({ auth, params }) {
      return workspaces.delete(auth, params.workspaceId);
    },
    async workspacesUsage({ auth, params }) {
      return workspaces.usage(auth, params.workspaceId);
    },
    async workspaceFilesList({ auth, params, query }) {
      const files = await workspaces.files(auth, params.workspaceId);
      return files.listPage(query.path, query.showHidden === 'true', query);
    },
    async workspaceFilesInfo({ auth, params, query }) {
      return (await workspaces.files(auth, params.workspaceId)).info(query.path);
    },
    async workspaceFilesDownload({ auth, params, query }) {
      return download(auth, params.workspaceId, query.path, query.download === 'true');
    },
    async workspaceFilesUpload({ auth, params, query, rawBody }) {
      const files = await workspaces.files(auth, params.workspaceId);
      return withinQuota(auth, 'this upload', rawBody, (body, limit) => files.write(query.path, body, limit));
    },
    async workspaceFilesUploadForm({ auth, params, query, rawBody, contentType }) {
      return uploadForm(auth, params.workspaceId, query.path, rawBody, contentType);
    },
    async workspaceFilesMkdir({ auth, params, body }) {
      return (await workspaces.files(auth, params.workspaceId)).mkdir(body.path);
    },
    async workspaceFilesMove({ auth, params, body }) {
      return (await workspaces.files(auth, params.workspaceId)).move(body.from, body.to);
    },
    async workspaceFilesCopy({ auth, params, body }) {
      // A copy's size is not known before it is made; an org already at its quota copies nothing.
      await storage.ensure(auth, 1, 'a copy');
      return (await workspaces.files(auth, params.workspaceId)).copy(body.from, body.to);
    },
    async workspaceFilesRename({ auth, params, body }) {
      const parent = body.path.replace(/\/+$/, '').split('/').slice(0, -1).join('/');
      return (await workspaces.files(auth, params.workspaceId)).move(body.path, `${parent}/${body.name}`);
    },
    async workspaceFilesDelete({ auth, params, query }) {
      await (await workspaces.files(auth, params.workspaceId)).remove(query.path);
      return { id: query.path, deleted: true as const };
    },
    // The documented routes: the path in the URL, the same service calls as the `?path=` routes above.
    async workspaceFilesListAt({ auth, params, query }) {
      const files = await workspaces.files(auth, params.workspaceId);
      return files.listPage(`/${params.path}`, query.showHidden === 'true', query);
    },
    async workspaceFilesUploadAt({ auth, params, rawBody, contentType }) {
      return uploadForm(auth, params.workspaceId, `/${params.path}`, rawBody, contentType);
    },
    async workspaceFilesUploadAtRoot({ auth, params, rawBody, contentType }) {
      return uploadForm(auth, params.workspaceId, '/', rawBody, contentType);
    },
    async workspaceFilesDirect({ auth, params, query }) {
      return download(auth, params.workspaceId, query.id, query.download === 'true');
    },
  };
}
