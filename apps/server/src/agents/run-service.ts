import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { AgentRunRequest, Run, RunEvent, RunStatus, Thread, ThreadMessage } from '@runtools/spec';
import { type Kysely, sql } from 'kysely';
import type { Logger } from 'pino';
import { audit } from '../audit.js';
import type { Actor } from '../auth/actor.js';
import { requireScopes } from '../auth/authenticate.js';
import { type StoredActor, storeActor } from '../auth/stored-actor.js';
import type { SecretStore } from '../credentials/secret-store.js';
import { inPage, keysetPage, mapPage, type Page, type PageRequest } from '../db/pagination.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { newId, nowIso } from '../ids.js';
import type { Job, JobQueue } from '../queue/job-queue.js';
import { LeaseLostError as JobLeaseLostError } from '../queue/job-runner.js';
import type { DevUrls } from '../sandboxes/dev-urls.js';
import type { SandboxService } from '../sandboxes/sandbox-service.js';
import type { ToolService } from '../tools/tool-service.js';
import type { AgentDefinitionRecord, AgentService } from './agent-service.js';
import type { ModelResolver } from './models.js';
import { type LiveRun, nextWake, RunLog, whenEnded } from './run-log.js';
import { progressOf, type RunAttachmentSummary, RunLoop, type RunLoopDependencies, userContent } from './run-loop.js';

const finished: readonly RunStatus[] = ['completed', 'failed', 'cancelled', 'max_iterations'];
/** The queue agent runs are dispatched through: a job names a run; whoever claims the run runs its loop. */
const runQueue = 'agent.run';
/** How often a follower of a run held by another process looks for its new events. */
const followPollMs = 200;

export interface RunServiceOptions {
  exaUrl: string;
  /** A run in progress is held under a lease this long, renewed every third of it while its loop runs. */
  leaseMs: number;
  /** Runs whose loops run at once in this process; more wait in the queue. Default 50. */
  concurrency?: number;
  /** RunMesh, for local agents: their devices and the channels to them. */
  mesh: RunLoopDependencies['mesh'];
}

