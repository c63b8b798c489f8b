import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeBundleConfig } from '../bundle.js';
import { CommandError, mustRun, type RunningCommand, runCommand, spawnCommand } from '../command.js';
import type { DriverName, DriverSandboxSpec, ExecRequest, ExecResult, SandboxDriver } from '../driver.js';
import { privateCgroupNamespace } from '../host.js';

const idPattern = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * What both drivers share: a per-sandbox overlay (the base rootfs read-only below, the sandbox's own layer
 * above), one OCI bundle, and every runtime call made inside a private mount namespace (see host.ts).
 * Subclasses say how their runtime starts, execs into and removes a container.
 */
export abstract class OciDriver implements SandboxDriver {
  abstract readonly name: DriverName;

  constructor(
    protected readonly stateDir: string,
    protected readonly tools: { unshare: string; mount: string },
  ) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  }

  /** The runtime binary and the global flags it needs on every call. */
  protected abstract runtimeArgs(): string[];

  // crun and runsc take the same subcommands and flags for these.
  private runArgs(id: string, bundleDir: string): string[] {
    return ['run', '--detach', '--bundle', bundleDir, id];
  }

  private execArgs(id: string, request: ExecRequest): string[] {
    return [
      'exec',
      ...(request.cwd ? ['--cwd', request.cwd] : []),
      ...envFlags('--env', request.env),
      id,
      ...request.command,
    ];
  }

  private destroyCalls(id: string): string[][] {
    return [
      ['kill', id, 'KILL'],
      ['delete', '--force', id],
    ];
  }
  /** The cgroup pids.max that enforces this driver's process limit. */
  protected abstract pidsLimit(maxProcesses: number): number;

  protected sandboxDir(id: string): string {
    if (!idPattern.test(id)) throw new Error(`invalid sandbox id ${id}`);
    return join(this.stateDir, id);
  }

  rootfsPath(id: string): string {
    return join(this.sandboxDir(id), 'rootfs');
  }

  protected runtime(args: string[], options: Parameters<typeof runCommand>[2] = {}) {
    const [program, ...prefix] = privateCgroupNamespace(this.tools.unshare);
    return runCommand(program as string, [...prefix, ...this.runtimeArgs(), ...args], options);
  }

  async create(spec: DriverSandboxSpec): Promise<void> {
    const dir = this.sandboxDir(spec.id);
    if (existsSync(dir)) throw new Error(`sandbox ${spec.id} already exists`);
    const upper = join(dir, 'upper');
    const work = join(dir, 'work');
    const rootfs = join(dir, 'rootfs');
    const bundle = join(dir, 'bundle');
    for (const path of [upper, work, rootfs, bundle]) mkdirSync(path, { recursive: true });
    try {
      await mustRun(this.tools.mount, [
        '-t',
        'overlay',
        'overlay',
        '-o',
        `lowerdir=${spec.baseRootfs},upperdir=${upper},workdir=${work}`,
        rootfs,
      ]);
      writeBundleConfig({
        bundleDir: bundle,
        rootfs,
        hostname: spec.hostname,
        env: spec.env,
        limits: spec.limits,
        cgroupsPath: `/runtools/${spec.id}`,
        pidsLimit: this.pidsLimit(spec.limits.maxProcesses),
      });
      await this.start(spec.id, bundle, join(dir, 'runtime.log'));
    } catch (error) {
      await this.destroy(spec.id).catch(() => {});
      throw error;
    }
  }

  /**
   * Starts the container detached, in a session of its own so that it (and gVisor's file proxy) outlive
   * this process and its process group; its output goes to a log file, read back when the start fails.
   */
  private async start(id: string, bundle: string, logPath: string): Promise<void> {
    const [program, ...prefix] = privateCgroupNamespace(this.tools.unshare);
    const log = openSync(logPath, 'a');
    try {
      const exitCode = await new Promise<number>((resolve, reject) => {
        const child = spawn(program as string, [...prefix, ...this.runtimeArgs(), ...this.runArgs(id, bundle)], {
          stdio: ['ignore', log, log],
          detached: true,
        });
        child.once('error', reject);
        child.once('exit', (code) => resolve(code ?? 1));
      });
      if (exitCode !== 0) {
        const output = existsSync(logPath) ? readFileSync(logPath, 'utf8').trim() : '';
        throw new CommandError(`${this.name} run ${id}`, {
          exitCode,
          stdout: Buffer.alloc(0),
          stderr: Buffer.from(output),
        });
      }
    } finally {
      closeSync(log);
    }
  }

  /** The environment the sandbox was created with: every exec starts from it (crun's exec would not). */
  private readonly createEnv = new Map<string, Record<string, string>>();

  private sandboxEnv(id: string): Record<string, string> {
    let env = this.createEnv.get(id);
    if (!env) {
      const configPath = join(this.sandboxDir(id), 'bundle', 'config.json');
      const entries: string[] = existsSync(configPath)
        ? (JSON.parse(readFileSync(configPath, 'utf8')) as { process: { env: string[] } }).process.env
        : [];
      env = Object.fromEntries(
        entries.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
      );
      this.createEnv.set(id, env);
    }
    return env;
  }

  async exec(id: string, request: ExecRequest): Promise<ExecResult> {
    const env = { ...this.sandboxEnv(id), ...request.env };
    return this.runtime(this.execArgs(id, { ...request, env }), {
      ...(request.stdin !== undefined ? { stdin: request.stdin } : {}),
      ...(request.timeoutMs ? { timeoutMs: request.timeoutMs } : {}),
    });
  }

  execStream(
    id: string,
    request: ExecRequest,
    output: { onStdout(chunk: Buffer): void; onStderr(chunk: Buffer): void },
  ): RunningCommand {
    const env = { ...this.sandboxEnv(id), ...request.env };
    const [program, ...prefix] = privateCgroupNamespace(this.tools.unshare);
    return spawnCommand(
      program as string,
      [...prefix, ...this.runtimeArgs(), ...this.execArgs(id, { ...request, env })],
      {
        ...(request.stdin !== undefined ? { stdin: request.stdin } : {}),
        ...(request.timeoutMs ? { timeoutMs: request.timeoutMs } : {}),
        onStdout: output.onStdout,
        onStderr: output.onStderr,
      },
    );
  }

  async state(id: string): Promise<'running' | 'stopped' | 'missing'> {
    this.sandboxDir(id);
    const result = await this.runtime(['state', id]);
    if (result.exitCode !== 0) return 'missing';
    try {
      const status = (JSON.parse(result.stdout.toString('utf8')) as { status?: string }).status;
      return status === 'running' ? 'running' : 'stopped';
    } catch {
      return 'missing';
    }
  }

  async destroy(id: string): Promise<void> {
    const dir = this.sandboxDir(id);
    this.createEnv.delete(id);
    for (const call of this.destroyCalls(id)) await this.runtime(call);
    const rootfs = join(dir, 'rootfs');
    // Lazy unmount: a process still holding a file must not keep the layer mounted forever.
    await runCommand('umount', ['-l', rootfs]);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function envFlags(flag: string, env: Record<string, string> | undefined): string[] {
  return Object.entries(env ?? {}).flatMap(([name, value]) => [flag, `${name}=${value}`]);
}
