import { EventEmitter } from 'node:events';
import type {
  NodeRun,
  NodeRunStatus,
  WorkflowEvent,
  WorkflowEventType,
  WorkflowRun,
  WorkflowRunStatus,
} from '@runtools/spec';
import type { Kysely, Transaction, Updateable } from 'kysely';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { nowIso } from '../ids.js';

/** An event's data larger than this (as JSON) is stored as a reference to the node run that holds it whole. */
export const maxEventDataBytes = 64 * 1024;
/** A node's output larger than this fails the node: outputs are documents, not files. */
export const maxNodeOutputBytes = 4 * 1024 * 1024;

export interface EventInput {
  type: WorkflowEventType;
  nodeId?: string | null;
  iteration?: number | null;
  attempt?: number | null;
  data?: unknown;
  childRunId?: string | null;
}

export type RunRow = Database['workflow_runs'];
export type NodeRow = Database['workflow_node_runs'];

/** The writer of one change to a run: its rows in a transaction, and the events that say what changed. */
export interface RunChange {
  trx: Transaction<Database>;
  run: RunRow;
  emit(event: EventInput): void;
  /** The next completion number (the order node completions happened in). */
  nextCompletion(): number;
}

function boundedData(runId: string, event: EventInput): string | null {
  if (event.data === undefined) return null;
  const json = JSON.stringify(event.data);
  if (json === undefined) return null;
  if (Buffer.byteLength(json) <= maxEventDataBytes) return json;
  return JSON.stringify({
    truncated: true,
    size: Buffer.byteLength(json),
    outputRef: event.nodeId ? `/v1/workflow-runs/${runId}#${event.nodeId}:${event.iteration ?? 0}` : null,
  });
}

type Executor = Kysely<Database> | Transaction<Database>;

/** One node run's row (read inside a change, to decide on what is stored now). */
export function nodeRowIn(
  db: Executor,
  runId: string,
  nodeId: string,
  iteration: number,
): Promise<NodeRow | undefined> {
  return db
    .selectFrom('workflow_node_runs')
    .selectAll()
    .where('run_id', '=', runId)
    .where('node_id', '=', nodeId)
    .where('iteration', '=', iteration)
    .executeTakeFirst();
}

/** Changes one node run's row. */
export async function updateNodeRow(
  db: Executor,
  runId: string,
  nodeId: string,
  iteration: number,
  values: Updateable<Database['workflow_node_runs']>,
): Promise<void> {
  await db
    .updateTable('workflow_node_runs')
    .set(values)
    .where('run_id', '=', runId)
    .where('node_id', '=', nodeId)
    .where('iteration', '=', iteration)
    .execute();
}

