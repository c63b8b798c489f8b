import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { DriverName, RunningProcess, SandboxDriver } from '@runtools/runtime';
import type { Logger } from 'pino';
import { DomainError } from '../../errors.js';
import { randomBase32 } from '../../ids.js';
import { toolRunnerSource } from './sandbox-runner.js';

/** Where a runner sandbox sees its code (read-only) and the Node binary it runs it with. */
const codeDir = '/opt/runtools/tools';
const nodePath = '/opt/runtools/bin/node';
const marker = '\u0000rt:';
/** Runner sandbox ids: their own prefix, the length of a sandbox id, so neither is a prefix of the other. */
const runnerIdPrefix = 'trn_';

export interface ToolRunnerOptions {
  dataDir: string;
  driver: SandboxDriver;
  /** The runner sandbox's root: a template's layers (a libc is all Node needs). */
  layers: (orgId: string) => Promise<string[]>;
  memoryBytes: number;
  vcpus: number;
  diskBytes: number;
  /** A runner nobody called for this long is destroyed; the next call starts another. */
  idleMs: number;
  logger: Logger;
}

export interface ToolCall {
  tool: string;
  version: number;
  /** The version's bundle (base64), read only when this runner does not have it yet. */
  bundle: () => Promise<string>;
  action: string;
  params: Record<string, unknown>;
  credentials: Record<string, string>;
  timeoutMs: number;
}

interface Pending {
  resolve(result: unknown): void;
  reject(error: DomainError): void;
  /** The runner's process has read the call (it said so): a process that ends after this ran it. */
  accepted: boolean;
}

/** A call the runner's process never read (it had already ended): sent again to a new process. */
class NotTaken extends Error {}

/** One org's runner: a sandbox, and the Node process in it that runs calls (started again when it ends). */
class Runner {
  readonly id = `${runnerIdPrefix}${randomBase32(20)}`;
  readonly dir: string;
  private process: RunningProcess | undefined;
  private starting: Promise<RunningProcess> | undefined;
  private readonly pending = new Map<string, Pending>();
  private output = '';
  private nextCall = 0;
  /** The files written into the code dir, with their digests, to check them against. */
  private readonly placed = new Map<string, { digest: string; content: Buffer }>();
  private idleTimer: NodeJS.Timeout | undefined;
  private created: Promise<void> | undefined;
  destroyed = false;

  constructor(
    readonly orgId: string,
    private readonly options: ToolRunnerOptions,
    private readonly onIdle: (runner: Runner) => void,
  ) {
    this.dir = join(options.dataDir, 'tool-runners', this.id);
  }

  /** Creates the sandbox: no way in but the daemon channel, internet egress on, its code read-only. */
  private create(): Promise<void> {
    this.created ??= (async () => {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      this.place('runner.mjs', Buffer.from(`const __name = (target) => target;\n${toolRunnerSource()}`));
      await this.options.driver.create({
        id: this.id,
        layers: await this.options.layers(this.orgId),
        hostname: 'tool-runner',
        env: { PATH: '/usr/local/bin:/usr/bin:/bin', NODE_ENV: 'production', HOME: '/root' },
        internet: true,
        mounts: [
          { hostPath: this.dir, path: codeDir, readOnly: true },
          { hostPath: realpathSync(process.execPath), path: nodePath, readOnly: true },
        ],
        limits: {
          vcpus: this.options.vcpus,
          memoryBytes: this.options.memoryBytes,
          maxProcesses: 256,
          diskBytes: this.options.diskBytes,
        },
      });
    })();
    return this.created;
  }

  /**
   * Runs one call; a call that outlives its time limit ends the runner's process (the next call starts one).
   * A call sent to a process that was already ending (a tool's exit just before) goes to a new one.
   */
  async call(call: ToolCall): Promise<unknown> {
    try {
      return await this.callOnce(call);
    } catch (error) {
      if (!(error instanceof NotTaken)) throw error;
      return this.callOnce(call);
    }
  }

