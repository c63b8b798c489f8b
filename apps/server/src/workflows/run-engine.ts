import type {
  Approval,
  ApprovalResolveRequest,
  NodeRunStatus,
  ParsedGraph,
  WorkflowEvent,
  WorkflowRun,
  WorkflowRunStatus,
} from '@runtools/spec';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Actor } from '../auth/actor.js';
import { platformActor } from '../auth/actor.js';
import { resolveActor, type StoredActor } from '../auth/stored-actor.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { newId } from '../ids.js';
import type { Job, JobQueue } from '../queue/job-queue.js';
import {
  advanceQueue,
  EngineContext,
  type EngineOptions,
  finished,
  type NodeJob,
  nodeKey,
  nodeQueue,
  runStatus,
  states,
} from './engine-context.js';
import type { ExecutorDependencies } from './node-executors.js';
import { inlineTypes, NodeRunner } from './node-runner.js';
import { type NodeRow, type RunChange, type RunRow, type RunStore, runFromRow, updateNodeRow } from './run-store.js';
import { type Decision, isTerminal, schedule } from './scheduler.js';
import { Waits } from './waits.js';

export { advanceQueue, type EngineOptions, nodeKey, nodeQueue } from './engine-context.js';

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

/**
 * Runs workflow graphs durably. Everything a run is lives in the database: its node runs (the completion of
 * each is stored before anything after it starts), its events, its waits. The queue only says "look at this
 * node" or "look at this run"; what happens next is decided from the stored rows by the scheduler, so any
 * control plane can take over a run from any point, and a sweep re-sends what a dead process held.
 */
