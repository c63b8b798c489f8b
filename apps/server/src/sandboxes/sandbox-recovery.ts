import type { DriverName } from '@runtools/runtime';
import type { SandboxContext } from './sandbox-context.js';
import type { SandboxSnapshots } from './sandbox-snapshots.js';

/**
 * What a restart left behind, settled once when the server starts (before it serves): this host's sandboxes
 * are matched with what their runtime still runs, and snapshots and rollbacks caught half-done are finished.
 */
export class SandboxRecovery {
  constructor(
    private readonly context: SandboxContext,
    private readonly snapshots: SandboxSnapshots,
  ) {}

  /**
   * After a restart: sandboxes this host was running are re-attached when their runtime still runs them and
   * become `suspected_missing` when it does not; a create or destroy the restart interrupted is settled.
   */
  async recover(): Promise<{ reattached: number; missing: number; settled: number }> {
    await this.snapshots.recover();
    const rows = await this.context.db
      .selectFrom('sandboxes')
      .selectAll()
      .where('host_id', '=', this.context.hostId)
      .where('status', 'in', ['creating', 'running', 'pausing', 'paused', 'resuming', 'destroying'])
      .execute();
    const counts = { reattached: 0, missing: 0, settled: 0 };
    for (const row of rows) {
      const driver = this.context.drivers[row.runtime as DriverName];
      if (row.status === 'creating') {
        await driver?.destroy(row.id).catch(() => {});
        await this.context.setStatus(row.id, 'failed', 'the control plane stopped while the sandbox was being created');
        counts.settled++;
        continue;
      }
      if (row.status === 'destroying') {
        await driver?.destroy(row.id).catch(() => {});
        await this.context.setStatus(row.id, 'destroyed');
        counts.settled++;
        continue;
      }
      const rollback =
        row.status === 'resuming' ? /^rolling back to (snp_[a-z2-7]+)/.exec(row.status_reason ?? '') : null;
      if (driver && rollback?.[1]) {
        // A rollback is redone from the start: the snapshot is whole, whatever state the layer was left in.
        const done = await this.snapshots.rollbackTo(row, rollback[1]).then(
          () => true,
          () => false,
        );
        counts[done ? 'reattached' : 'missing']++;
        continue;
      }
      const state = driver ? await driver.recover(row.id).catch(() => 'missing' as const) : 'missing';
      if (driver && row.paused_to === 'filesystem' && row.status !== 'running' && state === 'missing') {
        // Stopped with its files kept, as a pause to the filesystem leaves it (or a resume had not yet started).
        if (row.status !== 'paused') await this.context.setStatus(row.id, 'paused');
        counts.reattached++;
      } else if (state === 'saved') {
        await this.context.db.updateTable('sandboxes').set({ paused_to: 'disk' }).where('id', '=', row.id).execute();
        if (row.status !== 'paused') await this.context.setStatus(row.id, 'paused');
        counts.reattached++;
      } else if (state === 'paused' && (row.status === 'running' || row.status === 'resuming')) {
        // Frozen by a snapshot or a resume the restart interrupted: thawed, as it was meant to be.
        await driver?.resume(row.id);
        if (row.status !== 'running') await this.context.setStatus(row.id, 'running');
        counts.reattached++;
      } else if (state === 'running' || state === 'paused') {
        if (state === 'paused')
          await this.context.db
            .updateTable('sandboxes')
            .set({ paused_to: 'memory' })
            .where('id', '=', row.id)
            .execute();
        if (row.status !== state) await this.context.setStatus(row.id, state);
        counts.reattached++;
      } else {
        await this.context.setStatus(
          row.id,
          'suspected_missing',
          driver ? 'the runtime no longer runs this sandbox' : `the ${row.runtime} runtime is unavailable`,
        );
        counts.missing++;
      }
    }
    if (rows.length > 0) this.context.options.logger.info(counts, 'sandboxes recovered');
    return counts;
  }
}
