import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  availableDrivers,
  type DriverName,
  type ExecRequest,
  ensureBaseRootfs,
  hostTools,
  type SandboxDriver,
} from '@runtools/runtime';
import {
  type Sandbox,
  type SandboxExecEvent,
  type SandboxExecResult,
  type SandboxFile,
  type SandboxFileEntry,
  type SandboxRuntime,
  type SandboxStatus,
  sandboxTemplates,
} from '@runtools/spec';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { audit } from '../audit.js';
import type { AuthContext } from '../auth/authenticate.js';
import type { Database } from '../db/schema.js';
import { ApiError } from '../http/errors.js';
import { newId, nowIso } from '../ids.js';
import { parseByteSize } from './byte-size.js';

const defaultMemoryBytes = 1024 ** 3;
const defaultVcpus = 1;
const defaultExecTimeoutMs = 60_000;
const maxOutputBytes = 8 * 1024 * 1024;

/**
 * The command as the sandbox runs it: under coreutils' `timeout` inside the sandbox, so the command and its
 * children are killed there when time is up (killing the runtime's exec client on the host would leave
 * them running). The host-side timer, a little later, only catches a sandbox that stopped answering.
 */
function shellCommand(command: string, timeoutMs: number): string[] {
  return ['/usr/bin/timeout', '--signal=KILL', `${(timeoutMs / 1000).toFixed(3)}s`, '/bin/sh', '-c', command];
}
const hostTimeoutGraceMs = 5000;

/** What the driver runs for an API exec request, with the in-sandbox and host-side timeouts. */
function driverRequest(request: ExecInput, timeoutMs: number): ExecRequest {
  return {
    command: shellCommand(request.command, timeoutMs),
    ...(request.cwd ? { cwd: request.cwd } : {}),
    ...(request.env ? { env: request.env } : {}),
    ...(request.stdin !== undefined ? { stdin: request.stdin } : {}),
    timeoutMs: timeoutMs + hostTimeoutGraceMs,
  };
}

type ExecInput = {
  command: string;
  cwd?: string | undefined;
  env?: Record<string, string> | undefined;
  stdin?: string | undefined;
  timeoutMs?: number | undefined;
};

