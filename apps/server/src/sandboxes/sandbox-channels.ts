import { ChannelError, type DaemonChannel } from '@runtools/runtime';
import type { SandboxRuntime } from '@runtools/spec';
import type { Actor } from '../auth/actor.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import type { SandboxContext } from './sandbox-context.js';

/** A daemon failure as the API reports it. */
export function channelApiError(error: unknown, context: { sandboxId: string; path?: string }): unknown {
  if (!(error instanceof ChannelError)) return error;
  const details = { ...context, reason: error.code };
  switch (error.code) {
    case 'not_found':
      return new DomainError('file_not_found', error.message, details);
    case 'process_not_found':
      return new DomainError('process_not_found', error.message, details);
    case 'invalid':
      return new DomainError('validation_failed', error.message, details);
    case 'no_space':
      return new DomainError('sandbox_disk_full', `the sandbox's disk is full: ${error.message}`, details);
    case 'channel_lost':
    case 'channel_unavailable':
    case 'channel_closed':
      return new DomainError(
        'sandbox_unreachable',
        `sandbox ${context.sandboxId} does not answer: ${error.message}`,
        details,
      );
    default:
      return new DomainError('validation_failed', error.message, details);
  }
}

/**
 * The way in to a running sandbox's daemon, for exec, files, processes, dev URLs, the terminal and SSH: each
 * call is activity (it puts off the idle pause), and a paused sandbox with `autoResume` is resumed first.
 */
export class SandboxChannels {
  constructor(
    private readonly context: SandboxContext,
    /** Resumes a paused sandbox: the lifecycle's own resume, queued with its other changes. */
    private readonly resume: (orgId: string, id: string) => Promise<unknown>,
  ) {}

  /** The daemon channel of a running sandbox of an org (resumed first when paused with autoResume). */
  async channelInOrg(orgId: string, id: string): Promise<DaemonChannel> {
    const { context } = this;
    const known = context.knownRunning.get(id);
    if (known?.orgId === orgId && !context.changing(id)) {
      context.lastActivity.set(id, Date.now());
      return context.driver(known.runtime).channel(id);
    }
    const generation = context.generation(id);
    const row = await this.runningRowInOrg(orgId, id);
    if (context.generation(id) === generation)
      context.knownRunning.set(id, { orgId, runtime: row.runtime as SandboxRuntime });
    context.lastActivity.set(id, Date.now());
    return context.driver(row.runtime as SandboxRuntime).channel(id);
  }

  /** The daemon channel of a running sandbox of the caller's org. */
  channelOf(auth: Actor, id: string): Promise<DaemonChannel> {
    return this.channelInOrg(auth.orgId, id);
  }

  /** Runs an operation on the sandbox's daemon, reporting its failures as API errors. */
  async onChannel<T>(
    auth: Actor,
    id: string,
    context: { path?: string },
    action: (channel: DaemonChannel) => Promise<T>,
  ): Promise<T> {
    const channel = await this.channelOf(auth, id);
    try {
      return await action(channel);
    } catch (error) {
      throw channelApiError(error, { sandboxId: id, ...context });
    }
  }

  /**
   * The sandbox's row once it runs: a lifecycle change under way (pause, snapshot, rollback) is waited for,
   * and a paused sandbox with `autoResume` is resumed first.
   */
  private async runningRowInOrg(orgId: string, id: string): Promise<Database['sandboxes']> {
    await this.context.changing(id);
    let row = await this.context.rowInOrg(orgId, id);
    if (row.status === 'paused' && Number(row.auto_resume) === 1) {
      await this.resume(orgId, id);
      row = await this.context.rowInOrg(orgId, id);
    }
    if (row.status !== 'running') {
      throw new DomainError('sandbox_not_running', `sandbox ${id} is ${row.status}; exec needs a running sandbox`, {
        status: row.status,
      });
    }
    return row;
  }
}
