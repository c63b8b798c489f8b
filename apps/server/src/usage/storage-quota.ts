import type { StorageUsage } from '@runtools/spec';
import type { Kysely } from 'kysely';
import type { Actor } from '../auth/actor.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import type { WorkspaceStorage } from '../workspaces/workspace-service.js';

/** Sandboxes in these states hold no disk: their directory is gone (or never was). */
const diskless = ['destroyed', 'failed'];

/**
 * An org's storage against its quota. What counts: each live sandbox's disk limit (what it may fill, so
 * that a sandbox's own writes can never take the org past its quota), the bytes of its snapshots, and the
 * bytes of its workspaces counted now — a sandbox writes into a mounted workspace without the API seeing
 * it, so the workspace trees are walked at each check (by descriptors, never following a symlink: the
 * ConfinedTree's walk), not tallied from API writes.
 */
export class StorageQuota {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly workspaces: WorkspaceStorage,
    private readonly options: {
      /** Bytes an org may store; 0: no quota. */
      quotaBytes: number;
      /** The disk limit of a sandbox recorded without one (created before disk limits were the default). */
      defaultDiskBytes: number;
    },
  ) {}

  /** Disks of sandboxes being created (by sandbox id), counted from their check until their create ends. */
  private readonly reserved = new Map<string, { orgId: string; bytes: number }>();
  /** Each org's checks, one at a time: two creates cannot both see the room for one. */
  private readonly checks = new Map<string, Promise<unknown>>();

  async usage(auth: Actor): Promise<StorageUsage> {
    const rows = await this.db
      .selectFrom('sandboxes')
      .select(['id', 'disk_bytes'])
      .where('org_id', '=', auth.orgId)
      .where('status', 'not in', diskless)
      .execute();
    const snapshots = await this.db
      .selectFrom('sandbox_snapshots')
      .select(['size_bytes'])
      .where('org_id', '=', auth.orgId)
      .execute();
    const workspaces = await this.db.selectFrom('workspaces').select(['id']).where('org_id', '=', auth.orgId).execute();
    const sandboxes = [
      ...rows
        .filter((row) => !this.reserved.has(row.id))
        .map((row) => (row.disk_bytes === null ? this.options.defaultDiskBytes : Number(row.disk_bytes))),
      ...[...this.reserved.values()].filter((entry) => entry.orgId === auth.orgId).map((entry) => entry.bytes),
    ];
    const sandboxDiskBytes = sandboxes.reduce((sum, bytes) => sum + bytes, 0);
    const snapshotBytes = snapshots.reduce((sum, row) => sum + Number(row.size_bytes), 0);
    let workspaceBytes = 0;
    for (const workspace of workspaces) {
      // A workspace deleted between the query and its walk holds nothing.
      const counted = await this.workspaces.tree.usage(`/${workspace.id}`).catch(() => ({ bytes: 0 }));
      workspaceBytes += counted.bytes;
    }
    return {
      quotaBytes: this.options.quotaBytes > 0 ? this.options.quotaBytes : null,
      usedBytes: sandboxDiskBytes + snapshotBytes + workspaceBytes,
      sandboxDiskBytes,
      sandboxes: sandboxes.length,
      snapshotBytes,
      snapshots: snapshots.length,
      workspaceBytes,
      workspaces: workspaces.length,
    };
  }

  /**
   * Bytes the org may still store (Infinity without a quota); refuses with `storage_quota_exceeded` when
   * adding `bytes` (at least one: the org is full at its quota) would take it past its quota.
   */
  async ensure(auth: Actor, bytes: number, what: string): Promise<number> {
    return this.oneAtATime(auth.orgId, () => this.check(auth, bytes, what));
  }

  /**
   * Checks a new sandbox's disk against the quota and counts it until `release` (once its create has ended,
   * recorded or failed): concurrent creates of one org are checked one after the other, each seeing the others.
   */
  async reserve(auth: Actor, sandboxId: string, bytes: number, what: string): Promise<() => void> {
    await this.oneAtATime(auth.orgId, async () => {
      await this.check(auth, bytes, what);
      this.reserved.set(sandboxId, { orgId: auth.orgId, bytes });
    });
    return () => this.reserved.delete(sandboxId);
  }

  private async check(auth: Actor, bytes: number, what: string): Promise<number> {
    if (this.options.quotaBytes <= 0) return Number.POSITIVE_INFINITY;
    const usage = await this.usage(auth);
    const left = this.options.quotaBytes - usage.usedBytes;
    if (Math.max(bytes, 1) > left) throw quotaExceeded(this.options.quotaBytes, usage.usedBytes, bytes, what);
    return left;
  }

  private async oneAtATime<T>(orgId: string, task: () => Promise<T>): Promise<T> {
    const before = this.checks.get(orgId) ?? Promise.resolve();
    const run = before.then(task, task);
    const settled = run.catch(() => {});
    this.checks.set(orgId, settled);
    try {
      return await run;
    } finally {
      if (this.checks.get(orgId) === settled) this.checks.delete(orgId);
    }
  }
}

export function quotaExceeded(quotaBytes: number, usedBytes: number, bytes: number, what: string): DomainError {
  return new DomainError(
    'storage_quota_exceeded',
    `${what} needs ${bytes} bytes; the org stores ${usedBytes} of its ${quotaBytes}-byte storage quota (see GET /v1/usage)`,
    { quotaBytes, usedBytes, neededBytes: bytes },
  );
}