function sandboxFromRow(row: Database['sandboxes']): Sandbox {
  return {
    id: row.id,
    name: row.name,
    template: row.template,
    runtime: row.runtime as SandboxRuntime,
    status: row.status as SandboxStatus,
    statusReason: row.status_reason,
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    resources: { vcpus: row.vcpus, memoryBytes: Number(row.memory_bytes) },
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function truncate(buffer: Buffer): string {
  return buffer.length > maxOutputBytes
    ? `${buffer.subarray(0, maxOutputBytes).toString('utf8')}\n[output truncated]`
    : buffer.toString('utf8');
}

/**
 * Sandboxes: records and state in the database, isolation by a runtime driver on this host. Create answers
 * once the sandbox runs; every state change is written before and after the driver acts, so a crash leaves
 * a truthful `creating` or `destroying` behind rather than a lie.
 */
export class SandboxService {
  private readonly drivers: Partial<Record<DriverName, SandboxDriver>>;
  private readonly missing: Partial<Record<DriverName, string>>;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: { dataDir: string; rootfsDir: string; defaultRuntime: SandboxRuntime; logger: Logger },
  ) {
    const found = availableDrivers(join(options.dataDir, 'sandboxes'));
    this.drivers = found.drivers;
    this.missing = found.missing;
    this.hostId = `${hostname()}:${options.dataDir}`;
  }

  private readonly hostId: string;

  /**
   * After a restart: sandboxes this host was running are re-attached when their runtime still runs them and
   * become `suspected_missing` when it does not; a create or destroy the restart interrupted is settled.
   */
  async recover(): Promise<{ reattached: number; missing: number; settled: number }> {
    const rows = await this.db
      .selectFrom('sandboxes')
      .selectAll()
      .where('host_id', '=', this.hostId)
      .where('status', 'in', ['creating', 'running', 'destroying'])
      .execute();
    const counts = { reattached: 0, missing: 0, settled: 0 };
    for (const row of rows) {
      const driver = this.drivers[row.runtime as DriverName];
      if (row.status === 'creating') {
        await driver?.destroy(row.id).catch(() => {});
        await this.setStatus(row.id, 'failed', 'the control plane stopped while the sandbox was being created');
        counts.settled++;
      } else if (row.status === 'destroying') {
        await driver?.destroy(row.id).catch(() => {});
        await this.setStatus(row.id, 'destroyed');
        counts.settled++;
      } else if (driver && (await driver.state(row.id)) === 'running') {
        counts.reattached++;
      } else {
        await this.setStatus(
          row.id,
          'suspected_missing',
          driver ? 'the runtime no longer runs this sandbox' : `the ${row.runtime} runtime is unavailable`,
        );
        counts.missing++;
      }
    }
    if (rows.length > 0) this.options.logger.info(counts, 'sandboxes recovered');
    return counts;
  }

  private driver(runtime: SandboxRuntime): SandboxDriver {
    const driver = this.drivers[runtime];
    if (!driver) {
      throw new ApiError(
        'runtime_unavailable',
        `the ${runtime} runtime cannot run on this server: ${this.missing[runtime]}`,
        {
          runtime,
        },
      );
    }
    return driver;
  }

  private async setStatus(id: string, status: SandboxStatus, reason: string | null = null): Promise<void> {
    await this.db
      .updateTable('sandboxes')
      .set({ status, status_reason: reason, updated_at: nowIso() })
      .where('id', '=', id)
      .execute();
  }

  private async row(auth: AuthContext, id: string): Promise<Database['sandboxes']> {
    const row = await this.db
      .selectFrom('sandboxes')
      .selectAll()
      .where('org_id', '=', auth.orgId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw new ApiError('sandbox_not_found', `no sandbox ${id}`);
    return row;
  }

  private async baseRootfs(template: string): Promise<string> {
    const { debootstrap } = hostTools();
    if (!debootstrap)
      throw new ApiError('runtime_unavailable', 'debootstrap is not installed, so no template can be built here');
    this.options.logger.info({ template }, 'preparing template root filesystem');
    return (await ensureBaseRootfs({ cacheDir: this.options.rootfsDir, debootstrap })).path;
  }

  async create(
    auth: AuthContext,
    body: {
      template: string;
      name?: string | undefined;
      runtime?: SandboxRuntime | undefined;
      env?: Record<string, string> | undefined;
      metadata?: Record<string, string> | undefined;
      resources?: { vcpus?: number | undefined; memory?: string | undefined } | undefined;
    },
  ): Promise<Sandbox> {
    if (!(sandboxTemplates as readonly string[]).includes(body.template)) {
      throw new ApiError(
        'template_not_found',
        `no template "${body.template}"; available: ${sandboxTemplates.join(', ')}`,
        {
          template: body.template,
          available: [...sandboxTemplates],
        },
      );
    }
    const runtime = body.runtime ?? this.options.defaultRuntime;
    const driver = this.driver(runtime);
    const now = nowIso();
    const row: Database['sandboxes'] = {
      id: newId('sandbox'),
      org_id: auth.orgId,
      name: body.name ?? null,
      template: body.template,
      runtime,
      host_id: this.hostId,
      status: 'creating',
      status_reason: null,
      metadata: JSON.stringify(body.metadata ?? {}),
      vcpus: body.resources?.vcpus ?? defaultVcpus,
      memory_bytes: body.resources?.memory ? parseByteSize(body.resources.memory) : defaultMemoryBytes,
      created_at: now,
      updated_at: now,
    };
    await this.db.insertInto('sandboxes').values(row).execute();
    try {
      const baseRootfs = await this.baseRootfs(body.template);
      await driver.create({
        id: row.id,
        baseRootfs,
        hostname: row.name ?? 'sandbox',
        env: body.env ?? {},
        limits: { vcpus: row.vcpus, memoryBytes: Number(row.memory_bytes), maxProcesses: 4096 },
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      await this.setStatus(row.id, 'failed', reason);
      if (error instanceof ApiError) throw error;
      this.options.logger.error({ err: error, sandboxId: row.id }, 'sandbox failed to start');
      throw new ApiError('runtime_unavailable', `the sandbox failed to start: ${reason}`, { sandboxId: row.id });
    }
    await this.setStatus(row.id, 'running');
    await audit(this.db, {
      orgId: auth.orgId,
      event: 'sandbox.created',
      actorKeyId: auth.keyId,
      targetId: row.id,
      details: { runtime },
    });
    return sandboxFromRow({ ...row, status: 'running', updated_at: nowIso() });
  }

  async get(auth: AuthContext, id: string): Promise<Sandbox> {
    return sandboxFromRow(await this.row(auth, id));
  }

  async list(auth: AuthContext, query: Record<string, unknown>): Promise<Sandbox[]> {
    let select = this.db.selectFrom('sandboxes').selectAll().where('org_id', '=', auth.orgId);
    // Destroyed sandboxes stay readable by id, but lists show them only when asked for by status.
    select =
      typeof query.status === 'string'
        ? select.where('status', '=', query.status)
        : select.where('status', '!=', 'destroyed');
    const wanted = Object.entries(query)
      .filter(([key, value]) => key.startsWith('metadata.') && typeof value === 'string')
      .map(([key, value]) => [key.slice('metadata.'.length), value as string] as const);
    const rows = await select.orderBy('created_at').execute();
    return rows
      .map(sandboxFromRow)
      .filter((sandbox) => wanted.every(([key, value]) => sandbox.metadata[key] === value));
  }

  async exec(auth: AuthContext, id: string, request: ExecInput): Promise<SandboxExecResult> {
    const row = await this.runningRow(auth, id);
    const timeoutMs = request.timeoutMs ?? defaultExecTimeoutMs;
    const started = performance.now();
    const result = await this.driver(row.runtime as SandboxRuntime).exec(id, driverRequest(request, timeoutMs));
    const timedOut = result.exitCode === 137 && performance.now() - started >= timeoutMs;
    return { stdout: truncate(result.stdout), stderr: truncate(result.stderr), exitCode: result.exitCode, timedOut };
  }

  private async runningRow(auth: AuthContext, id: string): Promise<Database['sandboxes']> {
    const row = await this.row(auth, id);
    if (row.status !== 'running') {
      throw new ApiError('sandbox_not_running', `sandbox ${id} is ${row.status}; exec needs a running sandbox`, {
        status: row.status,
      });
    }
    return row;
  }

  /**
   * Runs a command and hands back its output as events while it runs, `exit` last. Checks happen before
   * the first event, so a bad request is still a plain error answer; ending the iteration early (the client
   * went away) kills the command.
   */
  async execStream(auth: AuthContext, id: string, request: ExecInput): Promise<AsyncIterable<SandboxExecEvent>> {
    const row = await this.runningRow(auth, id);
    const timeoutMs = request.timeoutMs ?? defaultExecTimeoutMs;
    const queue: SandboxExecEvent[] = [];
    let exit: SandboxExecEvent | undefined;
    let wake: (() => void) | undefined;
    const push = (event: SandboxExecEvent) => {
      queue.push(event);
      wake?.();
    };
    const started = performance.now();
    const running = this.driver(row.runtime as SandboxRuntime).execStream(id, driverRequest(request, timeoutMs), {
      onStdout: (chunk) => push({ type: 'stdout', data: chunk.toString('base64') }),
      onStderr: (chunk) => push({ type: 'stderr', data: chunk.toString('base64') }),
    });
    running.done.then(
      (exitCode) => {
        exit = { type: 'exit', exitCode, timedOut: exitCode === 137 && performance.now() - started >= timeoutMs };
        wake?.();
      },
      (error: Error) => {
        push({ type: 'stderr', data: Buffer.from(`runtools: ${error.message}\n`).toString('base64') });
        exit = { type: 'exit', exitCode: 127, timedOut: false };
        wake?.();
      },
    );
    return (async function* () {
      try {
        for (;;) {
          const next = queue.shift();
          if (next) yield next;
          else if (exit) {
            yield exit;
            return;
          } else {
            await new Promise<void>((resolve) => {
              wake = resolve;
            });
            wake = undefined;
          }
        }
      } finally {
        if (!exit) running.kill();
      }
    })();
  }

  /** Runs argv (no shell: paths are never interpreted) in a running sandbox, for the file operations. */
  private async run(auth: AuthContext, id: string, command: string[], stdin?: Buffer) {
    const row = await this.runningRow(auth, id);
    return this.driver(row.runtime as SandboxRuntime).exec(id, {
      command,
      ...(stdin !== undefined ? { stdin } : {}),
      timeoutMs: defaultExecTimeoutMs,
    });
  }

  private fileError(path: string, stderr: Buffer): ApiError {
    const message = stderr.toString('utf8').trim();
    if (/No such file or directory/.test(message))
      return new ApiError('file_not_found', `no such file: ${path}`, { path });
    return new ApiError('validation_failed', `cannot use ${path}: ${message.replace(/^[^:]+: /, '')}`, { path });
  }

  async readFile(auth: AuthContext, id: string, path: string): Promise<SandboxFile> {
    const result = await this.run(auth, id, [
      '/bin/sh',
      '-c',
      'test -d "$1" && { echo "Is a directory" >&2; exit 1; }; exec cat -- "$1"',
      'read',
      path,
    ]);
    if (result.exitCode !== 0) throw this.fileError(path, result.stderr);
    return { path, content: result.stdout.toString('base64'), size: result.stdout.length };
  }

  async writeFile(
    auth: AuthContext,
    id: string,
    path: string,
    content: Buffer,
  ): Promise<{ path: string; exists: boolean }> {
    const result = await this.run(
      auth,
      id,
      ['/bin/sh', '-c', 'mkdir -p -- "$(dirname -- "$1")" && cat > "$1"', 'write', path],
      content,
    );
    if (result.exitCode !== 0) throw this.fileError(path, result.stderr);
    return { path, exists: true };
  }

  async listFiles(auth: AuthContext, id: string, path: string): Promise<SandboxFileEntry[]> {
    const result = await this.run(auth, id, [
      '/bin/sh',
      '-c',
      'test -d "$1" || { ls -d -- "$1" >/dev/null && echo "Not a directory" >&2; exit 1; }; exec find "$1" -mindepth 1 -maxdepth 1 -printf "%f\\0%y\\0%s\\0"',
      'list',
      path,
    ]);
    if (result.exitCode !== 0) throw this.fileError(path, result.stderr);
    const fields = result.stdout.toString('utf8').split('\0');
    const entries: SandboxFileEntry[] = [];
    for (let index = 0; index + 2 < fields.length; index += 3) {
      const kind = fields[index + 1];
      entries.push({
        name: fields[index] ?? '',
        type: kind === 'f' ? 'file' : kind === 'd' ? 'dir' : kind === 'l' ? 'symlink' : 'other',
        size: Number(fields[index + 2]),
      });
    }
    return entries.sort((a, b) => a.name.localeCompare(b.name));
  }

  async pathExists(auth: AuthContext, id: string, path: string): Promise<{ path: string; exists: boolean }> {
    const result = await this.run(auth, id, ['/bin/sh', '-c', 'test -e "$1" || test -L "$1"', 'exists', path]);
    return { path, exists: result.exitCode === 0 };
  }

  async removePath(auth: AuthContext, id: string, path: string): Promise<{ path: string; exists: boolean }> {
    if (path.replace(/\/+$/, '') === '')
      throw new ApiError('validation_failed', 'refusing to remove the sandbox root', { path });
    const result = await this.run(auth, id, ['rm', '-rf', '--', path]);
    if (result.exitCode !== 0) throw this.fileError(path, result.stderr);
    return { path, exists: false };
  }

  async makeDirectory(auth: AuthContext, id: string, path: string): Promise<{ path: string; exists: boolean }> {
    const result = await this.run(auth, id, ['mkdir', '-p', '--', path]);
    if (result.exitCode !== 0) throw this.fileError(path, result.stderr);
    return { path, exists: true };
  }

  async destroy(auth: AuthContext, id: string): Promise<Sandbox> {
    const row = await this.row(auth, id);
    if (row.status === 'destroyed') return sandboxFromRow(row);
    await this.setStatus(id, 'destroying');
    const driver = this.drivers[row.runtime as DriverName];
    if (driver && row.host_id === this.hostId) await driver.destroy(id);
    await this.setStatus(id, 'destroyed');
    await audit(this.db, { orgId: auth.orgId, event: 'sandbox.destroyed', actorKeyId: auth.keyId, targetId: id });
    return sandboxFromRow({ ...row, status: 'destroyed', status_reason: null, updated_at: nowIso() });
  }
}
