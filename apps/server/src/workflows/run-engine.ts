import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  type Approval,
  type ApprovalResolveRequest,
  errorFamily,
  finishedWorkflowRunStatuses,
  type NodeRunStatus,
  type ParsedGraph,
  type ParsedNode,
  parseGraph,
  type WorkflowEvent,
  type WorkflowRun,
  type WorkflowRunStatus,
} from '@runtools/spec';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Actor } from '../auth/actor.js';
import { resolveActor, type StoredActor } from '../auth/stored-actor.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { newId } from '../ids.js';
import type { Clock, Job, JobQueue } from '../queue/job-queue.js';
import { interpolate } from './expressions.js';
import {
  type Completed,
  type ExecutorDependencies,
  type ExpressionDocument,
  executeNode,
  NodeFailure,
} from './node-executors.js';
import {
  maxNodeOutputBytes,
  type NodeRow,
  type RunChange,
  type RunRow,
  type RunStore,
  runFromRow,
} from './run-store.js';
import { type Decision, isTerminal, loopTimes, type NodeRunState, schedule } from './scheduler.js';

export const nodeQueue = 'workflow.node';
export const advanceQueue = 'workflow.advance';

interface NodeJob {
  runId: string;
  nodeId: string;
  iteration: number;
}

export interface EngineOptions {
  clock: Clock;
  /** A node in flight is held under a lease this long, renewed every third of it. */
  leaseMs: number;
  /** How often this process looks for work that lost its process (expired leases, due waits, stalled runs). */
  sweepMs: number;
  /** The base of webhook-wait URLs. */
  publicUrl: () => string;
  nodeConcurrency: number;
}

export interface StartRunInput {
  orgId: string;
  workflowId: string;
  slug: string;
  version: number | null;
  graph: string;
  input: Record<string, unknown>;
  trigger: { kind: 'manual' | 'cron' | 'webhook'; triggerId: string | null; data: unknown };
  actor: StoredActor;
  idempotencyKey?: string | undefined;
  timeoutSeconds?: number | undefined;
}

const finalFamilies = new Set(['validation', 'permission', 'authentication', 'not_found', 'conflict']);

/** Node types whose execution has no effect outside the run: running one again is always safe. */
const pureTypes = new Set([
  'transform',
  'condition',
  'output',
  'join',
  'parallel',
  'delay',
  'approval',
  'webhook-wait',
]);

/** Node types executed in the process that decided to start them, without a queue round trip. */
const inlineTypes = new Set(['transform', 'condition', 'output', 'join', 'parallel']);

/**
 * How many times a node may be started in all when the processes running it die: a pure node as often as it
 * takes (bounded, against a node that itself kills its process), a node with effects (an agent, a tool, a
 * sandbox command) as its retry policy allows, and at least three times, so that one crash of a control plane
 * does not fail a run that never failed on its own.
 */
function interruptionBound(node: ParsedNode): number {
  return pureTypes.has(node.type) ? 100 : Math.max(node.retry.attempts, 3);
}

const finished = (status: string) => finishedWorkflowRunStatuses.includes(status as WorkflowRunStatus);
const waitingTypes = new Set(['approval', 'delay', 'webhook-wait']);

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function nodeKey(runId: string, nodeId: string, iteration: number): string {
  return `${runId}:${nodeId}:${iteration}`;
}

function failureOf(error: unknown): { code: string; message: string; details?: Record<string, unknown> } {
  if (error instanceof NodeFailure) return { code: error.code, message: error.message, details: error.details };
  if (error instanceof DomainError) return { code: error.code, message: error.message };
  if (error instanceof Error && 'code' in error && typeof error.code === 'string')
    return { code: error.code, message: error.message };
  return { code: 'node_failed', message: error instanceof Error ? error.message : String(error) };
}

/**
 * Runs workflow graphs durably. Everything a run is lives in the database: its node runs (the completion of
 * each is stored before anything after it starts), its events, its waits. The queue only says "look at this
 * node" or "look at this run"; what happens next is decided from the stored rows by the scheduler, so any
 * control plane can take over a run from any point, and a sweep re-sends what a dead process held.
 */