function runFromRow(row: Database['agent_runs']): Run {
  const input = Number(row.input_tokens);
  const output = Number(row.output_tokens);
  return {
    id: row.id,
    agentId: row.agent_id,
    agent: row.agent_slug,
    agentVersion: Number(row.agent_version),
    threadId: row.thread_id,
    sandboxId: row.sandbox_id,
    status: row.status as RunStatus,
    prompt: row.prompt,
    text: row.text,
    stopReason: row.stop_reason,
    error: row.error ? (JSON.parse(row.error) as { code: string; message: string }) : null,
    usage: { inputTokens: input, outputTokens: output, totalTokens: input + output },
    // To a millionth of a dollar: a token costs less than a cent, and floating point adds noise below that.
    costUsd:
      row.price_input === null || row.price_output === null
        ? null
        : Math.round(input * Number(row.price_input) + output * Number(row.price_output)) / 1e6,
    steps: Number(row.steps),
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

function threadFromRow(row: Database['threads']): Thread {
  return {
    id: row.id,
    agentId: row.agent_id,
    agent: row.agent_slug,
    sandboxId: row.sandbox_id,
    messageCount: Number(row.message_count),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function threadBusy(threadId: string, runId?: string): DomainError {
  return new DomainError(
    'invalid_transition',
    `thread ${threadId} has a run in progress${runId ? ` (${runId})` : ''}; wait for it or cancel it`,
    runId ? { runId } : {},
  );
}

/**
 * Agent runs: started here, dispatched through the job queue, run by whichever control plane claims them (the
 * loop is `RunLoop`), their events streamed to followers and stored for replay, threads that keep the
 * messages. A run is held under a lease (owner + expiry) renewed while its loop runs; a process that dies
 * stops renewing, and once the lease has expired the run is sent to the queue again and resumed from its last
 * finished step by whoever claims it. Nothing touches a run whose lease is alive.
 */
export class RunService {
  /** This process's name in run leases. */
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly live = new Map<string, LiveRun>();
  /** Threads a run is being started on in this process (until its row exists, which then says so). */
  private readonly startingThreads = new Set<string>();
  /** Woken when this process takes a run, so its followers move from the database to memory at once. */
  private readonly claimedHere = new Set<() => void>();
  private readonly log: RunLog;
  private readonly loop: RunLoop;
  private sweeper: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly agents: AgentService,
    private readonly models: ModelResolver,
    private readonly sandboxes: SandboxService,
    devUrls: DevUrls,
    secrets: SecretStore,
    tools: ToolService,
    private readonly queue: JobQueue,
    private readonly options: RunServiceOptions,
    private readonly logger: Logger,
  ) {
    this.log = new RunLog(db, this.owner, options.leaseMs, logger);
    this.loop = new RunLoop({
      db,
      models,
      sandboxes,
      devUrls,
      secrets,
      tools,
      exaUrl: options.exaUrl,
      log: this.log,
      logger,
      mesh: options.mesh,
    });
    // The AI SDK prints its warnings (an unknown model's limits, a setting a provider ignores) to stderr;
    // they belong in the server's log, as JSON lines like everything else.
    (globalThis as { AI_SDK_LOG_WARNINGS?: unknown }).AI_SDK_LOG_WARNINGS = (options: {
      warnings: unknown[];
      provider?: string;
      model?: string;
    }) =>
      logger.warn({ provider: options.provider, model: options.model, warnings: options.warnings }, 'model warnings');
  }

  /**
   * Takes part in running agent runs: works the queue, and from now on (and every half lease) sends again the
   * runs whose holder died (their lease expired) or that were never picked up. Answers how many it sent now.
   * Runs held by a live process (on a shared database, another server's) are left alone.
   */
  async recover(): Promise<number> {
    await this.queue.work<{ runId: string }>(runQueue, { concurrency: this.options.concurrency ?? 50 }, (job) =>
      this.handle(job),
    );
    this.sweeper = setInterval(
      () => {
        this.sweep().catch((error: unknown) => this.logger.warn({ err: error }, 'agent run sweep failed'));
      },
      Math.max(250, Math.floor(this.options.leaseMs / 2)),
    );
    this.sweeper.unref();
    return this.sweep();
  }

  /** Sends the runs whose lease has expired (a dead holder, or queued and not picked up) to the queue again. */
  private async sweep(): Promise<number> {
    if (this.stopping) return 0;
    const rows = await this.db
      .selectFrom('agent_runs')
      .select('id')
      .where('status', 'in', ['queued', 'running'])
      .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', nowIso())]))
      .limit(500)
      .execute();
    let sent = 0;
    for (const row of rows) {
      if (this.live.has(row.id) || this.stopping) continue;
      await this.dispatch(row.id);
      sent++;
    }
    return sent;
  }

  /** A job for the run (one waiting at a time: the singleton key is the run's id). */
  private async dispatch(runId: string): Promise<void> {
    await this.queue.send(
      runQueue,
      { runId },
      { singletonKey: runId, retryLimit: 3, retryDelayMs: 1000, retryBackoff: true },
    );
  }

  private async handle(job: Job<{ runId: string }>): Promise<void> {
    const { runId } = job.data;
    if (this.stopping || this.live.has(runId)) return;
    const row = await this.claim(runId);
    // Finished, cancelled, or held by a live process: nothing to do.
    if (!row) return;
    await this.execute(row, job.signal);
  }

  /**
   * Takes the run for this process: a queued one, or a running one whose holder's lease has expired (it died,
   * or gave the run back when it stopped). One conditional update, so two processes never both take it.
   */
  private async claim(runId: string): Promise<Database['agent_runs'] | undefined> {
    const now = nowIso();
    return this.db
      .updateTable('agent_runs')
      .set({
        status: 'running',
        owner: this.owner,
        lease_expires_at: this.log.leaseEnd(),
        started_at: sql<string>`coalesce(started_at, ${now})`,
      })
      .where('id', '=', runId)
      .where((eb) =>
        eb.or([
          eb('status', '=', 'queued'),
          eb.and([
            eb('status', '=', 'running'),
            eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now)]),
          ]),
        ]),
      )
      .returningAll()
      .executeTakeFirst();
  }

  /**
   * Runs a claimed run's loop here, from its stored events and steps, renewing its lease until it ends. The
   * queue stopping (the server stops) stops the loop and gives the run back; the queue losing its job's lease
   * does not matter here (the run's own lease says who holds it).
   */
  private async execute(row: Database['agent_runs'], signal?: AbortSignal): Promise<void> {
    let live: LiveRun | undefined;
    let renew: NodeJS.Timeout | undefined;
    const onAbort = () => {
      if (!live || signal?.reason instanceof JobLeaseLostError) return;
      this.log.stop(live, 'stopping', new Error('the server is stopping'));
    };
    try {
      const [events, steps] = await Promise.all([this.log.stored(row.id, 0), this.loop.steps(row.id)]);
      const taken = this.log.open(row.id, events, progressOf(steps));
      live = taken;
      this.live.set(row.id, taken);
      for (const wake of this.claimedHere) wake();
      if (signal?.aborted || this.stopping) onAbort();
      signal?.addEventListener('abort', onAbort);
      renew = setInterval(
        () => {
          this.log
            .write(taken)
            .catch((error: unknown) => this.logger.warn({ err: error, runId: row.id }, 'renewing a run lease failed'));
        },
        Math.max(1, Math.floor(this.options.leaseMs / 3)),
      );
      await this.loop.run(row, taken, steps);
    } catch (error) {
      this.logger.error({ err: error, runId: row.id }, 'agent run crashed');
      // Given back at once rather than left to its lease: the sweep sends it again, and whoever takes it
      // resumes it from its last stored step.
      await this.db
        .updateTable('agent_runs')
        .set({ owner: null, lease_expires_at: null })
        .where('id', '=', row.id)
        .where('owner', '=', this.owner)
        .where('status', '=', 'running')
        .execute()
        .catch(() => {});
    } finally {
      clearInterval(renew);
      signal?.removeEventListener('abort', onAbort);
      if (live) {
        clearTimeout(live.timer);
        live.timer = undefined;
        live.ended = true;
        for (const wake of live.wake) wake();
        this.live.delete(row.id);
      }
    }
  }

  /** Starts a run and answers at once with it (queued); a worker of the queue runs it, here or elsewhere. */
  async start(auth: Actor, slug: string, body: AgentRunRequest): Promise<Run> {
    const agent = await this.agents.record(auth, slug);
    const definition = agent.definition;
    await this.loop.checkAuthority(auth, definition);
    if (definition.mode === 'local') {
      // A device that is not connected fails the run now, not after it was queued.
      const node = await this.options.mesh.nodes.dispatchTarget(auth, definition.device ?? '');
      if (!this.options.mesh.channels.connected(node.id) && !this.options.mesh.nodes.online(node))
        throw new DomainError('node_offline', `device ${node.name} is offline; start its helper (runtools mesh up)`, {
          node: node.name,
        });
    }
    // Checked before anything is created: a missing key or an unknown model is the caller's to fix now.
    await this.models.model(auth.orgId, definition.model);
    await this.checkLinkedSandbox(auth, slug, definition);
    const now = nowIso();
    let thread: Database['threads'] | undefined;
    let claimed: string | undefined;
    if (body.thread === true) {
      thread = {
        id: newId('thread'),
        org_id: auth.orgId,
        agent_id: agent.id,
        agent_slug: agent.slug,
        sandbox_id: null,
        message_count: 0,
        created_at: now,
        updated_at: now,
      };
      await this.db.insertInto('threads').values(thread).execute();
    } else if (typeof body.thread === 'string') {
      thread = await this.threadRow(auth, body.thread);
      if (thread.agent_id !== agent.id)
        throw new DomainError(
          'validation_failed',
          `thread ${thread.id} belongs to agent ${thread.agent_slug}, not ${slug}`,
          {
            field: 'thread',
          },
        );
      // One run at a time per thread: the next one continues from the messages the last one left. Claimed
      // here before any await, so two requests at once cannot both pass; from its insert on, the run's row
      // says the thread is busy.
      if (this.startingThreads.has(thread.id)) throw threadBusy(thread.id);
      this.startingThreads.add(thread.id);
      claimed = thread.id;
    }
    // Priced now: the run's cost stays what it was when a price list changes.
    const price = this.models.priceOf(definition.model);
    const attachments: RunAttachmentSummary[] = (body.attachments ?? []).map((attachment) => ({
      name: attachment.name,
      mediaType: attachment.mediaType,
      size: Buffer.byteLength(attachment.content, 'base64'),
    }));
    const row: Database['agent_runs'] = {
      id: newId('run'),
      org_id: auth.orgId,
      agent_id: agent.id,
      agent_slug: agent.slug,
      agent_version: agent.version,
      thread_id: thread?.id ?? null,
      sandbox_id: definition.mode === 'in_sandbox' ? definition.sandboxId : null,
      status: 'queued',
      prompt: body.prompt,
      text: null,
      stop_reason: null,
      error: null,
      input_tokens: 0,
      output_tokens: 0,
      steps: 0,
      created_at: now,
      started_at: null,
      finished_at: null,
      actor: JSON.stringify(storeActor(auth)),
      attachments: attachments.length ? JSON.stringify(attachments) : null,
      owner: null,
      // Not picked up by then (its job lost), the sweep sends it again.
      lease_expires_at: this.log.leaseEnd(),
      cancel_requested_at: null,
      price_input: price?.input ?? null,
      price_output: price?.output ?? null,
    };
    try {
      if (claimed) {
        const busy = await this.runInProgress(claimed);
        if (busy) throw threadBusy(claimed, busy);
      }
      await this.db.transaction().execute(async (trx) => {
        await trx.insertInto('agent_runs').values(row).execute();
        // Step 0: the user's turn as the model gets it (attachments included), which a resumed loop starts from.
        await trx
          .insertInto('agent_run_steps')
          .values({
            run_id: row.id,
            step: 0,
            messages: JSON.stringify([{ role: 'user', content: userContent(body) }]),
            finish_reason: null,
            text: null,
            input_tokens: 0,
            output_tokens: 0,
            created_at: now,
          })
          .execute();
      });
    } finally {
      if (claimed) this.startingThreads.delete(claimed);
    }
    // Sent to this process's workers at once (so it starts without waiting for a poll); if the send fails
    // the run is still stored, and the sweep sends it once its lease has expired.
    await this.dispatch(row.id).catch((error: unknown) =>
      this.logger.warn({ err: error, runId: row.id }, 'queueing an agent run failed; the sweep will send it'),
    );
    return runFromRow(row);
  }

  /** An in_sandbox agent's sandbox must still be there. */
  private async checkLinkedSandbox(auth: Actor, slug: string, definition: AgentDefinitionRecord): Promise<void> {
    if (definition.mode !== 'in_sandbox' || !definition.sandboxId) return;
    const sandbox = await this.sandboxes.get(auth, definition.sandboxId);
    if (sandbox.status === 'destroyed' || sandbox.status === 'destroying')
      throw new DomainError(
        'sandbox_not_running',
        `the agent's sandbox ${sandbox.id} is ${sandbox.status}; link it to another with PATCH /v1/agents/${slug}`,
        { sandboxId: sandbox.id, status: sandbox.status },
      );
  }

  /** The id of a run of the thread that has not ended, if any. */
  private async runInProgress(threadId: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('agent_runs')
      .select('id')
      .where('thread_id', '=', threadId)
      .where('status', 'in', ['queued', 'running'])
      .executeTakeFirst();
    return row?.id;
  }

  private async runRow(auth: Actor, runId: string): Promise<Database['agent_runs']> {
    const row = await this.db
      .selectFrom('agent_runs')
      .selectAll()
      .where('id', '=', runId)
      .where('org_id', '=', auth.orgId)
      .executeTakeFirst();
    if (!row) throw new DomainError('run_not_found', `no run ${runId}`, { runId });
    // A RunMesh node's token reads the runs its device started, not every run of its owner's org.
    if (auth.principal.kind === 'node') {
      const startedBy = row.actor ? (JSON.parse(row.actor) as StoredActor).principal : undefined;
      if (startedBy?.kind !== 'node' || startedBy.id !== auth.principal.id)
        throw new DomainError('run_not_found', `no run ${runId}`, { runId });
    }
    return row;
  }

  async get(auth: Actor, runId: string): Promise<Run> {
    return this.withProgress(runFromRow(await this.runRow(auth, runId)));
  }

  /** A run in progress here, with its steps and usage so far (elsewhere, the row has them per step). */
  private withProgress(run: Run): Run {
    const live = this.live.get(run.id);
    return live && !finished.includes(run.status) ? { ...run, ...live.progress } : run;
  }

  /** Newest first: by creation time, then id. */
  async list(
    auth: Actor,
    query: { agent?: string | undefined; thread?: string | undefined; status?: RunStatus | undefined },
    page: PageRequest,
  ): Promise<Page<Run>> {
    let select = this.db.selectFrom('agent_runs').selectAll().where('org_id', '=', auth.orgId);
    if (query.agent) select = select.where('agent_slug', '=', query.agent);
    if (query.thread) select = select.where('thread_id', '=', query.thread);
    if (query.status) select = select.where('status', '=', query.status);
    const rows = await keysetPage(
      page,
      [
        { column: 'created_at', direction: 'desc' },
        { column: 'id', direction: 'desc' },
      ],
      (row: Database['agent_runs']) => [row.created_at, row.id],
      (keyset) => inPage(select, keyset).execute(),
    );
    return mapPage(rows, (row) => this.withProgress(runFromRow(row)));
  }

  /**
   * Cancels a run and answers once it has stopped. Asked in the database first, so that whichever process
   * holds the run sees it: here it stops at once; a queued run, or one whose holder died, is taken and ended
   * here; a run another live process holds stops at that process's next step or lease renewal.
   */
  async cancel(auth: Actor, runId: string): Promise<Run> {
    const row = await this.runRow(auth, runId);
    if (finished.includes(row.status as RunStatus))
      throw new DomainError('run_finished', `run ${runId} has already ended (${row.status})`, { status: row.status });
    await this.db
      .updateTable('agent_runs')
      .set({ cancel_requested_at: nowIso() })
      .where('id', '=', runId)
      .where('status', 'in', ['queued', 'running'])
      .where('cancel_requested_at', 'is', null)
      .execute();
    const live = this.live.get(runId);
    if (live) {
      this.log.stop(live, 'cancelled', new Error('cancelled'));
      await whenEnded(live);
    } else {
      const taken = await this.claim(runId);
      if (taken) await this.execute(taken);
      else await this.waitForEnd(runId, this.options.leaseMs + 5000);
    }
    await audit(this.db, { orgId: auth.orgId, event: 'run.cancelled', actor: auth.principal, targetId: runId });
    return this.get(auth, runId);
  }

  /** Until the run has ended (wherever it runs), or `timeoutMs` has passed. */
  private async waitForEnd(runId: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const live = this.live.get(runId);
      if (live) await whenEnded(live);
      const row = await this.db.selectFrom('agent_runs').select('status').where('id', '=', runId).executeTakeFirst();
      if (!row || finished.includes(row.status as RunStatus)) return;
      await this.claimedOrAfter(100);
    }
  }

  /** Resolves when this process takes a run, or after `ms`. */
  private claimedOrAfter(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.claimedHere.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.claimedHere.add(done);
    });
  }

  /**
   * A run's events after `after`: those stored, then (with `follow`) new ones until the run ends. A run this
   * process holds is read from memory, where every event is as soon as it happens; one held elsewhere (or
   * not yet taken) from the database, looked at again every `followPollMs`, switching to memory as soon as
   * this process takes it. The stream is one sequence across holders: a resumed run's events go on after those
   * its earlier holder stored.
   */
  async events(auth: Actor, runId: string, after: number, follow: boolean): Promise<AsyncIterable<RunEvent>> {
    await this.runRow(auth, runId);
    return this.follow(runId, after, follow);
  }

  private async *follow(runId: string, after: number, follow: boolean): AsyncGenerator<RunEvent> {
    let next = after;
    for (;;) {
      const live = this.live.get(runId);
      if (live) {
        while (next < live.events.length) {
          const event = live.events[next++] as RunEvent;
          yield event;
          if (event.type === 'done') {
            // Closed once the end is stored (its write follows the done event at once), so a client that
            // reads the run when the stream closes sees it ended; not after its sandbox is released.
            await live.writing;
            return;
          }
        }
        if (!follow) return;
        // Ended without a done event: given back or lost to another process; read on from the database.
        if (!live.ended) await nextWake(live);
        continue;
      }
      const stored = await this.log.stored(runId, next);
      for (const event of stored) {
        yield event;
        next = event.seq;
        if (event.type === 'done') return;
      }
      if (!follow) return;
      if (stored.length) continue;
      const row = await this.db.selectFrom('agent_runs').select('status').where('id', '=', runId).executeTakeFirst();
      if (!row) return;
      if (finished.includes(row.status as RunStatus)) {
        // Its end is stored with its last events: read once more, then stop.
        for (const event of await this.log.stored(runId, next)) yield event;
        return;
      }
      await this.claimedOrAfter(followPollMs);
    }
  }

  /** Starts a run and follows it from its first event. */
  async stream(auth: Actor, slug: string, body: AgentRunRequest): Promise<AsyncIterable<RunEvent>> {
    const run = await this.start(auth, slug, body);
    return this.events(auth, run.id, 0, true);
  }

  private async threadRow(auth: Actor, threadId: string): Promise<Database['threads']> {
    const row = await this.db
      .selectFrom('threads')
      .selectAll()
      .where('id', '=', threadId)
      .where('org_id', '=', auth.orgId)
      .executeTakeFirst();
    if (!row) throw new DomainError('thread_not_found', `no thread ${threadId}`, { threadId });
    return row;
  }

  async thread(auth: Actor, threadId: string): Promise<Thread> {
    return threadFromRow(await this.threadRow(auth, threadId));
  }

  /**
   * Most recently active first: by last activity, then id. Activity moves a thread to the front, so one that
   * is active while a client pages is not met again on later pages (the order's column changed under it).
   */
  async threads(auth: Actor, query: { agent?: string | undefined }, page: PageRequest): Promise<Page<Thread>> {
    let select = this.db.selectFrom('threads').selectAll().where('org_id', '=', auth.orgId);
    if (query.agent) select = select.where('agent_slug', '=', query.agent);
    const rows = await keysetPage(
      page,
      [
        { column: 'updated_at', direction: 'desc' },
        { column: 'id', direction: 'asc' },
      ],
      (row: Database['threads']) => [row.updated_at, row.id],
      (keyset) => inPage(select, keyset).execute(),
    );
    return mapPage(rows, threadFromRow);
  }

  /** Oldest first, by seq. */
  async messages(auth: Actor, threadId: string, page: PageRequest): Promise<Page<ThreadMessage>> {
    await this.threadRow(auth, threadId);
    const rows = await keysetPage(
      page,
      [{ column: 'seq', direction: 'asc', type: 'number' }],
      (row: Database['thread_messages']) => [Number(row.seq)],
      (keyset) =>
        inPage(this.db.selectFrom('thread_messages').selectAll().where('thread_id', '=', threadId), keyset).execute(),
    );
    return mapPage(rows, (row) => ({
      seq: Number(row.seq),
      runId: row.run_id,
      role: row.role as ThreadMessage['role'],
      content: JSON.parse(row.content) as unknown,
      createdAt: row.created_at,
    }));
  }

  /** Deletes a thread and its messages; a managed per-thread sandbox goes as the agent's policy says. */
  async deleteThread(auth: Actor, threadId: string): Promise<{ id: string; deleted: true }> {
    const row = await this.threadRow(auth, threadId);
    // Its sandbox is destroyed or paused with it (per the agent's policy): that needs what doing it directly needs.
    if (row.sandbox_id) requireScopes(auth, ['sandboxes:write']);
    const running = await this.runInProgress(threadId);
    if (running) throw threadBusy(threadId, running);
    await this.db.deleteFrom('threads').where('id', '=', threadId).execute();
    if (row.sandbox_id) {
      const agent = await this.db
        .selectFrom('agents')
        .select('definition')
        .where('id', '=', row.agent_id)
        .executeTakeFirst();
      const definition = agent ? (JSON.parse(agent.definition) as AgentDefinitionRecord) : undefined;
      await this.loop.release(auth, row.sandbox_id, definition?.managed?.cleanup);
    }
    await audit(this.db, { orgId: auth.orgId, event: 'thread.deleted', actor: auth.principal, targetId: threadId });
    return { id: threadId, deleted: true };
  }

  /**
   * Stops the loops running here and gives their runs back (what they did so far is stored, their leases
   * released), so the next server, or another one on the same database, resumes them at once.
   */
  async close(): Promise<void> {
    this.stopping = true;
    clearInterval(this.sweeper);
    const pending = [...this.live.values()];
    for (const live of pending) this.log.stop(live, 'stopping', new Error('the server is stopping'));
    await Promise.all(pending.map(whenEnded));
  }
}