  private async callOnce(call: ToolCall): Promise<unknown> {
    this.touch();
    await this.create();
    const file = `${call.tool}@${call.version}.mjs`;
    if (!this.placed.has(file)) this.place(file, Buffer.from(await call.bundle(), 'base64'));
    const running = await this.running();
    const id = String(++this.nextCall);
    const answer = new Promise<unknown>((resolve, reject) =>
      this.pending.set(id, { resolve, reject, accepted: false }),
    );
    const timer = setTimeout(() => {
      const waiting = this.pending.get(id);
      this.pending.delete(id);
      waiting?.reject(
        new DomainError(
          'tool_timeout',
          `${call.tool}.${call.action} took longer than ${call.timeoutMs} ms; it was stopped`,
          {
            timeoutMs: call.timeoutMs,
          },
        ),
      );
      // The action may still be running (a loop, a hung request): the process goes, and with it any
      // other call it was running.
      this.stop(`a call to ${call.tool}.${call.action} timed out`);
    }, call.timeoutMs);
    try {
      await running.write(
        `${JSON.stringify({
          id,
          module: `${codeDir}/${file}`,
          action: call.action,
          params: call.params,
          credentials: call.credentials,
        })}\n`,
      );
      return await answer;
    } finally {
      clearTimeout(timer);
      this.touch();
    }
  }

  private running(): Promise<RunningProcess> {
    if (this.process) return Promise.resolve(this.process);
    this.starting ??= this.start().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  /** Writes a file of the code dir (then renames it into place) and remembers its digest. */
  private place(file: string, content: Buffer): void {
    const temporary = join(this.dir, `.${file}.${randomBase32(8)}`);
    writeFileSync(temporary, content);
    renameSync(temporary, join(this.dir, file));
    this.placed.set(file, { digest: createHash('sha256').update(content).digest('hex'), content });
  }

  /**
   * Puts back any file of the code dir that is not what was written, before each process starts. The dir is
   * bound through a read-only view the host's kernel enforces (gVisor alone truncated a read-only bind's file
   * opened with O_TRUNC; docs/decisions.md), so this is a second line: a runner must never start changed code.
   */
  private restoreCode(): void {
    for (const [file, { digest, content }] of this.placed) {
      const path = join(this.dir, file);
      const now = existsSync(path) ? createHash('sha256').update(readFileSync(path)).digest('hex') : undefined;
      if (now !== digest) {
        this.options.logger.warn(
          { runner: this.id, orgId: this.orgId, file },
          'a tool runner file was changed; restored',
        );
        this.place(file, content);
      }
    }
  }

  private async start(): Promise<RunningProcess> {
    this.restoreCode();
    const channel = this.options.driver.channel(this.id);
    await channel.ready();
    // Node's heap is held below the sandbox's memory, so a tool that allocates without bound fails its call
    // with Node's out-of-memory error rather than the kernel's kill.
    const heapMiB = Math.max(32, Math.floor((this.options.memoryBytes / 1024 / 1024) * 0.75));
    let ready: (() => void) | undefined;
    const started = new Promise<void>((resolve) => {
      ready = resolve;
    });
    const process = channel.exec(
      { argv: [nodePath, `--max-old-space-size=${heapMiB}`, `${codeDir}/runner.mjs`], cwd: '/tmp' },
      {
        onStdout: (chunk) => {
          this.output += chunk.toString('utf8');
          for (let end = this.output.indexOf('\n'); end >= 0; end = this.output.indexOf('\n')) {
            const line = this.output.slice(0, end);
            this.output = this.output.slice(end + 1);
            const at = line.indexOf(marker);
            if (at < 0) continue;
            try {
              const message = JSON.parse(line.slice(at + marker.length)) as {
                ready?: boolean;
                accepted?: boolean;
                id?: string;
                ok?: boolean;
                result?: string;
                error?: { kind: string; name?: string; message: string; stack?: string };
              };
              if (message.ready) ready?.();
              else if (message.accepted && message.id) {
                const waiting = this.pending.get(message.id);
                if (waiting) waiting.accepted = true;
              } else if (message.id) this.answer(message);
            } catch {
              // Not one of the runner's answers.
            }
          }
          // A line without an end is kept only up to a point: a tool printing without newlines cannot grow it.
          if (this.output.length > 64 * 1024 * 1024) this.output = '';
        },
        onStderr: (chunk) => {
          this.options.logger.debug(
            { runner: this.id, orgId: this.orgId, output: chunk.toString('utf8') },
            'tool output',
          );
        },
      },
    );
    // Ends with the process's outcome, or with why its stream broke (the sandbox went away).
    const ended = process.done.then(
      (outcome) =>
        outcome.exitCode !== undefined
          ? `the tool runner's process exited with code ${outcome.exitCode}`
          : `the tool runner's process ended${outcome.signal ? ` (${outcome.signal})` : ''}`,
      (error: unknown) => `the tool runner's sandbox went away (${(error as Error).message})`,
    );
    void ended.then((why) => {
      if (this.process === process) this.process = undefined;
      this.output = '';
      this.failAll(why);
    });
    const failed = await Promise.race([started.then(() => undefined), ended]);
    if (failed !== undefined)
      throw new DomainError('tool_execution_failed', `the tool runner did not start: ${failed}`);
    this.process = process;
    return process;
  }

  private answer(message: {
    id?: string;
    ok?: boolean;
    result?: string;
    error?: { kind: string; name?: string; message: string };
  }): void {
    const waiting = message.id ? this.pending.get(message.id) : undefined;
    if (!waiting || !message.id) return;
    this.pending.delete(message.id);
    if (message.ok && typeof message.result === 'string') {
      try {
        waiting.resolve(JSON.parse(message.result));
      } catch {
        waiting.reject(new DomainError('tool_execution_failed', 'the tool answered with something that is not JSON'));
      }
      return;
    }
    const error = message.error ?? { kind: 'threw', message: 'the tool failed' };
    waiting.reject(
      new DomainError(
        'tool_execution_failed',
        error.kind === 'result' ? error.message : `the tool threw ${error.name ?? 'an error'}: ${error.message}`,
        { kind: error.kind, ...(error.name ? { name: error.name } : {}) },
      ),
    );
  }

  private failAll(why: string): void {
    for (const [id, waiting] of this.pending) {
      this.pending.delete(id);
      waiting.reject(
        waiting.accepted
          ? new DomainError('tool_execution_failed', `${why} before the tool answered`)
          : (new NotTaken(why) as unknown as DomainError),
      );
    }
  }

  /** Ends the runner's process (a timed-out call); the sandbox stays for the next call. */
  private stop(why: string): void {
    const process = this.process;
    this.process = undefined;
    this.output = '';
    this.failAll(why);
    process?.cancel();
  }

  private touch(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.onIdle(this), this.options.idleMs);
    this.idleTimer.unref();
  }