export class WorkflowEngine {
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly graphs = new Map<string, ParsedGraph>();
  /** Nodes executing in this process, to stop them on cancel. */
  private readonly inFlight = new Map<string, AbortController>();
  private sweeper: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Aborted when the server stops: nodes run inline (outside a queue job) stop with it. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly store: RunStore,
    private readonly queue: JobQueue,
    private readonly executors: ExecutorDependencies,
    private readonly logger: Logger,
    private readonly options: EngineOptions,
  ) {}

  async start(): Promise<void> {
    await this.queue.work<{ runId: string }>(advanceQueue, { concurrency: 4 }, (job) => this.advance(job.data.runId));
    await this.queue.work<NodeJob>(nodeQueue, { concurrency: this.options.nodeConcurrency }, (job) =>
      this.nodeJob(job),
    );
    this.sweeper = setInterval(() => {
      this.sweep().catch((error: unknown) => this.logger.error({ err: error }, 'workflow sweep failed'));
    }, this.options.sweepMs);
    this.sweeper.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort(new Error('the server is stopping'));
    clearInterval(this.sweeper);
    for (const controller of this.inFlight.values()) controller.abort(new Error('the server is stopping'));
  }

  private now(): number {
    return this.options.clock.now();
  }

  private iso(ms = this.now()): string {
    return new Date(ms).toISOString();
  }

  private graph(run: RunRow): ParsedGraph {
    let graph = this.graphs.get(run.id);
    if (!graph) {
      const parsed = parseGraph(JSON.parse(run.graph));
      if (!parsed.graph) throw new Error(`workflow run ${run.id} holds a graph that does not parse`);
      graph = parsed.graph;
      if (this.graphs.size >= 1000) this.graphs.delete(this.graphs.keys().next().value as string);
      this.graphs.set(run.id, graph);
    }
    return graph;
  }

  // ---------------------------------------------------------------------------------------------- runs

  /** Creates a run (queued) and hands it to the queue; with an idempotency key, a second call answers the first run. */
  async createRun(input: StartRunInput): Promise<WorkflowRun> {
    if (input.idempotencyKey) {
      const existing = await this.byIdempotencyKey(input.workflowId, input.idempotencyKey);
      if (existing) return runFromRow(existing);
    }
    const at = this.iso();
    const row: RunRow = {
      id: newId('workflowRun'),
      org_id: input.orgId,
      workflow_id: input.workflowId,
      workflow_slug: input.slug,
      version: input.version,
      graph: input.graph,
      status: 'queued',
      input: JSON.stringify(input.input),
      output: null,
      error: null,
      trigger_kind: input.trigger.kind,
      trigger_id: input.trigger.triggerId,
      trigger_data: input.trigger.data === undefined ? null : JSON.stringify(input.trigger.data),
      actor: JSON.stringify(input.actor),
      started_by: input.actor.memberId,
      idempotency_key: input.idempotencyKey ?? null,
      revision: 0,
      event_seq: 1,
      completion_seq: 0,
      timeout_at: input.timeoutSeconds ? this.iso(this.now() + input.timeoutSeconds * 1000) : null,
      created_at: at,
      started_at: null,
      updated_at: at,
      finished_at: null,
    };
    try {
      await this.db.transaction().execute(async (trx) => {
        await trx.insertInto('workflow_runs').values(row).execute();
        await trx
          .insertInto('workflow_events')
          .values({
            run_id: row.id,
            seq: 1,
            type: 'run.queued',
            node_id: null,
            iteration: null,
            attempt: null,
            data: JSON.stringify({ version: input.version, trigger: input.trigger.kind, input: input.input }),
            child_run_id: null,
            at,
          })
          .execute();
      });
    } catch (error) {
      const existing = input.idempotencyKey
        ? await this.byIdempotencyKey(input.workflowId, input.idempotencyKey)
        : undefined;
      if (existing) return runFromRow(existing);
      throw error;
    }
    await this.queue.send(advanceQueue, { runId: row.id }, { singletonKey: row.id });
    if (row.timeout_at)
      await this.queue.send(advanceQueue, { runId: row.id }, { startAfter: Date.parse(row.timeout_at) });
    return runFromRow(row);
  }

  private byIdempotencyKey(workflowId: string, key: string): Promise<RunRow | undefined> {
    return this.db
      .selectFrom('workflow_runs')
      .selectAll()
      .where('workflow_id', '=', workflowId)
      .where('idempotency_key', '=', key)
      .executeTakeFirst();
  }

  private states(rows: readonly NodeRow[]): NodeRunState[] {
    return rows.map((row) => ({
      nodeId: row.node_id,
      iteration: Number(row.iteration),
      status: row.status as NodeRunStatus,
      taken: row.taken ? (JSON.parse(row.taken) as number[]) : null,
    }));
  }

  /** Decides and records what comes next in a run; safe to call any number of times, from any process. */
  async advance(runId: string): Promise<void> {
    for (let rounds = 0; rounds < 10_000; rounds++) {
      const run = await this.store.run(runId);
      if (!run || finished(run.status)) return;
      if (run.timeout_at && Date.parse(run.timeout_at) <= this.now()) {
        await this.finish(runId, 'timed_out', {
          code: 'run_timed_out',
          message: `the run did not finish by ${run.timeout_at}`,
        });
        return;
      }
      const graph = this.graph(run);
      const rows = await this.store.nodes(runId);
      const failed = rows.find((row) => row.status === 'failed' || row.status === 'timed_out');
      if (failed) {
        const error = failed.error ? (JSON.parse(failed.error) as { code: string; message: string }) : undefined;
        await this.finish(runId, 'failed', {
          code: error?.code ?? 'node_failed',
          message: error?.message ?? `node ${failed.node_id} failed`,
          nodeId: failed.node_id,
        });
        return;
      }
      const { decisions, finished: done } = schedule(graph, this.states(rows));
      if (done) {
        await this.finish(runId, 'completed', null, this.runOutput(graph, rows));
        return;
      }
      const status = this.runStatus(rows);
      if (!decisions.length) {
        if (status !== run.status) await this.store.change(runId, async (change) => this.setStatus(change, status));
        return;
      }
      const starts = await this.store.change(runId, async (change) => {
        const { trx } = change;
        if (finished(change.run.status)) return [];
        const current = await trx.selectFrom('workflow_node_runs').selectAll().where('run_id', '=', runId).execute();
        const now = schedule(graph, this.states(current));
        const started: Decision[] = [];
        for (const decision of now.decisions) {
          if (decision.kind === 'start') {
            await trx
              .insertInto('workflow_node_runs')
              .values(this.nodeRow(runId, graph, decision, 'queued'))
              .execute();
            change.emit({ type: 'node.queued', nodeId: decision.nodeId, iteration: decision.iteration });
            started.push(decision);
          } else if (decision.kind === 'skip') {
            await trx
              .insertInto('workflow_node_runs')
              .values({
                ...this.nodeRow(runId, graph, decision, 'skipped'),
                taken: '[]',
                completion_seq: change.nextCompletion(),
                finished_at: this.iso(),
              })
              .execute();
            change.emit({ type: 'node.skipped', nodeId: decision.nodeId, iteration: decision.iteration });
          } else {
            await this.cancelNode(change, decision.nodeId, decision.iteration, 'a first join went on without it');
          }
        }
        const after = await trx.selectFrom('workflow_node_runs').select('status').where('run_id', '=', runId).execute();
        await this.setStatus(change, this.runStatus(after as NodeRow[]));
        return started;
      });
      // Nodes that only compute (a transform, a condition, a join, an output) run here and now: a queue round
      // trip would cost more than they do. One that a crash cuts off is queued with an expiring lease, so the
      // sweep sends it on. Nodes that act or wait go through the queue, to whichever process takes them.
      const inline = starts.filter((start) => inlineTypes.has(graph.nodes.get(start.nodeId)?.type ?? ''));
      for (const start of starts)
        if (!inline.includes(start))
          await this.queue.send(
            nodeQueue,
            { runId, nodeId: start.nodeId, iteration: start.iteration },
            { singletonKey: nodeKey(runId, start.nodeId, start.iteration) },
          );
      for (const start of inline)
        await this.runNode({ runId, nodeId: start.nodeId, iteration: start.iteration }, this.stopping.signal);
      // What ran here, skips and cancels can make more nodes ready (or end the run): look again.
      if (!inline.length && decisions.every((decision) => decision.kind === 'start')) return;
    }
  }

  private nodeRow(runId: string, graph: ParsedGraph, decision: Decision, status: NodeRunStatus): NodeRow {
    return {
      run_id: runId,
      node_id: decision.nodeId,
      iteration: decision.iteration,
      type: graph.nodes.get(decision.nodeId)?.type ?? 'unknown',
      status,
      attempt: 0,
      output: null,
      error: null,
      taken: null,
      completion_seq: null,
      child_run_id: null,
      wake_at: null,
      owner: null,
      // A queued node not picked up by then is sent again by the sweep.
      lease_expires_at: this.iso(this.now() + this.options.leaseMs),
      started_at: null,
      finished_at: null,
    };
  }

  /** `waiting` while every node in progress waits (an approval, a delay, a call), else `running`. */
  private runStatus(rows: readonly Pick<NodeRow, 'status'>[]): WorkflowRunStatus {
    const open = rows.filter((row) => !isTerminal(row.status as NodeRunStatus));
    return open.length && open.every((row) => row.status === 'waiting') ? 'waiting' : 'running';
  }

  private async setStatus(change: RunChange, status: WorkflowRunStatus): Promise<void> {
    const { run } = change;
    if (finished(run.status) || run.status === status) return;
    const at = this.iso();
    await change.trx
      .updateTable('workflow_runs')
      .set({ status, ...(run.started_at ? {} : { started_at: at }) })
      .where('id', '=', run.id)
      .execute();
    if (run.status === 'queued') change.emit({ type: 'run.started' });
    if (status === 'waiting') change.emit({ type: 'run.waiting' });
    else if (run.status === 'waiting') change.emit({ type: 'run.resumed' });
    run.status = status;
  }

  private runOutput(graph: ParsedGraph, rows: readonly NodeRow[]): unknown {
    const outputNode = graph.nodeOrder.find((id) => graph.nodes.get(id)?.type === 'output');
    if (!outputNode) return null;
    const latest = rows
      .filter((row) => row.node_id === outputNode && row.status === 'completed')
      .sort((a, b) => Number(b.iteration) - Number(a.iteration))[0];
    return latest?.output ? (JSON.parse(latest.output) as unknown) : null;
  }

  private async cancelNode(change: RunChange, nodeId: string, iteration: number, reason: string): Promise<void> {
    await change.trx
      .updateTable('workflow_node_runs')
      .set({ status: 'cancelled', taken: '[]', completion_seq: change.nextCompletion(), finished_at: this.iso() })
      .where('run_id', '=', change.run.id)
      .where('node_id', '=', nodeId)
      .where('iteration', '=', iteration)
      .execute();
    await change.trx
      .updateTable('workflow_approvals')
      .set({ status: 'cancelled', decided_at: this.iso() })
      .where('run_id', '=', change.run.id)
      .where('node_id', '=', nodeId)
      .where('iteration', '=', iteration)
      .where('status', '=', 'pending')
      .execute();
    change.emit({ type: 'node.cancelled', nodeId, iteration, data: { reason } });
    this.inFlight.get(nodeKey(change.run.id, nodeId, iteration))?.abort(new Error(reason));
  }

  /** Ends a run: its open nodes cancelled, its waits gone, its output or error stored. */
  private async finish(
    runId: string,
    status: WorkflowRunStatus,
    error: { code: string; message: string; nodeId?: string } | null,
    output: unknown = null,
  ): Promise<void> {
    const children: string[] = [];
    let actor: string | undefined;
    let orgId: string | undefined;
    await this.store.change(runId, async (change) => {
      if (finished(change.run.status)) return;
      actor = change.run.actor;
      orgId = change.run.org_id;
      const open = await change.trx
        .selectFrom('workflow_node_runs')
        .select(['node_id', 'iteration', 'status', 'child_run_id'])
        .where('run_id', '=', runId)
        .execute();
      for (const node of open)
        if (!isTerminal(node.status as NodeRunStatus)) {
          await this.cancelNode(change, node.node_id, Number(node.iteration), `the run ended ${status}`);
          if (node.child_run_id) children.push(node.child_run_id);
        }
      await change.trx.deleteFrom('workflow_waits').where('run_id', '=', runId).execute();
      const at = this.iso();
      await change.trx
        .updateTable('workflow_runs')
        .set({
          status,
          output: output === null ? null : JSON.stringify(output),
          error: error ? JSON.stringify(error) : null,
          finished_at: at,
          ...(change.run.started_at ? {} : { started_at: at }),
        })
        .where('id', '=', runId)
        .execute();
      change.emit({
        type: `run.${status}` as WorkflowEvent['type'],
        data: error ? { error } : { output },
      });
    });
    // Agent runs its nodes started end with it (wherever they run: a cancel is recorded for their holder).
    for (const child of children)
      try {
        const caller = await resolveActor(this.db, orgId as string, JSON.parse(actor as string) as StoredActor);
        await this.executors.runs.cancel(caller, child);
      } catch (error) {
        if (!(error instanceof DomainError && error.code === 'run_finished'))
          this.logger.warn({ err: error, runId, childRunId: child }, "cancelling a node's agent run failed");
      }
    this.graphs.delete(runId);
  }

  async cancel(runId: string): Promise<void> {
    await this.finish(runId, 'cancelled', null);
  }

  // --------------------------------------------------------------------------------------------- nodes

  private async document(run: RunRow, rows?: readonly NodeRow[]): Promise<ExpressionDocument> {
    // Node ids are names the graph's author chose, `__proto__` and `constructor` among them: without a prototype
    // each is an own key (as JSON.parse makes one), never a setter that drops the node's output.
    const nodes: ExpressionDocument['nodes'] = Object.create(null);
    const latest = new Map<string, number>();
    for (const row of rows ?? (await this.store.nodes(run.id))) {
      if (row.status !== 'completed') continue;
      const iteration = Number(row.iteration);
      if ((latest.get(row.node_id) ?? -1) > iteration) continue;
      latest.set(row.node_id, iteration);
      nodes[row.node_id] = { output: row.output === null ? null : (JSON.parse(row.output) as unknown) };
    }
    return {
      input: JSON.parse(run.input) as unknown,
      nodes,
      trigger: run.trigger_data === null ? { kind: run.trigger_kind } : JSON.parse(run.trigger_data),
      run: {
        id: run.id,
        workflow: run.workflow_slug,
        version: run.version === null ? null : Number(run.version),
        startedAt: run.started_at,
      },
    };
  }

  private async nodeJob(job: Job<NodeJob>): Promise<void> {
    if (await this.runNode(job.data, job.signal)) await this.advance(job.data.runId);
  }

  /**
   * Claims and executes one node run (or ends its wait), storing what came of it. Answers whether the run
   * should be looked at again (the node ended, or had already).
   */
  private async runNode({ runId, nodeId, iteration }: NodeJob, signal: AbortSignal): Promise<boolean> {
    const run = await this.store.run(runId);
    if (!run || finished(run.status)) return false;
    const graph = this.graph(run);
    const node = graph.nodes.get(nodeId);
    const row = await this.store.node(runId, nodeId, iteration);
    if (!node || !row) return false;
    if (row.status === 'waiting') {
      await this.wake(run, node, row);
      return false;
    }
    if (isTerminal(row.status as NodeRunStatus)) return true;
    // Already running here (a second message for it): this process goes on with the one it has.
    if (this.inFlight.has(nodeKey(runId, nodeId, iteration))) return false;
    const claimed = await this.claim(run, node, row);
    if (!claimed) return false;
    const key = nodeKey(runId, nodeId, iteration);
    const controller = new AbortController();
    this.inFlight.set(key, controller);
    const onJobAbort = () => controller.abort(signal.reason);
    signal.addEventListener('abort', onJobAbort, { once: true });
    const renew = setInterval(() => {
      this.db
        .updateTable('workflow_node_runs')
        .set({ lease_expires_at: this.iso(this.now() + this.options.leaseMs) })
        .where('run_id', '=', runId)
        .where('node_id', '=', nodeId)
        .where('iteration', '=', iteration)
        .where('owner', '=', this.owner)
        .execute()
        .catch((error: unknown) => this.logger.warn({ err: error, runId, nodeId }, 'renewing a node lease failed'));
    }, this.options.leaseMs / 3);
    const timeout = node.timeoutSeconds
      ? setTimeout(
          () =>
            controller.abort(
              new NodeFailure('node_timed_out', `the node did not finish within ${node.timeoutSeconds} s`),
            ),
          node.timeoutSeconds * 1000,
        )
      : undefined;
    try {
      let outcome: { completed: Completed } | { failed: unknown } | { waited: true };
      try {
        if (waitingTypes.has(node.type)) {
          const completedAtOnce = await this.beginWait(run, node, claimed);
          outcome = completedAtOnce ? { completed: completedAtOnce } : { waited: true };
        } else {
          // Only nodes that act outside the run need their caller's rights (read again for each).
          const actor = pureTypes.has(node.type)
            ? undefined
            : await resolveActor(this.db, run.org_id, JSON.parse(run.actor) as StoredActor);
          const document = await this.document(run);
          outcome = {
            completed: await Promise.race([
              executeNode(this.executors, {
                run,
                node,
                row: claimed,
                iteration,
                attempt: Number(claimed.attempt),
                idempotencyKey: key,
                actor,
                document,
                signal: controller.signal,
                linkChildRun: (childRunId) => this.linkChildRun(run.id, node, claimed, childRunId),
                earlier: () => this.store.nodes(runId),
              }),
              new Promise<never>((_, reject) => {
                const onAbort = () => reject(controller.signal.reason);
                if (controller.signal.aborted) onAbort();
                else controller.signal.addEventListener('abort', onAbort, { once: true });
              }),
            ]),
          };
        }
      } catch (error) {
        outcome = { failed: error };
      }
      if (signal.aborted && !(controller.signal.reason instanceof NodeFailure)) {
        // This process is stopping (or lost the job): the node is left for another attempt, at once.
        await this.release(claimed);
        return false;
      }
      if ('waited' in outcome) return false;
      if ('completed' in outcome) await this.complete(run, graph, node, claimed, outcome.completed);
      else await this.fail(run, node, claimed, outcome.failed);
    } finally {
      clearInterval(renew);
      clearTimeout(timeout);
      signal.removeEventListener('abort', onJobAbort);
      this.inFlight.delete(key);
    }
    return true;
  }

  /** Takes the node for this process: a queued one, or a running one whose holder's lease ran out (it died). */
  private async claim(run: RunRow, node: ParsedNode, row: NodeRow): Promise<NodeRow | undefined> {
    let failedOut: { code: string; message: string } | undefined;
    const claimed = await this.store.change(run.id, async (change) => {
      const current = await change.trx
        .selectFrom('workflow_node_runs')
        .selectAll()
        .where('run_id', '=', run.id)
        .where('node_id', '=', row.node_id)
        .where('iteration', '=', row.iteration)
        .executeTakeFirst();
      if (!current || finished(change.run.status)) return undefined;
      const leaseAlive = current.lease_expires_at !== null && Date.parse(current.lease_expires_at) > this.now();
      if (current.status === 'running' && leaseAlive && current.owner !== this.owner) return undefined;
      if (current.status !== 'queued' && current.status !== 'running') return undefined;
      const attempt = Number(current.attempt) + 1;
      const key = nodeKey(run.id, row.node_id, Number(row.iteration));
      if (attempt > interruptionBound(node)) {
        // The process that held the last attempt it may have died with it.
        failedOut = {
          code: 'node_interrupted',
          message: `attempt ${current.attempt} of ${interruptionBound(node)} was interrupted (its control plane stopped)`,
        };
        await change.trx
          .updateTable('workflow_node_runs')
          .set({ status: 'failed', error: JSON.stringify(failedOut), finished_at: this.iso(), taken: '[]' })
          .where('run_id', '=', run.id)
          .where('node_id', '=', row.node_id)
          .where('iteration', '=', row.iteration)
          .execute();
        change.emit({
          type: 'node.failed',
          nodeId: row.node_id,
          iteration: Number(row.iteration),
          attempt: Number(current.attempt),
          data: { error: failedOut },
        });
        return undefined;
      }
      const at = this.iso();
      const next: NodeRow = {
        ...current,
        status: 'running',
        attempt,
        owner: this.owner,
        lease_expires_at: this.iso(this.now() + this.options.leaseMs),
        started_at: current.started_at ?? at,
      };
      await change.trx
        .updateTable('workflow_node_runs')
        .set({
          status: next.status,
          attempt: next.attempt,
          owner: next.owner,
          lease_expires_at: next.lease_expires_at,
          started_at: next.started_at,
        })
        .where('run_id', '=', run.id)
        .where('node_id', '=', row.node_id)
        .where('iteration', '=', row.iteration)
        .execute();
      change.emit({
        type: 'node.started',
        nodeId: row.node_id,
        iteration: Number(row.iteration),
        attempt,
        data: {
          idempotencyKey: key,
          type: node.type,
          worker: this.owner,
          ...(current.status === 'running' ? { takenOver: true } : {}),
        },
        childRunId: current.child_run_id,
      });
      if (change.run.status !== 'running') await this.setStatus(change, 'running');
      return next;
    });
    if (failedOut) await this.advance(run.id);
    return claimed;
  }

  /** A node this process held but could not finish (it is stopping): another attempt may start at once. */
  private async release(row: NodeRow): Promise<void> {
    await this.db
      .updateTable('workflow_node_runs')
      .set({ lease_expires_at: this.iso(this.now() - 1) })
      .where('run_id', '=', row.run_id)
      .where('node_id', '=', row.node_id)
      .where('iteration', '=', row.iteration)
      .where('owner', '=', this.owner)
      .execute()
      .catch(() => {});
  }

  private async linkChildRun(runId: string, node: ParsedNode, row: NodeRow, childRunId: string): Promise<void> {
    await this.store.change(runId, async (change) => {
      await change.trx
        .updateTable('workflow_node_runs')
        .set({ child_run_id: childRunId })
        .where('run_id', '=', runId)
        .where('node_id', '=', row.node_id)
        .where('iteration', '=', row.iteration)
        .execute();
      change.emit({
        type: 'node.started',
        nodeId: node.id,
        iteration: Number(row.iteration),
        attempt: Number(row.attempt),
        data: { childRun: childRunId, events: `/v1/runs/${childRunId}/events` },
        childRunId,
      });
    });
  }

  /** The edges a completed node takes. A loop edge past its bound fails the node instead. */
  private taken(graph: ParsedGraph, node: ParsedNode, branch: boolean | undefined, rows: readonly NodeRow[]): number[] {
    const edges = graph.outgoing.get(node.id) ?? [];
    const chosen = edges.filter((edge) => {
      if (node.type === 'condition') return edge.condition === branch;
      if (node.type === 'approval') return edge.condition === undefined ? branch === true : edge.condition === branch;
      return true;
    });
    const states = this.states(rows);
    for (const edge of chosen)
      if (edge.maxIterations !== undefined && loopTimes(graph, states, edge.index) >= edge.maxIterations)
        throw new NodeFailure(
          'loop_limit_reached',
          `the loop ${edge.source} → ${edge.target} has gone round its ${edge.maxIterations} times`,
          { edge: edge.index },
        );
    return chosen.map((edge) => edge.index);
  }

  /** Stores a node's completion (if this process still holds it) with the edges it takes. */
  private async complete(
    run: RunRow,
    graph: ParsedGraph,
    node: ParsedNode,
    row: NodeRow,
    completed: Completed,
    holder: string | null = this.owner,
  ): Promise<boolean> {
    const output = completed.output === undefined ? null : completed.output;
    const json = JSON.stringify(output);
    if (json !== undefined && Buffer.byteLength(json) > maxNodeOutputBytes) {
      await this.fail(
        run,
        node,
        row,
        new NodeFailure('output_too_large', `the node's output is larger than ${maxNodeOutputBytes} bytes`),
        holder,
        false,
      );
      return false;
    }
    let loopFailure: unknown;
    const stored = await this.store.change(run.id, async (change) => {
      const current = await change.trx
        .selectFrom('workflow_node_runs')
        .selectAll()
        .where('run_id', '=', run.id)
        .where('node_id', '=', row.node_id)
        .where('iteration', '=', row.iteration)
        .executeTakeFirst();
      if (!current || finished(change.run.status)) return false;
      const expected =
        holder === null
          ? current.status === 'waiting'
          : current.status === 'running' && current.owner === holder && Number(current.attempt) === Number(row.attempt);
      if (!expected) return false;
      // The node runs are needed only to count a loop's turns.
      const loops = (graph.outgoing.get(node.id) ?? []).some((edge) => edge.maxIterations !== undefined);
      const rows = loops
        ? await change.trx.selectFrom('workflow_node_runs').selectAll().where('run_id', '=', run.id).execute()
        : [];
      let taken: number[];
      try {
        taken = this.taken(graph, node, completed.branch, rows);
      } catch (error) {
        loopFailure = error;
        return false;
      }
      await change.trx
        .updateTable('workflow_node_runs')
        .set({
          status: 'completed',
          output: json ?? 'null',
          error: null,
          taken: JSON.stringify(taken),
          completion_seq: change.nextCompletion(),
          finished_at: this.iso(),
          owner: null,
          lease_expires_at: null,
        })
        .where('run_id', '=', run.id)
        .where('node_id', '=', row.node_id)
        .where('iteration', '=', row.iteration)
        .execute();
      change.emit({
        type: 'node.completed',
        nodeId: node.id,
        iteration: Number(row.iteration),
        attempt: Number(row.attempt),
        data: {
          output,
          ...(completed.branch === undefined ? {} : { branch: completed.branch }),
          ...(completed.input === undefined ? {} : { input: completed.input }),
          ...(completed.links ?? {}),
          taken,
        },
        childRunId: current.child_run_id,
      });
      return true;
    });
    if (loopFailure) await this.fail(run, node, row, loopFailure, holder, false);
    return stored;
  }

  /** A failed attempt: retried by the node's policy, else the node (and so the run) fails. */
  private async fail(
    run: RunRow,
    node: ParsedNode,
    row: NodeRow,
    error: unknown,
    holder: string | null = this.owner,
    retry = true,
  ): Promise<void> {
    const failure = failureOf(error);
    const attempt = Number(row.attempt);
    // A refusal (bad input, no rights, nothing there) fails the same way every time; anything else may pass.
    const final = error instanceof DomainError && finalFamilies.has(errorFamily(error.code));
    const retryable = retry && !final && attempt < node.retry.attempts;
    const delayMs = Math.round(node.retry.backoffSeconds * 1000 * node.retry.backoffFactor ** (attempt - 1));
    const retried = await this.store.change(run.id, async (change) => {
      const current = await change.trx
        .selectFrom('workflow_node_runs')
        .selectAll()
        .where('run_id', '=', run.id)
        .where('node_id', '=', row.node_id)
        .where('iteration', '=', row.iteration)
        .executeTakeFirst();
      if (!current || finished(change.run.status) || isTerminal(current.status as NodeRunStatus)) return false;
      if (holder !== null && current.owner !== holder) return false;
      const timedOut = failure.code === 'node_timed_out';
      const status: NodeRunStatus = retryable ? 'queued' : timedOut ? 'timed_out' : 'failed';
      await change.trx
        .updateTable('workflow_node_runs')
        .set({
          status,
          error: JSON.stringify(failure),
          owner: null,
          lease_expires_at: retryable ? this.iso(this.now() + delayMs + this.options.leaseMs) : null,
          ...(retryable ? {} : { finished_at: this.iso(), taken: '[]' }),
        })
        .where('run_id', '=', run.id)
        .where('node_id', '=', row.node_id)
        .where('iteration', '=', row.iteration)
        .execute();
      change.emit({
        type: retryable ? 'node.retrying' : timedOut ? 'node.timed_out' : 'node.failed',
        nodeId: node.id,
        iteration: Number(row.iteration),
        attempt,
        data: { error: failure, ...(retryable ? { nextAttempt: attempt + 1, delayMs } : {}) },
        childRunId: current.child_run_id,
      });
      return retryable;
    });
    if (retried)
      await this.queue.send(
        nodeQueue,
        { runId: run.id, nodeId: node.id, iteration: Number(row.iteration) },
        { startAfter: this.now() + delayMs },
      );
  }

  // --------------------------------------------------------------------------------------------- waits

  /**
   * Starts an approval, a delay or a webhook wait: the node is stored as waiting (with what ends the wait) and
   * nothing is held in memory. A delay already past completes at once.
   */
  private async beginWait(run: RunRow, node: ParsedNode, row: NodeRow): Promise<Completed | undefined> {
    const config = node.config;
    const document = await this.document(run);
    const iteration = Number(row.iteration);
    let wakeAt: number | null = null;
    let approval: Database['workflow_approvals'] | undefined;
    let wait: { token: string; hash: string } | undefined;
    let data: Record<string, unknown> = {};
    if (node.type === 'delay') {
      if (typeof config.seconds === 'number') wakeAt = Date.parse(row.started_at ?? this.iso()) + config.seconds * 1000;
      else {
        const until = await interpolate(String(config.until), document);
        const parsed = typeof until === 'string' || typeof until === 'number' ? new Date(until).getTime() : Number.NaN;
        if (Number.isNaN(parsed))
          throw new NodeFailure('invalid_time', `delay until ${JSON.stringify(until)} is not a time`);
        wakeAt = parsed;
      }
      if (wakeAt <= this.now()) return { output: { until: this.iso(wakeAt), waitedMs: 0 } };
      data = { until: this.iso(wakeAt) };
    } else if (node.type === 'approval') {
      const message = await interpolate(String(config.message), document);
      const timeoutSeconds = config.timeoutSeconds as number | undefined;
      wakeAt = timeoutSeconds ? this.now() + timeoutSeconds * 1000 : null;
      approval = {
        id: newId('approval'),
        org_id: run.org_id,
        run_id: run.id,
        workflow_slug: run.workflow_slug,
        node_id: node.id,
        iteration,
        message: typeof message === 'string' ? message : JSON.stringify(message),
        approvers: config.approvers ? JSON.stringify(config.approvers) : null,
        status: 'pending',
        comment: null,
        decided_by: null,
        expires_at: wakeAt === null ? null : this.iso(wakeAt),
        created_at: this.iso(),
        decided_at: null,
      };
      data = {
        approvalId: approval.id,
        message: approval.message,
        approvers: config.approvers ?? null,
        expiresAt: approval.expires_at,
      };
    } else {
      const timeoutSeconds = config.timeoutSeconds as number | undefined;
      wakeAt = timeoutSeconds ? this.now() + timeoutSeconds * 1000 : null;
      const token = `wh_${randomBytes(24).toString('base64url')}`;
      wait = { token, hash: hashToken(token) };
      data = {
        url: `${this.options.publicUrl()}/v1/hooks/${token}`,
        expiresAt: wakeAt === null ? null : this.iso(wakeAt),
      };
    }
    const waiting = await this.store.change(run.id, async (change) => {
      const current = await change.trx
        .selectFrom('workflow_node_runs')
        .select(['status', 'owner'])
        .where('run_id', '=', run.id)
        .where('node_id', '=', node.id)
        .where('iteration', '=', iteration)
        .executeTakeFirst();
      if (current?.status !== 'running' || current.owner !== this.owner || finished(change.run.status)) return false;
      await change.trx
        .updateTable('workflow_node_runs')
        .set({
          status: 'waiting',
          wake_at: wakeAt === null ? null : this.iso(wakeAt),
          owner: null,
          lease_expires_at: null,
        })
        .where('run_id', '=', run.id)
        .where('node_id', '=', node.id)
        .where('iteration', '=', iteration)
        .execute();
      if (approval) await change.trx.insertInto('workflow_approvals').values(approval).execute();
      if (wait)
        await change.trx
          .insertInto('workflow_waits')
          .values({ token_hash: wait.hash, run_id: run.id, node_id: node.id, iteration, created_at: this.iso() })
          .execute();
      change.emit({ type: 'node.waiting', nodeId: node.id, iteration, attempt: Number(row.attempt), data });
      if (approval) change.emit({ type: 'approval.requested', nodeId: node.id, iteration, data });
      const rows = await change.trx
        .selectFrom('workflow_node_runs')
        .select('status')
        .where('run_id', '=', run.id)
        .execute();
      await this.setStatus(change, this.runStatus(rows as NodeRow[]));
      return true;
    });
    if (waiting && wakeAt !== null)
      await this.queue.send(nodeQueue, { runId: run.id, nodeId: node.id, iteration }, { startAfter: wakeAt });
    return undefined;
  }

  /** A waiting node's time came (a delay ended, an approval or a webhook wait timed out). */
  private async wake(run: RunRow, node: ParsedNode, row: NodeRow): Promise<void> {
    if (!row.wake_at) return;
    const wakeAt = Date.parse(row.wake_at);
    if (wakeAt > this.now()) {
      await this.queue.send(
        nodeQueue,
        { runId: run.id, nodeId: node.id, iteration: Number(row.iteration) },
        { startAfter: wakeAt },
      );
      return;
    }
    const graph = this.graph(run);
    if (node.type === 'delay') {
      const started = Date.parse(row.started_at ?? row.wake_at);
      await this.complete(
        run,
        graph,
        node,
        row,
        { output: { until: row.wake_at, waitedMs: this.now() - started } },
        null,
      );
    } else if (node.type === 'approval') {
      const onTimeout = (node.config.onTimeout as string | undefined) ?? 'fail';
      const approval = await this.db
        .selectFrom('workflow_approvals')
        .selectAll()
        .where('run_id', '=', run.id)
        .where('node_id', '=', node.id)
        .where('iteration', '=', row.iteration)
        .executeTakeFirst();
      if (approval?.status !== 'pending') return;
      if (onTimeout === 'fail') {
        await this.db
          .updateTable('workflow_approvals')
          .set({ status: 'timed_out', decided_at: this.iso() })
          .where('id', '=', approval.id)
          .where('status', '=', 'pending')
          .execute();
        await this.fail(
          run,
          node,
          row,
          new NodeFailure('node_timed_out', `no decision on approval ${approval.id} by ${approval.expires_at}`),
          null,
          false,
        );
      } else {
        await this.decide(
          run,
          graph,
          node,
          row,
          approval,
          onTimeout === 'approve',
          null,
          `timed out: ${onTimeout}`,
          'timed_out',
        );
      }
    } else {
      await this.db.deleteFrom('workflow_waits').where('run_id', '=', run.id).where('node_id', '=', node.id).execute();
      await this.fail(
        run,
        node,
        row,
        new NodeFailure('node_timed_out', `no call resumed the wait by ${row.wake_at}`),
        null,
        false,
      );
    }
    await this.advance(run.id);
  }

  /** Records an approval's decision and completes its node with it (rejection without a false branch fails it). */
  private async decide(
    run: RunRow,
    graph: ParsedGraph,
    node: ParsedNode,
    row: NodeRow,
    approval: Database['workflow_approvals'],
    approved: boolean,
    decidedBy: string | null,
    comment: string | null,
    status: 'approved' | 'rejected' | 'timed_out' = approved ? 'approved' : 'rejected',
  ): Promise<boolean> {
    const at = this.iso();
    const moved = await this.db
      .updateTable('workflow_approvals')
      .set({ status, comment, decided_by: decidedBy, decided_at: at })
      .where('id', '=', approval.id)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    if (Number(moved.numUpdatedRows) !== 1) return false;
    await this.store.change(run.id, async (change) =>
      change.emit({
        type: 'approval.resolved',
        nodeId: node.id,
        iteration: Number(row.iteration),
        data: { approvalId: approval.id, approved, comment, decidedBy, status },
      }),
    );
    const hasRejectBranch = (graph.outgoing.get(node.id) ?? []).some((edge) => edge.condition === false);
    if (!approved && !hasRejectBranch) {
      await this.fail(
        run,
        node,
        row,
        new NodeFailure('approval_rejected', `approval ${approval.id} was rejected${comment ? `: ${comment}` : ''}`),
        null,
        false,
      );
      return true;
    }
    await this.complete(
      run,
      graph,
      node,
      row,
      { output: { approved, comment, decidedBy, decidedAt: at, approvalId: approval.id }, branch: approved },
      null,
    );
    return true;
  }

  async resolveApproval(actor: Actor, approvalId: string, body: ApprovalResolveRequest): Promise<void> {
    const approval = await this.db
      .selectFrom('workflow_approvals')
      .selectAll()
      .where('id', '=', approvalId)
      .where('org_id', '=', actor.orgId)
      .executeTakeFirst();
    if (!approval) throw new DomainError('approval_not_found', `no approval ${approvalId}`, { approvalId });
    if (approval.status !== 'pending')
      throw new DomainError('approval_decided', `approval ${approvalId} is already ${approval.status}`, {
        status: approval.status,
      });
    const approvers = approval.approvers ? (JSON.parse(approval.approvers) as string[]) : null;
    if (
      approvers &&
      !(
        actor.member &&
        (approvers.includes(actor.member.id) ||
          approvers.includes(actor.member.email.toLowerCase()) ||
          approvers.includes(actor.member.email))
      )
    )
      throw new DomainError('approver_not_allowed', `you are not one of the approvers of ${approvalId}`, {
        approvers,
      });
    const run = await this.store.run(approval.run_id);
    if (!run || finished(run.status))
      throw new DomainError('approval_decided', `the run of approval ${approvalId} has ended`, { status: run?.status });
    const graph = this.graph(run);
    const node = graph.nodes.get(approval.node_id);
    const row = await this.store.node(run.id, approval.node_id, Number(approval.iteration));
    if (!node || !row) throw new DomainError('approval_not_found', `no approval ${approvalId}`, { approvalId });
    const decided = await this.decide(
      run,
      graph,
      node,
      row,
      approval,
      body.approved,
      actor.member?.id ?? actor.principal.id,
      body.comment ?? null,
    );
    if (!decided) throw new DomainError('approval_decided', `approval ${approvalId} was decided meanwhile`);
    await this.advance(run.id);
  }

  /** Resumes a webhook-wait node from an inbound call; false when no wait has this token. */
  async resumeWait(token: string, payload: unknown): Promise<{ runId: string } | undefined> {
    const wait = await this.db
      .selectFrom('workflow_waits')
      .selectAll()
      .where('token_hash', '=', hashToken(token))
      .executeTakeFirst();
    if (!wait) return undefined;
    const run = await this.store.run(wait.run_id);
    const row = await this.store.node(wait.run_id, wait.node_id, Number(wait.iteration));
    if (!run || !row || finished(run.status) || row.status !== 'waiting') return undefined;
    const graph = this.graph(run);
    const node = graph.nodes.get(wait.node_id);
    if (!node) return undefined;
    const removed = await this.db
      .deleteFrom('workflow_waits')
      .where('token_hash', '=', wait.token_hash)
      .executeTakeFirst();
    if (Number(removed.numDeletedRows) !== 1) return undefined;
    await this.complete(run, graph, node, row, { output: payload }, null);
    await this.advance(run.id);
    return { runId: run.id };
  }

  // --------------------------------------------------------------------------------------------- sweep

  /**
   * Work whose process died: nodes whose lease ran out, queued nodes never picked up, waits past their time,
   * runs past their timeout or with nothing in flight. Each is sent to the queue again (the handlers decide
   * from the stored state, so sending twice is harmless).
   */
  async sweep(): Promise<void> {
    if (this.stopped) return;
    const now = this.iso();
    const stale = await this.db
      .selectFrom('workflow_node_runs')
      .innerJoin('workflow_runs', 'workflow_runs.id', 'workflow_node_runs.run_id')
      .select(['workflow_node_runs.run_id', 'workflow_node_runs.node_id', 'workflow_node_runs.iteration'])
      .where('workflow_runs.status', 'in', ['queued', 'running', 'waiting'])
      .where((eb) =>
        eb.or([
          eb.and([
            eb('workflow_node_runs.status', 'in', ['queued', 'running']),
            eb('workflow_node_runs.lease_expires_at', '<', now),
          ]),
          eb.and([eb('workflow_node_runs.status', '=', 'waiting'), eb('workflow_node_runs.wake_at', '<', now)]),
        ]),
      )
      .limit(500)
      .execute();
    for (const node of stale) {
      // Pushed on, so the next sweep does not send it again before a worker has had its turn.
      await this.db
        .updateTable('workflow_node_runs')
        .set({ lease_expires_at: this.iso(this.now() + this.options.leaseMs) })
        .where('run_id', '=', node.run_id)
        .where('node_id', '=', node.node_id)
        .where('iteration', '=', node.iteration)
        .where('status', '=', 'queued')
        .execute();
      await this.queue.send(
        nodeQueue,
        { runId: node.run_id, nodeId: node.node_id, iteration: Number(node.iteration) },
        { singletonKey: nodeKey(node.run_id, node.node_id, Number(node.iteration)) },
      );
    }
    const idleBefore = this.iso(this.now() - 2 * this.options.leaseMs);
    const runs = await this.db
      .selectFrom('workflow_runs')
      .select('id')
      .where('status', 'in', ['queued', 'running', 'waiting'])
      .where((eb) => eb.or([eb('updated_at', '<', idleBefore), eb('timeout_at', '<', now)]))
      .limit(500)
      .execute();
    for (const run of runs) await this.queue.send(advanceQueue, { runId: run.id }, { singletonKey: run.id });
  }

  async approvalFromRow(row: Database['workflow_approvals']): Promise<Approval> {
    return {
      id: row.id,
      runId: row.run_id,
      workflow: row.workflow_slug,
      nodeId: row.node_id,
      message: row.message,
      approvers: row.approvers ? (JSON.parse(row.approvers) as string[]) : null,
      status: row.status as Approval['status'],
      comment: row.comment,
      decidedBy: row.decided_by,
      expiresAt: row.expires_at,
      createdAt: row.created_at,
      decidedAt: row.decided_at,
    };
  }
}
