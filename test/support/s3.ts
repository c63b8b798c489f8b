import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A local S3-compatible server (s3rver, over loopback, in a child process) with one bucket, standing in for
 * AWS S3, R2 or MinIO. It accepts the fixed credentials S3RVER / S3RVER and keeps each object as
 * `<dir>/<bucket>/<key>._S3rver_object`.
 */
export async function startS3(bucket = 'runtools') {
  const directory = mkdtempSync(join(tmpdir(), 'runtools-s3-'));
  const child = spawn(process.execPath, [new URL('./s3-server.mjs', import.meta.url).pathname, directory, bucket], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    void exited.then(() => reject(new Error('s3rver exited before it listened')));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    directory,
    env: {
      RUNTOOLS_WORKSPACE_STORAGE: 's3',
      RUNTOOLS_S3_ENDPOINT: endpoint,
      RUNTOOLS_S3_BUCKET: bucket,
      RUNTOOLS_S3_ACCESS_KEY_ID: 'S3RVER',
      RUNTOOLS_S3_SECRET_ACCESS_KEY: 'S3RVER',
    },
    /** Where s3rver keeps the object with this key. */
    objectPath(key: string): string {
      return join(directory, bucket, `${key}._S3rver_object`);
    },
    async close(): Promise<void> {
      child.kill('SIGTERM');
      await exited;
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
