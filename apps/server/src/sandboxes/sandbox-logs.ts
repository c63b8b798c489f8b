import { EventEmitter } from 'node:events';
import type { SandboxLogEntry, SandboxStatus } from '@runtools/spec';
import type { Kysely, Selectable } from 'kysely';
import type { Actor } from '../auth/actor.js';
import type { Database } from '../db/schema.js';
import { nowIso } from '../ids.js';
import { EventQueue } from './event-queue.js';
import type { SandboxContext } from './sandbox-context.js';

function logEntryFromRow(row: Selectable<Database['sandbox_logs']>): SandboxLogEntry {
  const data = JSON.parse(row.data) as Record<string, unknown>;
  return {
    seq: Number(row.seq),
    at: row.created_at,
    type: row.type as SandboxLogEntry['type'],
    message: row.message,
    ...(row.status ? { status: row.status as SandboxStatus } : {}),
    ...(Object.keys(data).length > 0 ? { data } : {}),
  };
}

/** Writes a sandbox's log and tells whoever follows it: every service writes through the shared one. */
export class SandboxLogWriter {
  /** Live sandbox log entries, by sandbox id. */
  private readonly followers = new EventEmitter().setMaxListeners(0);

  constructor(private readonly db: Kysely<Database>) {}

  /** Appends to the sandbox's log and tells its followers. */
  async append(
    id: string,
    entry: { type: SandboxLogEntry['type']; message: string; status?: SandboxStatus; data?: Record<string, unknown> },
  ): Promise<void> {
    const at = nowIso();
    const inserted = await this.db
      .insertInto('sandbox_logs')
      .values({
        sandbox_id: id,
        type: entry.type,
        message: entry.message,
        status: entry.status ?? null,
        data: JSON.stringify(entry.data ?? {}),
        created_at: at,
      })
      .returning('seq')
      .executeTakeFirstOrThrow();
    this.followers.emit(id, {
      seq: Number(inserted.seq),
      at,
      type: entry.type,
      message: entry.message,
      ...(entry.status ? { status: entry.status } : {}),
      ...(entry.data ? { data: entry.data } : {}),
    } satisfies SandboxLogEntry);
  }

  /** Calls `listener` with each entry written from now on; the answer stops it. */
  listen(id: string, listener: (entry: SandboxLogEntry) => void): () => void {
    this.followers.on(id, listener);
    return () => this.followers.off(id, listener);
  }
}

/** Reading a sandbox's log: a page of it, or all of it and then what follows as it is written. */
export class SandboxLogs {
  constructor(private readonly context: SandboxContext) {}

  async logs(auth: Actor, id: string, query: { after?: number | undefined; limit?: number | undefined }) {
    await this.context.row(auth, id);
    const rows = await this.context.db
      .selectFrom('sandbox_logs')
      .selectAll()
      .where('sandbox_id', '=', id)
      .where('seq', '>', query.after ?? 0)
      .orderBy('seq')
      .limit(query.limit ?? 1000)
      .execute();
    return rows.map(logEntryFromRow);
  }

  /** The log from `after` on, then new entries as they are written; ends after `destroyed`. */
  async followLogs(auth: Actor, id: string, after: number): Promise<AsyncIterable<SandboxLogEntry>> {
    await this.context.row(auth, id);
    let last = after;
    const pending: SandboxLogEntry[] = [];
    let replaying = true;
    const events = new EventQueue<SandboxLogEntry>(() => stop());
    const deliver = (entry: SandboxLogEntry) => {
      if (entry.seq <= last) return;
      last = entry.seq;
      events.push(entry);
      if (entry.type === 'status' && entry.status === 'destroyed') {
        stop();
        events.end();
      }
    };
    // Listening starts before the replay, so that nothing written during it is missed; what arrives meanwhile
    // waits, and `deliver` drops what the replay already gave.
    const stop = this.context.log.listen(id, (entry) => (replaying ? pending.push(entry) : deliver(entry)));
    for (;;) {
      const page = await this.logs(auth, id, { after: last, limit: 1000 });
      for (const entry of page) deliver(entry);
      if (page.length < 1000 || events.isEnded) break;
    }
    replaying = false;
    for (const entry of pending) deliver(entry);
    return events;
  }
}
