import { type ChildProcess, spawn } from 'node:child_process';

/** The built `runtools` binary, run as a user runs it. */
export const cliBin = new URL('../../packages/cli/bin/runtools.js', import.meta.url).pathname;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface StartedCli {
  child: ChildProcess;
  /** What it has written so far. */
  stdout(): string;
  stderr(): string;
  result: Promise<CliResult>;
}

/**
 * Starts the real binary in its own process with a private config dir (also its HOME and working directory)
 * and no API settings from outside but those in `env`; `input` is its whole stdin.
 */
export function startCli(
  args: string[],
  options: { configDir: string; input?: string; env?: Record<string, string> },
): StartedCli {
  const child = spawn(process.execPath, [cliBin, ...args], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: options.configDir,
      RUNTOOLS_CONFIG_DIR: options.configDir,
      ...options.env,
    },
    cwd: options.configDir,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const result = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  child.stdin.end(options.input ?? '');
  return { child, stdout: () => stdout, stderr: () => stderr, result };
}

/** Runs the binary to its end (see startCli). */
export function runCli(
  args: string[],
  options: { configDir: string; input?: string; env?: Record<string, string> },
): Promise<CliResult> {
  return startCli(args, options).result;
}
