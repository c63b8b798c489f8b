import { exitCodeOf, type ProcessRequest } from '@runtools/runtime';
import type {
  SandboxExecEvent,
  SandboxExecResult,
  SandboxProcess,
  SandboxProcessEvent,
  SandboxProcessStart,
} from '@runtools/spec';
import type { Actor } from '../auth/actor.js';
import { memoryPage, type Page, type PageRequest } from '../db/pagination.js';
import { DomainError } from '../errors.js';
import { EventQueue } from './event-queue.js';
import { channelApiError, type SandboxChannels } from './sandbox-channels.js';
import type { SandboxContext } from './sandbox-context.js';

const defaultExecTimeoutMs = 60_000;
const maxOutputBytes = 8 * 1024 * 1024;

export type ExecInput = {
  command: string;
  cwd?: string | undefined;
  env?: Record<string, string> | undefined;
  stdin?: string | undefined;
  timeoutMs?: number | undefined;
};

/** What the daemon runs for an API exec request: the command string under /bin/sh. */
function processRequest(request: ExecInput, timeoutMs: number): ProcessRequest {
  return {
    argv: ['/bin/sh', '-c', request.command],
    ...(request.cwd ? { cwd: request.cwd } : {}),
    ...(request.env ? { env: request.env } : {}),
    timeoutMs,
  };
}

/** Collects a command's output up to the API's limit, marking where it was cut. */
class OutputBuffer {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  private dropped = false;

  push(chunk: Buffer): void {
    if (this.bytes >= maxOutputBytes) {
      this.dropped = true;
      return;
    }
    this.chunks.push(chunk.subarray(0, maxOutputBytes - this.bytes));
    this.dropped ||= chunk.length > maxOutputBytes - this.bytes;
    this.bytes += Math.min(chunk.length, maxOutputBytes - this.bytes);
  }

  text(): string {
    const text = Buffer.concat(this.chunks).toString('utf8');
    return this.dropped ? `${text}\n[output truncated]` : text;
  }
}

/** Commands in a running sandbox: run to completion, streamed, or left running in the background. */
export class SandboxExec {
  constructor(
    private readonly context: SandboxContext,
    private readonly channels: SandboxChannels,
  ) {}

  async exec(auth: Actor, id: string, request: ExecInput): Promise<SandboxExecResult> {
    const channel = await this.channels.channelOf(auth, id);
    const stdout = new OutputBuffer();
    const stderr = new OutputBuffer();
    try {
      const running = channel.exec(processRequest(request, request.timeoutMs ?? defaultExecTimeoutMs), {
        onStdout: (chunk) => stdout.push(chunk),
        onStderr: (chunk) => stderr.push(chunk),
      });
      if (request.stdin !== undefined) await running.write(request.stdin);
      running.closeStdin();
      const outcome = await running.done;
      const exitCode = exitCodeOf(outcome);
      this.logExec(id, request.command, exitCode);
      return { stdout: stdout.text(), stderr: stderr.text(), exitCode, timedOut: outcome.timedOut };
    } catch (error) {
      throw channelApiError(error, { sandboxId: id });
    }
  }

  /**
   * Runs a command and hands back its output as events while it runs, `exit` last. Checks happen before
   * the first event, so a bad request is still a plain error answer; ending the iteration early (the client
   * went away) kills the command.
   */
  async execStream(auth: Actor, id: string, request: ExecInput): Promise<AsyncIterable<SandboxExecEvent>> {
    const channel = await this.channels.channelOf(auth, id);
    // The client going away cancels the command: it does not outlive its caller.
    const events = new EventQueue<SandboxExecEvent>(() => running.cancel());
    const running = channel.exec(processRequest(request, request.timeoutMs ?? defaultExecTimeoutMs), {
      onStdout: (chunk) => events.push({ type: 'stdout', data: chunk.toString('base64') }),
      onStderr: (chunk) => events.push({ type: 'stderr', data: chunk.toString('base64') }),
    });
    if (request.stdin !== undefined) running.write(request.stdin).catch(() => {});
    running.closeStdin();
    running.done.then(
      (outcome) => {
        // Cancelled: the client went away, and nobody is left to tell.
        if (outcome.exitCode !== undefined) {
          events.push({ type: 'exit', exitCode: outcome.exitCode, timedOut: outcome.timedOut });
          this.logExec(id, request.command, outcome.exitCode);
        }
        events.end();
      },
      (error: Error) => {
        events.push({ type: 'stderr', data: Buffer.from(`runtools: ${error.message}\n`).toString('base64') });
        events.push({ type: 'exit', exitCode: 127, timedOut: false });
        events.end();
      },
    );
    return events;
  }

