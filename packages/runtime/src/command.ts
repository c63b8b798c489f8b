import { spawn } from 'node:child_process';

export interface CommandResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
}

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly result: CommandResult,
  ) {
    super(
      `${command} exited with ${result.exitCode}: ${result.stderr.toString('utf8').trim() || result.stdout.toString('utf8').trim()}`,
    );
    this.name = 'CommandError';
  }
}

/** Runs a program to completion, collecting its output; never throws for a non-zero exit. */
export function runCommand(
  program: string,
  args: readonly string[],
  options: { stdin?: Buffer | string; timeoutMs?: number; env?: NodeJS.ProcessEnv; detached?: boolean } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      detached: options.detached ?? false,
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    if (options.timeoutMs) {
      timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    }
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.once('error', (error) => {
      if (timer) clearTimeout(timer);
      reject(error);
    });
    let settled = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      resolve({
        exitCode: code ?? (signal === 'SIGKILL' ? 137 : 128),
        stdout: Buffer.concat(stdout),
        stderr: Buffer.concat(stderr),
      });
    };
    child.once('close', finish);
    // A command that leaves a background process behind (`server &`) exits while that process still holds
    // the output pipes open: answer shortly after the exit instead of waiting for pipes that never close.
    child.once('exit', (code, signal) => {
      setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish(code, signal);
      }, 100).unref();
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.stdin ?? '');
  });
}

/** Runs a program and throws a CommandError unless it exits 0. */
export async function mustRun(
  program: string,
  args: readonly string[],
  options: Parameters<typeof runCommand>[2] = {},
) {
  const result = await runCommand(program, args, options);
  if (result.exitCode !== 0) throw new CommandError(`${program} ${args.join(' ')}`, result);
  return result;
}