export function runFromRow(row: RunRow): WorkflowRun {
  return {
    runId: row.id,
    workflowId: row.workflow_id,
    workflow: row.workflow_slug,
    version: row.version === null ? null : Number(row.version),
    status: row.status as WorkflowRunStatus,
    input: JSON.parse(row.input) as unknown,
    output: row.output === null ? null : (JSON.parse(row.output) as unknown),
    error: row.error ? (JSON.parse(row.error) as WorkflowRun['error']) : null,
    trigger: { kind: row.trigger_kind as 'manual' | 'cron' | 'webhook', triggerId: row.trigger_id },
    startedBy: row.started_by,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

export function nodeFromRow(row: NodeRow): NodeRun {
  return {
    nodeId: row.node_id,
    type: row.type,
    iteration: Number(row.iteration),
    status: row.status as NodeRunStatus,
    attempt: Number(row.attempt),
    idempotencyKey: `${row.run_id}:${row.node_id}:${row.iteration}`,
    output: row.output === null ? null : (JSON.parse(row.output) as unknown),
    error: row.error ? (JSON.parse(row.error) as NodeRun['error']) : null,
    childRunId: row.child_run_id,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

export function eventFromRow(row: Database['workflow_events']): WorkflowEvent {
  return {
    seq: Number(row.seq),
    at: row.at,
    type: row.type as WorkflowEventType,
    runId: row.run_id,
    nodeId: row.node_id,
    iteration: row.iteration === null ? null : Number(row.iteration),
    attempt: row.attempt === null ? null : Number(row.attempt),
    data: row.data === null ? null : (JSON.parse(row.data) as unknown),
    childRunId: row.child_run_id,
  };
}

/**
 * The rows of workflow runs, and the one way to change them: `change()` runs a writer in a transaction that
 * first moves the run's revision on (so writers of one run take turns, on PostgreSQL across processes too),
 * and stores the writer's events with the next sequence numbers in the same transaction. An event is stored
 * before anyone can see it, and none is lost or numbered twice.
 */
export class RunStore {
  /** Wakes followers of a run in this process when events are stored. */
  readonly stored = new EventEmitter();

  constructor(private readonly db: Kysely<Database>) {
    this.stored.setMaxListeners(0);
  }

  async run(runId: string): Promise<RunRow | undefined> {
    return this.db.selectFrom('workflow_runs').selectAll().where('id', '=', runId).executeTakeFirst();
  }

  async nodes(runId: string): Promise<NodeRow[]> {
    return this.db.selectFrom('workflow_node_runs').selectAll().where('run_id', '=', runId).execute();
  }

  async node(runId: string, nodeId: string, iteration: number): Promise<NodeRow | undefined> {
    return nodeRowIn(this.db, runId, nodeId, iteration);
  }

  /**
   * Runs `writer` as one change of the run. It is tried again (with the run read again) when another writer
   * changed the run first; `writer` must therefore read what it decides on inside the transaction.
   */
  async change<T>(runId: string, writer: (change: RunChange) => Promise<T>): Promise<T> {
    for (let tries = 0; ; tries++) {
      const result = await this.db.transaction().execute(async (trx) => {
        const before = await trx.selectFrom('workflow_runs').selectAll().where('id', '=', runId).executeTakeFirst();
        if (!before) throw new DomainError('workflow_run_not_found', `no workflow run ${runId}`, { runId });
        // Taking the row first: on PostgreSQL a second writer waits here, then finds the revision moved on.
        const moved = await trx
          .updateTable('workflow_runs')
          .set({ revision: Number(before.revision) + 1 })
          .where('id', '=', runId)
          .where('revision', '=', before.revision)
          .executeTakeFirst();
        if (Number(moved.numUpdatedRows) !== 1) return { retry: true as const };
        const run = { ...before, revision: Number(before.revision) + 1 };
        const events: EventInput[] = [];
        let completion = Number(before.completion_seq);
        const value = await writer({
          trx,
          run,
          emit: (event) => events.push(event),
          nextCompletion: () => ++completion,
        });
        const at = nowIso();
        const seq = Number(before.event_seq);
        if (events.length)
          await trx
            .insertInto('workflow_events')
            .values(
              events.map((event, index) => ({
                run_id: runId,
                seq: seq + index + 1,
                type: event.type,
                node_id: event.nodeId ?? null,
                iteration: event.iteration ?? null,
                attempt: event.attempt ?? null,
                data: boundedData(runId, event),
                child_run_id: event.childRunId ?? null,
                at,
              })),
            )
            .execute();
        await trx
          .updateTable('workflow_runs')
          .set({ event_seq: seq + events.length, completion_seq: completion, updated_at: at })
          .where('id', '=', runId)
          .execute();
        return { retry: false as const, value, events: events.length };
      });
      if (!result.retry) {
        if (result.events) this.stored.emit(runId);
        return result.value;
      }
      if (tries > 1000) throw new Error(`workflow run ${runId}: could not take a turn to change it`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async events(runId: string, after: number, limit = 1000): Promise<WorkflowEvent[]> {
    const rows = await this.db
      .selectFrom('workflow_events')
      .selectAll()
      .where('run_id', '=', runId)
      .where('seq', '>', after)
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map(eventFromRow);
  }
}
