import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, lstatSync, readlinkSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { delimiter, join } from 'node:path';
import { isInside } from './root-paths.js';

/** Each of stdout and stderr is kept up to this much; the rest is read and dropped. */
export const maxExecOutputBytes = 1024 * 1024;

/** An executable on PATH (or in the usual system dirs), or null. */
export function findExecutable(name: string): string | null {
  const dirs = [
    ...(process.env.PATH ?? '').split(delimiter),
    '/usr/local/sbin',
    '/usr/local/bin',
    '/usr/sbin',
    '/usr/bin',
    '/sbin',
    '/bin',
  ];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return null;
}

/** How this device runs `exec`: confined by bubblewrap, plainly (the owner allowed it), or not at all. */
export type Confinement =
  | { kind: 'bwrap'; bwrap: string; shell: string }
  | { kind: 'unconfined'; shell: string }
  | { kind: 'refused' };

export function detectConfinement(options: { allowUnconfined: boolean }): Confinement {
  const shell = findExecutable('bash') ?? findExecutable('sh') ?? '/bin/sh';
  const bwrap = findExecutable('bwrap');
  if (bwrap) return { kind: 'bwrap', bwrap, shell };
  return options.allowUnconfined ? { kind: 'unconfined', shell } : { kind: 'refused' };
}

export const unconfinedMessage =
  'bash is not available on this device: install bubblewrap, or start the helper with --allow-unconfined-bash';

const systemDirs = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/etc', '/opt'];

/**
 * bubblewrap's arguments: the system read-only, a private /proc, /dev and /tmp, the owner's home hidden under
 * an empty tmpfs, and the root the only writable place the command can reach. Nothing else of the host's file
 * system is mounted, so the owner's other files cannot be read either.
 */
export function bwrapArguments(options: { root: string; home: string | null; cwd: string }): string[] {
  const args: string[] = [];
  for (const dir of systemDirs) {
    let stats: ReturnType<typeof lstatSync>;
    try {
      stats = lstatSync(dir);
    } catch {
      continue;
    }
    // Merged /usr: /bin is a link to usr/bin; the same link inside keeps paths such as /bin/sh working.
    if (stats.isSymbolicLink()) args.push('--symlink', readlinkSync(dir), dir);
    else args.push('--ro-bind', dir, dir);
  }
  args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp');
  const { root, home, cwd } = options;
  // The owner's home is hidden unless the root is the home or above it; a root below it is bound back in next.
  if (home && home !== '/' && existsSync(home) && !isInside(root, home)) args.push('--tmpfs', home);
  args.push('--bind', root, root, '--chdir', cwd);
  // --cap-drop ALL: a helper run as root would otherwise hand root's capabilities (mount, mknod) to the command.
  args.push('--unshare-pid', '--unshare-ipc', '--die-with-parent', '--new-session', '--cap-drop', 'ALL');
  return args;
}

export interface ExecRequest {
  root: string;
  /** The owner's home, hidden from the command unless the root is it or above it. */
  home: string | null;
  command: string;
  /** Real, absolute, inside the root (checked by the caller). */
  cwd: string;
  timeoutMs: number;
  confinement: Confinement;
  signal?: AbortSignal;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut?: boolean;
}

/** The environment a command gets: not the helper's, which may hold the owner's secrets (API keys, tokens). */
function commandEnvironment(root: string): NodeJS.ProcessEnv {
  const environment: NodeJS.ProcessEnv = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: root,
    TERM: 'dumb',
  };
  for (const name of ['LANG', 'LC_ALL', 'USER', 'LOGNAME', 'TZ']) {
    const value = process.env[name];
    if (value !== undefined) environment[name] = value;
  }
  return environment;
}

class Capped {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  add(chunk: Buffer): void {
    if (this.size >= maxExecOutputBytes) return;
    const kept = chunk.subarray(0, maxExecOutputBytes - this.size);
    this.chunks.push(kept);
    this.size += kept.length;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/**
 * Runs a command with bash (sh when there is none) in its own process group. A timeout or a cancel kills the
 * whole group; when the command itself ends, anything it left running in the background is killed too, so no
 * process outlives its call (under bubblewrap, its pid namespace ends with it anyway).
 */
export function runCommand(request: ExecRequest): Promise<ExecResult> {
  const { confinement } = request;
  if (confinement.kind === 'refused') throw new Error(unconfinedMessage);
  const shellArgs = ['-c', request.command];
  const [file, args] =
    confinement.kind === 'bwrap'
      ? [
          confinement.bwrap,
          [
            ...bwrapArguments({ root: request.root, home: request.home, cwd: request.cwd }),
            confinement.shell,
            ...shellArgs,
          ],
        ]
      : [confinement.shell, shellArgs];
  return new Promise<ExecResult>((resolvePromise, reject) => {
    const child = spawn(file, args, {
      cwd: request.cwd,
      env: commandEnvironment(request.root),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const stdout = new Capped();
    const stderr = new Capped();
    let timedOut = false;
    let exited = false;
    const killGroup = () => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, request.timeoutMs);
    const onAbort = () => killGroup();
    request.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (chunk: Buffer) => stdout.add(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.add(chunk));
    child.on('exit', () => {
      exited = true;
      killGroup(); // what it left in the background holds the pipes open
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
      if (!exited) reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
      const exitCode = code ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : 1);
      resolvePromise({
        exitCode,
        stdout: stdout.text(),
        stderr: stderr.text(),
        ...(timedOut ? { timedOut: true } : {}),
      });
    });
  });
}
