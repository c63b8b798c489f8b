import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  finishedWorkflowRunStatuses,
  type NodeRunStatus,
  type ParsedGraph,
  parseGraph,
  type WorkflowRunStatus,
} from '@runtools/spec';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../db/schema.js';
import type { Clock, JobQueue } from '../queue/job-queue.js';
import type { ExecutorDependencies, ExpressionDocument } from './node-executors.js';
import type { NodeRow, RunChange, RunRow, RunStore } from './run-store.js';
import { isTerminal, type NodeRunState } from './scheduler.js';

export const nodeQueue = 'workflow.node';
export const advanceQueue = 'workflow.advance';

export interface NodeJob {
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

export function nodeKey(runId: string, nodeId: string, iteration: number): string {
  return `${runId}:${nodeId}:${iteration}`;
}

export const finished = (status: string) => finishedWorkflowRunStatuses.includes(status as WorkflowRunStatus);

export function states(rows: readonly NodeRow[]): NodeRunState[] {
  return rows.map((row) => ({
    nodeId: row.node_id,
    iteration: Number(row.iteration),
    status: row.status as NodeRunStatus,
    taken: row.taken ? (JSON.parse(row.taken) as number[]) : null,
  }));
}

/** `waiting` while every node in progress waits (an approval, a delay, a call), else `running`. */
export function runStatus(rows: readonly Pick<NodeRow, 'status'>[]): WorkflowRunStatus {
  const open = rows.filter((row) => !isTerminal(row.status as NodeRunStatus));
  return open.length && open.every((row) => row.status === 'waiting') ? 'waiting' : 'running';
}

/**
 * What the parts of the workflow engine (the runs in run-engine.ts, the node runs in node-runner.ts, the waits in
 * waits.ts) share: the database and queue, this process's identity and what it holds in memory, the clock.
 */
export class EngineContext {
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  readonly graphs = new Map<string, ParsedGraph>();
  /** Nodes executing in this process, to stop them on cancel. */
  readonly inFlight = new Map<string, AbortController>();
  /** Aborted when the server stops: nodes run inline (outside a queue job) stop with it. */
  readonly stopping = new AbortController();

  constructor(
    readonly db: Kysely<Database>,
    readonly store: RunStore,
    readonly queue: JobQueue,
    readonly executors: ExecutorDependencies,
    readonly logger: Logger,
    readonly options: EngineOptions,
  ) {}

  now(): number {
    return this.options.clock.now();
  }

  iso(ms = this.now()): string {
    return new Date(ms).toISOString();
  }

  graph(run: RunRow): ParsedGraph {
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

  async setStatus(change: RunChange, status: WorkflowRunStatus): Promise<void> {
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

  async document(run: RunRow, rows?: readonly NodeRow[]): Promise<ExpressionDocument> {
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
}
