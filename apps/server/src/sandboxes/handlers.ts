import type { sandboxesRoutes } from '@runtools/spec';
import { checkMounts } from '../auth/grants.js';
import type { DomainHandlers } from '../http/route-handlers.js';
import type { DevUrls } from './dev-urls.js';
import type { SandboxService } from './sandbox-service.js';
import type { Terminals } from './terminal.js';

export interface SandboxesDeps {
  sandboxes: SandboxService;
  devUrls: DevUrls;
  terminals: Terminals;
  /** Where the SSH gateway listens, as clients reach it. */
  ssh: () => { host: string; port: number };
  /** The server's own base URL as clients reach it. */
  publicUrl: () => string;
}

/**
 * Sandboxes: lifecycle, exec, files, processes, snapshots, dev URLs, terminal, SSH and logs
 * (`spec/src/routes/sandboxes.ts`).
 */
export function sandboxesHandlers(deps: SandboxesDeps): DomainHandlers<typeof sandboxesRoutes> {
  return {
    async sandboxesCreate({ auth, body }) {
      checkMounts(auth, body.mounts);
      return deps.sandboxes.create(auth, body);
    },
    async sandboxesList({ auth, query }) {
      return deps.sandboxes.list(auth, query, query);
    },
    async sandboxesGet({ auth, params }) {
      return deps.sandboxes.get(auth, params.sandboxId);
    },
    async sandboxesDestroy({ auth, params }) {
      return deps.sandboxes.destroy(auth, params.sandboxId);
    },
    async sandboxesExec({ auth, params, body }) {
      return deps.sandboxes.exec(auth, params.sandboxId, body);
    },
    async sandboxesExecStream({ auth, params, body }) {
      return deps.sandboxes.execStream(auth, params.sandboxId, body);
    },
    async sandboxFilesRead({ auth, params, query }) {
      return deps.sandboxes.readFile(auth, params.sandboxId, query.path);
    },
    async sandboxFilesWrite({ auth, params, body }) {
      return deps.sandboxes.writeFile(auth, params.sandboxId, body.path, Buffer.from(body.content, 'base64'));
    },
    async sandboxFilesList({ auth, params, query }) {
      return deps.sandboxes.listFilesPage(auth, params.sandboxId, query.path, query);
    },
    async sandboxFilesExists({ auth, params, query }) {
      return deps.sandboxes.pathExists(auth, params.sandboxId, query.path);
    },
    async sandboxFilesRemove({ auth, params, body }) {
      return deps.sandboxes.removePath(auth, params.sandboxId, body.path);
    },
    async sandboxFilesMkdir({ auth, params, body }) {
      return deps.sandboxes.makeDirectory(auth, params.sandboxId, body.path);
    },
    async sandboxesStats({ auth, params }) {
      return deps.sandboxes.stats(auth, params.sandboxId);
    },
    async sandboxesPause({ auth, params, query }) {
      return deps.sandboxes.pause(auth, params.sandboxId, query.to);
    },
    async sandboxesResume({ auth, params }) {
      return deps.sandboxes.resume(auth, params.sandboxId);
    },
    async sandboxesSsh({ auth, params }) {
      await deps.sandboxes.get(auth, params.sandboxId);
      const { host, port } = deps.ssh();
      return {
        host,
        port,
        username: params.sandboxId,
        command: `ssh -p ${port} ${params.sandboxId}@${host}`,
      };
    },
    async sandboxesTerminalToken({ auth, params }) {
      const issued = await deps.terminals.token(auth, params.sandboxId);
      return {
        ...issued,
        url: `${deps.publicUrl().replace(/^http/, 'ws')}/v1/sandboxes/${params.sandboxId}/terminal?token=${issued.token}`,
      };
    },
    async sandboxesUrlsCreate({ auth, params, body }) {
      return deps.devUrls.expose(auth, params.sandboxId, body);
    },
    async sandboxesUrlsList({ auth, params, query }) {
      return deps.devUrls.list(auth, params.sandboxId, query);
    },
    async sandboxesUrlsDelete({ auth, params }) {
      return deps.devUrls.revoke(auth, params.sandboxId, params.port);
    },
    async sandboxesSnapshotsCreate({ auth, params, body }) {
      return deps.sandboxes.createSnapshot(auth, params.sandboxId, body);
    },
    async sandboxesSnapshotsList({ auth, params, query }) {
      return deps.sandboxes.listSnapshots(auth, params.sandboxId, query);
    },
    async sandboxesSnapshotsDelete({ auth, params }) {
      return deps.sandboxes.deleteSnapshot(auth, params.sandboxId, params.snapshotId);
    },
    async sandboxesRollback({ auth, params, body }) {
      return deps.sandboxes.rollback(auth, params.sandboxId, body);
    },
    async sandboxesBranch({ auth, params, body }) {
      // The branch mounts what its source mounts: the same rule as mounting them anew.
      checkMounts(auth, (await deps.sandboxes.get(auth, params.sandboxId)).mounts);
      return deps.sandboxes.branch(auth, params.sandboxId, body);
    },
    async sandboxesLogs({ auth, params, query }) {
      return { data: await deps.sandboxes.logs(auth, params.sandboxId, query) };
    },
    async sandboxesLogsStream({ auth, params, query }) {
      return deps.sandboxes.followLogs(auth, params.sandboxId, query.after ?? 0);
    },
    async sandboxProcessesStart({ auth, params, body }) {
      return deps.sandboxes.startProcess(auth, params.sandboxId, body);
    },
    async sandboxProcessesList({ auth, params, query }) {
      return deps.sandboxes.listProcesses(auth, params.sandboxId, query);
    },
    async sandboxProcessesGet({ auth, params }) {
      return deps.sandboxes.getProcess(auth, params.sandboxId, params.pid);
    },
    async sandboxProcessesOutput({ auth, params, query }) {
      return deps.sandboxes.followProcess(auth, params.sandboxId, params.pid, query.since ?? 0);
    },
    async sandboxProcessesStdin({ auth, params, body }) {
      return deps.sandboxes.processStdin(
        auth,
        params.sandboxId,
        params.pid,
        Buffer.from(body.data ?? '', 'base64'),
        body.eof ?? false,
      );
    },
    async sandboxProcessesResize({ auth, params, body }) {
      return deps.sandboxes.resizeProcess(auth, params.sandboxId, params.pid, body);
    },
    async sandboxProcessesSignal({ auth, params, body }) {
      return deps.sandboxes.signalProcess(auth, params.sandboxId, params.pid, body.signal);
    },
    async sandboxFilesDownload({ auth, params, query }) {
      return deps.sandboxes.downloadFile(auth, params.sandboxId, query.path);
    },
    async sandboxFilesUpload({ auth, params, query, rawBody }) {
      return deps.sandboxes.uploadFile(auth, params.sandboxId, query.path, rawBody, query.append === 'true');
    },
    async sandboxFilesStat({ auth, params, query }) {
      return deps.sandboxes.statFile(auth, params.sandboxId, query.path);
    },
    async sandboxFilesMove({ auth, params, body }) {
      return deps.sandboxes.moveFile(auth, params.sandboxId, body.from, body.to);
    },
    async sandboxFilesWatch({ auth, params, query }) {
      return deps.sandboxes.watchFiles(auth, params.sandboxId, query.path, query.recursive === 'true');
    },
  };
}
