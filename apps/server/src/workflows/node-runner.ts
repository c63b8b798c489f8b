import { errorFamily, type NodeRunStatus, type ParsedGraph, type ParsedNode } from '@runtools/spec';
import { resolveActor, type StoredActor } from '../auth/stored-actor.js';
import { DomainError } from '../errors.js';
import { type EngineContext, finished, type NodeJob, nodeKey, nodeQueue, states } from './engine-context.js';
import { type Completed, executeNode, NodeFailure } from './node-executors.js';
import { maxNodeOutputBytes, type NodeRow, nodeRowIn, type RunRow, updateNodeRow } from './run-store.js';
import { isTerminal, loopTimes } from './scheduler.js';

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
export const inlineTypes = new Set(['transform', 'condition', 'output', 'join', 'parallel']);

/**
 * How many times a node may be started in all when the processes running it die: a pure node as often as it
 * takes (bounded, against a node that itself kills its process), a node with effects (an agent, a tool, a
 * sandbox command) as its retry policy allows, and at least three times, so that one crash of a control plane
 * does not fail a run that never failed on its own.
 */
function interruptionBound(node: ParsedNode): number {
  return pureTypes.has(node.type) ? 100 : Math.max(node.retry.attempts, 3);
}

const waitingTypes = new Set(['approval', 'delay', 'webhook-wait']);

function failureOf(error: unknown): { code: string; message: string; details?: Record<string, unknown> } {
  if (error instanceof NodeFailure) return { code: error.code, message: error.message, details: error.details };
  if (error instanceof DomainError) return { code: error.code, message: error.message };
  if (error instanceof Error && 'code' in error && typeof error.code === 'string')
    return { code: error.code, message: error.message };
  return { code: 'node_failed', message: error instanceof Error ? error.message : String(error) };
}

/** What a node run hands on: a wait's start and end (waits.ts), and a look at its run again (the facade). */
export interface NodeRunnerLinks {
  beginWait(run: RunRow, node: ParsedNode, row: NodeRow): Promise<Completed | undefined>;
  wake(run: RunRow, node: ParsedNode, row: NodeRow): Promise<void>;
  advance(runId: string): Promise<void>;
}

/**
 * Takes and executes node runs: the claim under a lease, the execution (or the start of a wait), and the storing
 * of what came of it, each only while this process still holds the node.
 */
export class NodeRunner {
  constructor(
    private readonly context: EngineContext,
    private readonly links: NodeRunnerLinks,
  ) {}

