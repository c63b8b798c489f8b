import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '@runtools/runtime';
import { ConfigError } from '../config.js';
import { LocalWorkspaceStorage } from './workspace-service.js';

export interface S3StorageConfig {
  endpoint: string;
  bucket: string;
  region?: string | undefined;
  accessKeyId: string;
  secretAccessKey: string;
  prefix: string;
  pathStyle: boolean;
}

/** Whether `path` is a mount point of this host (from the kernel's own list). */
function mountedAt(path: string): string | undefined {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const fields = line.split(' ');
    const separator = fields.indexOf('-');
    if (fields[4] === path && separator > 0) return fields[separator + 1];
  }
  return undefined;
}

/**
 * Workspaces in an S3-compatible bucket: the bucket is mounted on the host with s3fs (FUSE) at
 * `<data-dir>/s3-mount`, each workspace a directory under the prefix, and everything else is as with local
 * storage (the file API and sandbox mounts use the host path). The credentials stay on the host, in a 0600
 * file for s3fs: sandboxes see files, never keys. The mount outlives the control plane, like the sandboxes
 * that bind it; a restart finds it in place and keeps it.
 */
export class S3WorkspaceStorage extends LocalWorkspaceStorage {
  private constructor(
    root: string,
    runDir: string,
    readonly mountPoint: string,
  ) {
    super(root, runDir);
  }

  static async open(dataDir: string, config: S3StorageConfig): Promise<S3WorkspaceStorage> {
    const mountPoint = join(dataDir, 's3-mount');
    mkdirSync(mountPoint, { recursive: true, mode: 0o700 });
    const fsType = mountedAt(mountPoint);
    if (fsType && fsType !== 'fuse.s3fs')
      throw new ConfigError(`${mountPoint} is already a ${fsType} mount; unmount it to store workspaces in S3`);
    if (!fsType) {
      const s3fs = ['/usr/bin/s3fs', '/usr/local/bin/s3fs'].find((path) => existsSync(path));
      if (!s3fs) throw new ConfigError('workspace storage s3 needs s3fs: run ./dev setup (apt-get install s3fs)');
      const passwd = join(dataDir, 's3-passwd');
      writeFileSync(passwd, `${config.accessKeyId}:${config.secretAccessKey}\n`, { mode: 0o600 });
      const options = [
        `url=${config.endpoint}`,
        `passwd_file=${passwd}`,
        // Sandboxes (gVisor's file proxy, crun's root) reach the files through a bind mount of the host's.
        'allow_other',
        // Objects written by other S3 clients, without s3fs's mode metadata, still read as files.
        'complement_stat',
        'dbglevel=warn',
        'retries=2',
        'connect_timeout=5',
        ...(config.pathStyle ? ['use_path_request_style'] : []),
        ...(config.region ? [`endpoint=${config.region}`] : []),
      ];
      const result = await runCommand(s3fs, [config.bucket, mountPoint, '-o', options.join(',')], {
        timeoutMs: 60_000,
      });
      if (result.exitCode !== 0 || mountedAt(mountPoint) !== 'fuse.s3fs') {
        const reason = result.stderr.toString('utf8').trim() || `s3fs exited with ${result.exitCode}`;
        throw new ConfigError(`cannot mount bucket ${config.bucket} from ${config.endpoint}: ${reason}`);
      }
    }
    const root = join(mountPoint, config.prefix);
    // s3fs mounts even when the endpoint does not answer; the first real request says whether it works.
    await mkdir(root, { recursive: true }).catch(async (error: Error) => {
      await runCommand('umount', ['-l', mountPoint]);
      throw new ConfigError(`cannot mount bucket ${config.bucket} from ${config.endpoint}: ${error.message}`);
    });
    return new S3WorkspaceStorage(root, join(dataDir, 'workspace-files'), mountPoint);
  }
}