  async destroy(): Promise<void> {
    this.destroyed = true;
    clearTimeout(this.idleTimer);
    this.stop('the tool runner was recycled');
    await this.created?.catch(() => {});
    await this.options.driver.destroy(this.id);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Custom tools' code runs here, never in the control plane: in one sandbox per org (never shared between
 * orgs), kept warm between calls and destroyed after it has been idle. Each call has a time limit; a call
 * that passes it, a crash or an exit of the runner fails with a tool error, and the next call gets a new
 * process (or sandbox).
 */
export class ToolRunners {
  private readonly runners = new Map<string, Runner>();
  private closed = false;

  constructor(private readonly options: ToolRunnerOptions) {}

  get runtime(): DriverName {
    return this.options.driver.name;
  }

  async call(orgId: string, call: ToolCall): Promise<unknown> {
    if (this.closed) throw new DomainError('service_unavailable', 'the server is shutting down');
    let runner = this.runners.get(orgId);
    if (!runner || runner.destroyed) {
      runner = new Runner(orgId, this.options, (idle) => void this.recycle(idle));
      this.runners.set(orgId, runner);
    }
    try {
      return await runner.call(call);
    } catch (error) {
      if (error instanceof DomainError) throw error;
      // The sandbox itself failed (it would not start, or its channel broke): start afresh next time.
      this.options.logger.warn({ err: error, orgId }, 'tool runner failed');
      await this.recycle(runner);
      throw new DomainError('tool_execution_failed', `the tool runner failed: ${(error as Error).message}`);
    }
  }

  /** The sandbox id of an org's runner, when it has one (for tests and operators). */
  runnerOf(orgId: string): string | undefined {
    return this.runners.get(orgId)?.id;
  }

  private async recycle(runner: Runner): Promise<void> {
    if (this.runners.get(runner.orgId) === runner) this.runners.delete(runner.orgId);
    await runner.destroy().catch((error: unknown) => {
      this.options.logger.warn({ err: error, runner: runner.id }, 'could not destroy a tool runner');
    });
  }

  /** Destroys runners a previous server left (they are not recorded anywhere else). */
  async removeLeftovers(stateDir: string): Promise<number> {
    const dir = join(stateDir, this.options.driver.name);
    if (!existsSync(dir)) return 0;
    let removed = 0;
    for (const entry of readdirSync(dir)) {
      if (!entry.startsWith(runnerIdPrefix)) continue;
      await this.options.driver.destroy(entry);
      removed++;
    }
    rmSync(join(this.options.dataDir, 'tool-runners'), { recursive: true, force: true });
    return removed;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.runners.values()].map((runner) => this.recycle(runner)));
  }
}