  /**
   * Claims and executes one node run (or ends its wait), storing what came of it. Answers whether the run
   * should be looked at again (the node ended, or had already).
   */
  async runNode({ runId, nodeId, iteration }: NodeJob, signal: AbortSignal): Promise<boolean> {
    const run = await this.context.store.run(runId);
    if (!run || finished(run.status)) return false;
    const graph = this.context.graph(run);
    const node = graph.nodes.get(nodeId);
    const row = await this.context.store.node(runId, nodeId, iteration);
    if (!node || !row) return false;
    if (row.status === 'waiting') {
      await this.links.wake(run, node, row);
      return false;
    }
    if (isTerminal(row.status as NodeRunStatus)) return true;
    // Already running here (a second message for it): this process goes on with the one it has.
    if (this.context.inFlight.has(nodeKey(runId, nodeId, iteration))) return false;
    const claimed = await this.claim(run, node, row);
    if (!claimed) return false;
    const key = nodeKey(runId, nodeId, iteration);
    const controller = new AbortController();
    this.context.inFlight.set(key, controller);
    const onJobAbort = () => controller.abort(signal.reason);
    signal.addEventListener('abort', onJobAbort, { once: true });
    const renew = setInterval(() => {
      this.context.db
        .updateTable('workflow_node_runs')
        .set({ lease_expires_at: this.context.iso(this.context.now() + this.context.options.leaseMs) })
        .where('run_id', '=', runId)
        .where('node_id', '=', nodeId)
        .where('iteration', '=', iteration)
        .where('owner', '=', this.context.owner)
        .execute()
        .catch((error: unknown) =>
          this.context.logger.warn({ err: error, runId, nodeId }, 'renewing a node lease failed'),
        );
    }, this.context.options.leaseMs / 3);
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
          const completedAtOnce = await this.links.beginWait(run, node, claimed);
          outcome = completedAtOnce ? { completed: completedAtOnce } : { waited: true };
        } else {
          // Only nodes that act outside the run need their caller's rights (read again for each).
          const actor = pureTypes.has(node.type)
            ? undefined
            : await resolveActor(this.context.db, run.org_id, JSON.parse(run.actor) as StoredActor);
          const document = await this.context.document(run);
          outcome = {
            completed: await Promise.race([
              executeNode(this.context.executors, {
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
                earlier: () => this.context.store.nodes(runId),
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
      this.context.inFlight.delete(key);
    }
    return true;
  }

  /** Takes the node for this process: a queued one, or a running one whose holder's lease ran out (it died). */
  private async claim(run: RunRow, node: ParsedNode, row: NodeRow): Promise<NodeRow | undefined> {
    let failedOut: { code: string; message: string } | undefined;
    const claimed = await this.context.store.change(run.id, async (change) => {
      const current = await nodeRowIn(change.trx, run.id, row.node_id, row.iteration);
      if (!current || finished(change.run.status)) return undefined;
      const leaseAlive = current.lease_expires_at !== null && Date.parse(current.lease_expires_at) > this.context.now();
      if (current.status === 'running' && leaseAlive && current.owner !== this.context.owner) return undefined;
      if (current.status !== 'queued' && current.status !== 'running') return undefined;
      const attempt = Number(current.attempt) + 1;
      const key = nodeKey(run.id, row.node_id, Number(row.iteration));
      if (attempt > interruptionBound(node)) {
        // The process that held the last attempt it may have died with it.
        failedOut = {
          code: 'node_interrupted',
          message: `attempt ${current.attempt} of ${interruptionBound(node)} was interrupted (its control plane stopped)`,
        };
        await updateNodeRow(change.trx, run.id, row.node_id, row.iteration, {
          status: 'failed',
          error: JSON.stringify(failedOut),
          finished_at: this.context.iso(),
          taken: '[]',
        });
        change.emit({
          type: 'node.failed',
          nodeId: row.node_id,
          iteration: Number(row.iteration),
          attempt: Number(current.attempt),
          data: { error: failedOut },
        });
        return undefined;
      }
      const at = this.context.iso();
      const next: NodeRow = {
        ...current,
        status: 'running',
        attempt,
        owner: this.context.owner,
        lease_expires_at: this.context.iso(this.context.now() + this.context.options.leaseMs),
        started_at: current.started_at ?? at,
      };
      await updateNodeRow(change.trx, run.id, row.node_id, row.iteration, {
        status: next.status,
        attempt: next.attempt,
        owner: next.owner,
        lease_expires_at: next.lease_expires_at,
        started_at: next.started_at,
      });
      change.emit({
        type: 'node.started',
        nodeId: row.node_id,
        iteration: Number(row.iteration),
        attempt,
        data: {
          idempotencyKey: key,
          type: node.type,
          worker: this.context.owner,
          ...(current.status === 'running' ? { takenOver: true } : {}),
        },
        childRunId: current.child_run_id,
      });
      if (change.run.status !== 'running') await this.context.setStatus(change, 'running');
      return next;
    });
    if (failedOut) await this.links.advance(run.id);
    return claimed;
  }

  /** A node this process held but could not finish (it is stopping): another attempt may start at once. */
  private async release(row: NodeRow): Promise<void> {
    await this.context.db
      .updateTable('workflow_node_runs')
      .set({ lease_expires_at: this.context.iso(this.context.now() - 1) })
      .where('run_id', '=', row.run_id)
      .where('node_id', '=', row.node_id)
      .where('iteration', '=', row.iteration)
      .where('owner', '=', this.context.owner)
      .execute()
      .catch(() => {});
  }

  private async linkChildRun(runId: string, node: ParsedNode, row: NodeRow, childRunId: string): Promise<void> {
    await this.context.store.change(runId, async (change) => {
      await updateNodeRow(change.trx, runId, row.node_id, row.iteration, { child_run_id: childRunId });
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
    const nodeStates = states(rows);
    for (const edge of chosen)
      if (edge.maxIterations !== undefined && loopTimes(graph, nodeStates, edge.index) >= edge.maxIterations)
        throw new NodeFailure(
          'loop_limit_reached',
          `the loop ${edge.source} → ${edge.target} has gone round its ${edge.maxIterations} times`,
          { edge: edge.index },
        );
    return chosen.map((edge) => edge.index);
  }

  /** Stores a node's completion (if this process still holds it) with the edges it takes. */
  async complete(
    run: RunRow,
    graph: ParsedGraph,
    node: ParsedNode,
    row: NodeRow,
    completed: Completed,
    holder: string | null = this.context.owner,
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
    const stored = await this.context.store.change(run.id, async (change) => {
      const current = await nodeRowIn(change.trx, run.id, row.node_id, row.iteration);
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
      await updateNodeRow(change.trx, run.id, row.node_id, row.iteration, {
        status: 'completed',
        output: json ?? 'null',
        error: null,
        taken: JSON.stringify(taken),
        completion_seq: change.nextCompletion(),
        finished_at: this.context.iso(),
        owner: null,
        lease_expires_at: null,
      });
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
  async fail(
    run: RunRow,
    node: ParsedNode,
    row: NodeRow,
    error: unknown,
    holder: string | null = this.context.owner,
    retry = true,
  ): Promise<void> {
    const failure = failureOf(error);
    const attempt = Number(row.attempt);
    // A refusal (bad input, no rights, nothing there) fails the same way every time; anything else may pass.
    const final = error instanceof DomainError && finalFamilies.has(errorFamily(error.code));
    const retryable = retry && !final && attempt < node.retry.attempts;
    const delayMs = Math.round(node.retry.backoffSeconds * 1000 * node.retry.backoffFactor ** (attempt - 1));
    const retried = await this.context.store.change(run.id, async (change) => {
      const current = await nodeRowIn(change.trx, run.id, row.node_id, row.iteration);
      if (!current || finished(change.run.status) || isTerminal(current.status as NodeRunStatus)) return false;
      if (holder !== null && current.owner !== holder) return false;
      const timedOut = failure.code === 'node_timed_out';
      const status: NodeRunStatus = retryable ? 'queued' : timedOut ? 'timed_out' : 'failed';
      await updateNodeRow(change.trx, run.id, row.node_id, row.iteration, {
        status,
        error: JSON.stringify(failure),
        owner: null,
        lease_expires_at: retryable
          ? this.context.iso(this.context.now() + delayMs + this.context.options.leaseMs)
          : null,
        ...(retryable ? {} : { finished_at: this.context.iso(), taken: '[]' }),
      });
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
      await this.context.queue.send(
        nodeQueue,
        { runId: run.id, nodeId: node.id, iteration: Number(row.iteration) },
        { startAfter: this.context.now() + delayMs },
      );
  }
}
