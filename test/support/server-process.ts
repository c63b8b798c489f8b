import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';

const bin = new URL('../../packages/cli/bin/runtools.js', import.meta.url).pathname;

export interface ServerProcess {
  child: ChildProcessWithoutNullStreams;
  /** The URL from its `listening on` line; rejects when it exits first. */
  listening: Promise<string>;
  exited: Promise<number | null>;
  stderr(): string;
}

/** Starts `runtools server` (the built CLI) as a process of its own, as a user would. */
export function startServerProcess(
  dataDir: string,
  databaseArgs: string[],
  env: Record<string, string> = {},
): ServerProcess {
  const child = spawn(
    process.execPath,
    [bin, 'server', '--data-dir', dataDir, '--port', '0', '--log-level', 'silent', ...databaseArgs],
    // Any free port for the SSH gateway: test servers run side by side.
    { env: { PATH: process.env.PATH ?? '', HOME: dataDir, RUNTOOLS_SSH_PORT: '0', ...env } },
  );
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const listening = new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match?.[1]) resolve(match[1]);
    });
    void exited.then((code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
  });
  return { child, listening, exited, stderr: () => stderr };
}