export class WorkflowEngine {
  readonly owner: string;
  private readonly context: EngineContext;
  private readonly nodes: NodeRunner;
  private readonly waits: Waits;
  private sweeper: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    db: Kysely<Database>,
    store: RunStore,
    queue: JobQueue,
    executors: ExecutorDependencies,
    logger: Logger,
    options: EngineOptions,
  ) {
    this.context = new EngineContext(db, store, queue, executors, logger, options);
    this.owner = this.context.owner;
    // The parts call one another: a node run starts and ends waits, a wait completes or fails its node, and both
    // look at the run again. The waits are made after the runner, so the runner reaches them through these links.
    this.nodes = new NodeRunner(this.context, {
      beginWait: (run, node, row) => this.waits.beginWait(run, node, row),
      wake: (run, node, row) => this.waits.wake(run, node, row),
      advance: (runId) => this.advance(runId),
    });
    this.waits = new Waits(this.context, this.nodes, (runId) => this.advance(runId));
  }

  async start(): Promise<void> {
    await this.context.queue.work<{ runId: string }>(advanceQueue, { concurrency: 4 }, (job) =>
      this.advance(job.data.runId),
    );
    await this.context.queue.work<NodeJob>(nodeQueue, { concurrency: this.context.options.nodeConcurrency }, (job) =>
      this.nodeJob(job),
    );
    this.sweeper = setInterval(() => {
      this.sweep().catch((error: unknown) => this.context.logger.error({ err: error }, 'workflow sweep failed'));
    }, this.context.options.sweepMs);
    this.sweeper.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.context.stopping.abort(new Error('the server is stopping'));
    clearInterval(this.sweeper);
    for (const controller of this.context.inFlight.values()) controller.abort(new Error('the server is stopping'));
  }

  private async nodeJob(job: Job<NodeJob>): Promise<void> {
    if (await this.nodes.runNode(job.data, job.signal)) await this.advance(job.data.runId);
  }

  // ---------------------------------------------------------------------------------------------- runs

  /** Creates a run (queued) and hands it to the queue; with an idempotency key, a second call answers the first run. */
  async createRun(input: StartRunInput): Promise<WorkflowRun> {
    if (input.idempotencyKey) {
      const existing = await this.byIdempotencyKey(input.workflowId, input.idempotencyKey);
      if (existing) return runFromRow(existing);
    }
    const at = this.context.iso();
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
      timeout_at: input.timeoutSeconds ? this.context.iso(this.context.now() + input.timeoutSeconds * 1000) : null,
      created_at: at,
      started_at: null,
      updated_at: at,
      finished_at: null,
    };
    try {
      await this.context.db.transaction().execute(async (trx) => {
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
    await this.context.queue.send(advanceQueue, { runId: row.id }, { singletonKey: row.id });
    if (row.timeout_at)
      await this.context.queue.send(advanceQueue, { runId: row.id }, { startAfter: Date.parse(row.timeout_at) });
    return runFromRow(row);
  }

  private byIdempotencyKey(workflowId: string, key: string): Promise<RunRow | undefined> {
    return this.context.db
      .selectFrom('workflow_runs')
      .selectAll()
      .where('workflow_id', '=', workflowId)
      .where('idempotency_key', '=', key)
      .executeTakeFirst();
  }

  /** Decides and records what comes next in a run; safe to call any number of times, from any process. */
  async advance(runId: string): Promise<void> {
    for (let rounds = 0; rounds < 10_000; rounds++) {
      const run = await this.context.store.run(runId);
      if (!run || finished(run.status)) return;
      if (run.timeout_at && Date.parse(run.timeout_at) <= this.context.now()) {
        await this.finish(runId, 'timed_out', {
          code: 'run_timed_out',
          message: `the run did not finish by ${run.timeout_at}`,
        });
        return;
      }
      const graph = this.context.graph(run);
      const rows = await this.context.store.nodes(runId);
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
      const { decisions, finished: done } = schedule(graph, states(rows));
      if (done) {
        await this.finish(runId, 'completed', null, this.runOutput(graph, rows));
        return;
      }
      const status = runStatus(rows);
      if (!decisions.length) {
        if (status !== run.status)
          await this.context.store.change(runId, async (change) => this.context.setStatus(change, status));
        return;
      }
      const starts = await this.context.store.change(runId, async (change) => {
        const { trx } = change;
        if (finished(change.run.status)) return [];
        const current = await trx.selectFrom('workflow_node_runs').selectAll().where('run_id', '=', runId).execute();
        const now = schedule(graph, states(current));
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
                finished_at: this.context.iso(),
              })
              .execute();
            change.emit({ type: 'node.skipped', nodeId: decision.nodeId, iteration: decision.iteration });
          } else {
            await this.cancelNode(change, decision.nodeId, decision.iteration, 'a first join went on without it');
          }
        }
        const after = await trx.selectFrom('workflow_node_runs').select('status').where('run_id', '=', runId).execute();
        await this.context.setStatus(change, runStatus(after as NodeRow[]));
        return started;
      });
      // Nodes that only compute (a transform, a condition, a join, an output) run here and now: a queue round
      // trip would cost more than they do. One that a crash cuts off is queued with an expiring lease, so the
      // sweep sends it on. Nodes that act or wait go through the queue, to whichever process takes them.
      const inline = starts.filter((start) => inlineTypes.has(graph.nodes.get(start.nodeId)?.type ?? ''));
      for (const start of starts)
        if (!inline.includes(start))
          await this.context.queue.send(
            nodeQueue,
            { runId, nodeId: start.nodeId, iteration: start.iteration },
            { singletonKey: nodeKey(runId, start.nodeId, start.iteration) },
          );
      for (const start of inline)
        await this.nodes.runNode(
          { runId, nodeId: start.nodeId, iteration: start.iteration },
          this.context.stopping.signal,
        );
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
      lease_expires_at: this.context.iso(this.context.now() + this.context.options.leaseMs),
      started_at: null,
      finished_at: null,
    };
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
    await updateNodeRow(change.trx, change.run.id, nodeId, iteration, {
      status: 'cancelled',
      taken: '[]',
      completion_seq: change.nextCompletion(),
      finished_at: this.context.iso(),
    });
    await change.trx
      .updateTable('workflow_approvals')
      .set({ status: 'cancelled', decided_at: this.context.iso() })
      .where('run_id', '=', change.run.id)
      .where('node_id', '=', nodeId)
      .where('iteration', '=', iteration)
      .where('status', '=', 'pending')
      .execute();
    change.emit({ type: 'node.cancelled', nodeId, iteration, data: { reason } });
    this.context.inFlight.get(nodeKey(change.run.id, nodeId, iteration))?.abort(new Error(reason));
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
    await this.context.store.change(runId, async (change) => {
      if (finished(change.run.status)) return;
      actor = change.run.actor;
      orgId = change.run.org_id;
      const open = await change.trx
        .selectFrom('workflow_node_runs')
        .select(['node_id', 'iteration', 'status', 'child_run_id'])
        .where('run_id', '=', runId)
        .execute();
      for (const node of open) {
        if (!isTerminal(node.status as NodeRunStatus))
          await this.cancelNode(change, node.node_id, Number(node.iteration), `the run ended ${status}`);
        // Also the agent run of a node that failed or timed out: it may still be going on its own.
        if (node.child_run_id && node.status !== 'completed') children.push(node.child_run_id);
      }
      await change.trx.deleteFrom('workflow_waits').where('run_id', '=', runId).execute();
      const at = this.context.iso();
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
        // As the run's caller, or as the platform when the caller's rights are gone (often why the run ended).
        const caller = await resolveActor(
          this.context.db,
          orgId as string,
          JSON.parse(actor as string) as StoredActor,
        ).catch(() => platformActor(orgId as string));
        await this.context.executors.runs.cancel(caller, child);
      } catch (error) {
        if (!(error instanceof DomainError && error.code === 'run_finished'))
          this.context.logger.warn({ err: error, runId, childRunId: child }, "cancelling a node's agent run failed");
      }
    this.context.graphs.delete(runId);
  }

  async cancel(runId: string): Promise<void> {
    await this.finish(runId, 'cancelled', null);
  }

  // --------------------------------------------------------------------------------------------- waits

  resolveApproval(actor: Actor, approvalId: string, body: ApprovalResolveRequest): Promise<void> {
    return this.waits.resolveApproval(actor, approvalId, body);
  }

  /** Resumes a webhook-wait node from an inbound call; false when no wait has this token. */
  resumeWait(token: string, payload: unknown): Promise<{ runId: string } | undefined> {
    return this.waits.resumeWait(token, payload);
  }

  approvalFromRow(row: Database['workflow_approvals']): Promise<Approval> {
    return this.waits.approvalFromRow(row);
  }

  // --------------------------------------------------------------------------------------------- sweep

  /**
   * Work whose process died: nodes whose lease ran out, queued nodes never picked up, waits past their time,
   * runs past their timeout or with nothing in flight. Each is sent to the queue again (the handlers decide
   * from the stored state, so sending twice is harmless).
   */
  async sweep(): Promise<void> {
    if (this.stopped) return;
    const now = this.context.iso();
    const stale = await this.context.db
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
      await this.context.db
        .updateTable('workflow_node_runs')
        .set({ lease_expires_at: this.context.iso(this.context.now() + this.context.options.leaseMs) })
        .where('run_id', '=', node.run_id)
        .where('node_id', '=', node.node_id)
        .where('iteration', '=', node.iteration)
        .where('status', '=', 'queued')
        .execute();
      await this.context.queue.send(
        nodeQueue,
        { runId: node.run_id, nodeId: node.node_id, iteration: Number(node.iteration) },
        { singletonKey: nodeKey(node.run_id, node.node_id, Number(node.iteration)) },
      );
    }
    // Approvals decided while their node still waits: the deciding process stopped in between.
    const decided = await this.context.db
      .selectFrom('workflow_approvals')
      .innerJoin('workflow_node_runs', (join) =>
        join
          .onRef('workflow_node_runs.run_id', '=', 'workflow_approvals.run_id')
          .onRef('workflow_node_runs.node_id', '=', 'workflow_approvals.node_id')
          .onRef('workflow_node_runs.iteration', '=', 'workflow_approvals.iteration'),
      )
      .select(['workflow_approvals.run_id', 'workflow_approvals.node_id', 'workflow_approvals.iteration'])
      .where('workflow_approvals.status', 'in', ['approved', 'rejected'])
      .where('workflow_node_runs.status', '=', 'waiting')
      .where('workflow_approvals.decided_at', '<', this.context.iso(this.context.now() - this.context.options.leaseMs))
      .limit(500)
      .execute();
    for (const node of decided)
      await this.context.queue.send(
        nodeQueue,
        { runId: node.run_id, nodeId: node.node_id, iteration: Number(node.iteration) },
        { singletonKey: nodeKey(node.run_id, node.node_id, Number(node.iteration)) },
      );
    const idleBefore = this.context.iso(this.context.now() - 2 * this.context.options.leaseMs);
    const runs = await this.context.db
      .selectFrom('workflow_runs')
      .select('id')
      .where((eb) =>
        eb.or([
          // A waiting run is woken by its waits; one running or queued with nothing moving lost its process.
          eb.and([eb('status', 'in', ['queued', 'running']), eb('updated_at', '<', idleBefore)]),
          eb.and([eb('status', 'in', ['queued', 'running', 'waiting']), eb('timeout_at', '<', now)]),
        ]),
      )
      .orderBy('updated_at')
      .limit(500)
      .execute();
    for (const run of runs) await this.context.queue.send(advanceQueue, { runId: run.id }, { singletonKey: run.id });
  }
}