  private logExec(id: string, command: string, exitCode: number): void {
    const shown = command.length > 200 ? `${command.slice(0, 200)}…` : command;
    this.context.log
      .append(id, { type: 'exec', message: `$ ${shown} (exit ${exitCode})`, data: { exitCode } })
      .catch((error) => this.context.options.logger.warn({ err: error, sandboxId: id }, 'sandbox log write failed'));
  }

  async startProcess(auth: Actor, id: string, body: SandboxProcessStart): Promise<SandboxProcess> {
    const pid = await this.channels.onChannel(auth, id, {}, (channel) =>
      channel.spawn({
        argv: ['/bin/sh', '-c', body.command],
        ...(body.cwd ? { cwd: body.cwd } : {}),
        ...(body.env ? { env: body.env } : {}),
        ...(body.timeoutMs ? { timeoutMs: body.timeoutMs } : {}),
        ...(body.pty ? { pty: body.pty } : {}),
      }),
    );
    const shown = body.command.length > 200 ? `${body.command.slice(0, 200)}…` : body.command;
    await this.context.log.append(id, { type: 'process', message: `started ${pid}: ${shown}`, data: { pid } });
    return this.getProcess(auth, id, pid);
  }

  /** By start time, then pid. */
  async listProcesses(auth: Actor, id: string, page: PageRequest): Promise<Page<SandboxProcess>> {
    const processes = (await this.processes(auth, id)).sort((a, b) =>
      a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : a.pid - b.pid,
    );
    return memoryPage(processes, page, { arity: 2, keyOf: (process) => [process.startedAt, process.pid] });
  }

  private async processes(auth: Actor, id: string): Promise<SandboxProcess[]> {
    const processes = await this.channels.onChannel(auth, id, {}, (channel) => channel.processes());
    return processes.map((process) => ({
      pid: process.pid,
      // Started as /bin/sh -c <command>.
      command: process.argv.length === 3 && process.argv[1] === '-c' ? (process.argv[2] ?? '') : process.argv.join(' '),
      running: process.running,
      exitCode: process.exitCode ?? null,
      startedAt: process.startedAt,
      endedAt: process.endedAt ?? null,
      outputBytes: process.outputBytes,
    }));
  }

  async getProcess(auth: Actor, id: string, pid: number): Promise<SandboxProcess> {
    const found = (await this.processes(auth, id)).find((process) => process.pid === pid);
    if (!found) throw new DomainError('process_not_found', `no background process ${pid} in sandbox ${id}`, { pid });
    return found;
  }

  /** A background process's output from byte `since` on, each chunk with its offset, then its exit. */
  async followProcess(
    auth: Actor,
    id: string,
    pid: number,
    since: number,
  ): Promise<AsyncIterable<SandboxProcessEvent>> {
    await this.getProcess(auth, id, pid);
    const channel = await this.channels.channelOf(auth, id);
    let offset = since;
    const chunk = (type: 'stdout' | 'stderr') => (data: Buffer) => {
      events.push({ type, data: data.toString('base64'), offset });
      offset += data.length;
    };
    const events = new EventQueue<SandboxProcessEvent>(() => attached.cancel());
    const attached = channel.attach(pid, since, { onStdout: chunk('stdout'), onStderr: chunk('stderr') });
    attached.done.then(
      (outcome) => {
        if (outcome.exitCode !== undefined)
          events.push({
            type: 'exit',
            exitCode: outcome.exitCode,
            timedOut: outcome.timedOut,
            ...(outcome.signal ? { signal: outcome.signal } : {}),
          });
        events.end();
      },
      () => events.end(),
    );
    return events;
  }

  async processStdin(auth: Actor, id: string, pid: number, data: Buffer, eof: boolean) {
    await this.channels.onChannel(auth, id, {}, (channel) => channel.stdin(pid, data, eof));
    return { pid };
  }

  async resizeProcess(auth: Actor, id: string, pid: number, size: { cols: number; rows: number }) {
    await this.channels.onChannel(auth, id, {}, (channel) => channel.resize(pid, size.cols, size.rows));
    return { pid };
  }

  async signalProcess(auth: Actor, id: string, pid: number, signal: string) {
    await this.channels.onChannel(auth, id, {}, (channel) => channel.kill(pid, signal));
    await this.context.log.append(id, {
      type: 'process',
      message: `sent SIG${signal} to ${pid}`,
      data: { pid, signal },
    });
    return { pid };
  }
}
