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

export interface RunningCommand {
  /** Resolves with the exit code once the program has exited (and its output is read). */
  done: Promise<number>;
  /** Kills the program (SIGKILL). */
  kill(): void;
}

/**
 * Starts a program and hands its output to callbacks as it arrives. Resolves `done` with the exit code; a
 * program killed by its timeout resolves 137. Never throws for a non-zero exit.
 */
export function spawnCommand(
  program: string,
  args: readonly string[],
  options: {
    stdin?: Buffer | string;
    timeoutMs?: number;
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    detached?: boolean;
    onStdout?: (chunk: Buffer) => void;
    onStderr?: (chunk: Buffer) => void;
  } = {},
): RunningCommand {
  const child = spawn(program, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: options.env ?? process.env,
    ...(options.cwd ? { cwd: options.cwd } : {}),
    detached: options.detached ?? false,
  });
  let timer: NodeJS.Timeout | undefined;
  if (options.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
  child.stdout.on('data', (chunk: Buffer) => options.onStdout?.(chunk));
  child.stderr.on('data', (chunk: Buffer) => options.onStderr?.(chunk));
  const done = new Promise<number>((resolve, reject) => {
    let settled = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      resolve(code ?? (signal === 'SIGKILL' ? 137 : 128));
    };
    child.once('error', (error) => {
      if (timer) clearTimeout(timer);
      reject(error);
    });
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
  });
  child.stdin.on('error', () => {});
  child.stdin.end(options.stdin ?? '');
  return { done, kill: () => child.kill('SIGKILL') };
}

/** Runs a program to completion, collecting its output; never throws for a non-zero exit. */
export async function runCommand(
  program: string,
  args: readonly string[],
  options: {
    stdin?: Buffer | string;
    timeoutMs?: number;
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    detached?: boolean;
  } = {},
): Promise<CommandResult> {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  const running = spawnCommand(program, args, {
    ...options,
    onStdout: (chunk) => stdout.push(chunk),
    onStderr: (chunk) => stderr.push(chunk),
  });
  const exitCode = await running.done;
  return { exitCode, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) };
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
