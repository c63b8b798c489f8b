import type { RunEvent, TokenUsage } from '@runtools/spec';
import type { Kysely, Transaction, Updateable } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../db/schema.js';
import { nowIso } from '../ids.js';

/** Events are written to the database in batches this often, and at each step's and the run's end. */
const flushIntervalMs = 50;

export type EventBody = RunEvent extends infer Event
  ? Event extends RunEvent
    ? Omit<Event, 'seq' | 'at'>
    : never
  : never;

/**
 * Why a run's loop was stopped before its end: a cancel, its caller's rights gone, the server stopping (the
 * run is left for the next process to resume), or its lease lost to another process (which now runs it).
 */
export type StopCause = 'cancelled' | 'authority' | 'stopping' | 'lost';

/** A run this process holds: its events so far (followers read them from here), its lease, how to stop it. */
export interface LiveRun {
  id: string;
  /** Every event of the run, from seq 1: those a previous holder stored, then this process's. */
  events: RunEvent[];
  persisted: number;
  wake: Set<() => void>;
  abort: AbortController;
  stop: StopCause | undefined;
  ended: boolean;
  /** Steps and token usage so far (the row has them as of the last finished step). */
  progress: { steps: number; usage: TokenUsage };
  /** The last write in order; never rejects (a failed write is retried by the next). */
  writing: Promise<void>;
  timer: NodeJS.Timeout | undefined;
}

/** A finished step as it is stored for resuming. */
export interface StepRecord {
  step: number;
  messages: unknown[];
  finishReason: string | null;
  text: string | null;
  usage: TokenUsage;
}

/** What a write changes besides storing the pending events and renewing the lease, in the same transaction. */
export interface RunWrite {
  set?: Updateable<Database['agent_runs']>;
  step?: StepRecord;
  /** More writes that must stand or fall with these (the thread's messages at the run's end). */
  also?: (trx: Transaction<Database>) => Promise<void>;
}

export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}

/** Resolves at the run's next event (or its end). */
export function nextWake(live: LiveRun): Promise<void> {
  return new Promise((resolve) => {
    const wake = () => {
      live.wake.delete(wake);
      resolve();
    };
    live.wake.add(wake);
  });
}

export async function whenEnded(live: LiveRun): Promise<void> {
  while (!live.ended) await nextWake(live);
}

export function eventFromRow(row: { type: string; seq: number; data: string }): RunEvent {
  return { ...(JSON.parse(row.data) as object), type: row.type, seq: Number(row.seq) } as RunEvent;
}

/**
 * The event log and the lease of the runs this process holds. Every write goes through `write`, in order,
 * and is conditional on the lease: one statement renews it (and reads whether a cancel was asked) where this
 * process is still the owner, and only then are the events, a finished step or the run's end stored, in one
 * transaction. A process that lost its lease (it stalled past it and another took the run over) writes
 * nothing more, so two holders never interleave their events.
 */
export class RunLog {
  constructor(
    private readonly db: Kysely<Database>,
    readonly owner: string,
    private readonly leaseMs: number,
    private readonly logger: Logger,
  ) {}

  leaseEnd(): string {
    return new Date(Date.now() + this.leaseMs).toISOString();
  }

  /** A run taken by this process, with the events a previous holder stored (its seq goes on after them). */
  open(runId: string, stored: RunEvent[], progress: LiveRun['progress']): LiveRun {
    return {
      id: runId,
      events: stored,
      persisted: stored.length,
      wake: new Set(),
      abort: new AbortController(),
      stop: undefined,
      ended: false,
      progress,
      writing: Promise.resolve(),
      timer: undefined,
    };
  }

  emit(live: LiveRun, event: EventBody): void {
    live.events.push({ ...event, seq: live.events.length + 1, at: nowIso() } as RunEvent);
    for (const wake of live.wake) wake();
    live.timer ??= setTimeout(() => {
      live.timer = undefined;
      this.write(live).catch((error: unknown) =>
        this.logger.warn({ err: error, runId: live.id }, 'storing run events failed'),
      );
    }, flushIntervalMs);
  }

  /** Stops the run's loop; the first cause wins (a cancel is not turned into a stop by a later shutdown). */
  stop(live: LiveRun, cause: StopCause, reason: unknown = new Error(cause)): void {
    if (live.stop) return;
    live.stop = cause;
    live.abort.abort(reason);
  }

  /**
   * Stores the events not yet stored (and what `change` says) if this process still holds the run, renewing
   * its lease. Answers false when it does not (the run is then stopped as lost); a cancel asked meanwhile
   * stops it as cancelled.
   */
  write(live: LiveRun, change: RunWrite = {}): Promise<boolean> {
    const done = live.writing.then(async () => {
      if (live.stop === 'lost') return false;
      const pending = live.events.slice(live.persisted);
      const held = await this.db.transaction().execute(async (trx) => {
        const lease = await trx
          .updateTable('agent_runs')
          .set({ lease_expires_at: this.leaseEnd(), ...change.set })
          .where('id', '=', live.id)
          .where('owner', '=', this.owner)
          .returning('cancel_requested_at')
          .executeTakeFirst();
        if (!lease) return undefined;
        if (pending.length)
          await trx
            .insertInto('run_events')
            .values(
              pending.map(({ seq, type, ...data }) => ({ run_id: live.id, seq, type, data: JSON.stringify(data) })),
            )
            .execute();
        if (change.step)
          await trx
            .insertInto('agent_run_steps')
            .values({
              run_id: live.id,
              step: change.step.step,
              messages: JSON.stringify(change.step.messages),
              finish_reason: change.step.finishReason,
              text: change.step.text,
              input_tokens: change.step.usage.inputTokens,
              output_tokens: change.step.usage.outputTokens,
              created_at: nowIso(),
            })
            .execute();
        await change.also?.(trx);
        return lease;
      });
      if (!held) {
        this.stop(live, 'lost', new LeaseLostError(`run ${live.id} is held by another process now`));
        return false;
      }
      live.persisted += pending.length;
      if (held.cancel_requested_at) this.stop(live, 'cancelled', new Error('cancelled'));
      return true;
    });
    live.writing = done.then(
      () => undefined,
      () => undefined,
    );
    return done;
  }

  /** The run's stored events after `after`, in order. */
  async stored(runId: string, after: number): Promise<RunEvent[]> {
    const rows = await this.db
      .selectFrom('run_events')
      .select(['type', 'seq', 'data'])
      .where('run_id', '=', runId)
      .where('seq', '>', after)
      .orderBy('seq')
      .execute();
    return rows.map(eventFromRow);
  }
}
