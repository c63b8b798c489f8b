import type { Command } from 'commander';
import { listFrom, registerList } from '../../command-kinds.js';
import { client, globalOptions } from '../../context.js';
import { output } from '../../output.js';

const mebibytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** `sandbox snapshot|snapshots|snapshot-delete|rollback|branch`: state saved, listed, restored, forked. */
export function register(sandbox: Command): void {
  sandbox
    .command('snapshot <id>')
    .description('snapshot a sandbox: its files, and its processes on gvisor; it keeps running')
    .option('--name <name>', 'a name to roll back or branch by')
    .action(async (id: string, flags: { name?: string }, command: Command) => {
      const found = await client(command).sandboxes.get(id);
      const snapshot = await found.snapshot(flags.name ? { name: flags.name } : {});
      output(globalOptions(command).json, snapshot, () =>
        process.stdout.write(
          `${snapshot.id} ${mebibytes(snapshot.sizeBytes)}${snapshot.memory ? '' : ' (files only)'}\n`,
        ),
      );
    });

  registerList(sandbox, {
    name: 'snapshots <id>',
    description: "list a sandbox's snapshots, oldest first",
    fetch: (rt, _flags, [id]) =>
      listFrom(
        () => rt.sandboxes.get(id as string),
        (found) => found.snapshots.list(),
      ),
    columns: [
      ['id', (row) => row.id],
      ['name', (row) => row.name ?? '-'],
      ['memory', (row) => (row.memory ? 'yes' : 'files only')],
      ['size', (row) => mebibytes(row.sizeBytes)],
      ['created', (row) => row.createdAt],
    ],
    empty: 'no snapshots',
  });

  sandbox
    .command('snapshot-delete <id> <snapshot>')
    .description('delete a snapshot of a sandbox')
    .action(async (id: string, snapshot: string, _flags, command: Command) => {
      const found = await client(command).sandboxes.get(id);
      await found.snapshots.delete(snapshot);
      output(globalOptions(command).json, { id: snapshot, deleted: true }, () =>
        process.stdout.write(`${snapshot} deleted\n`),
      );
    });

  sandbox
    .command('rollback <id> <snapshot>')
    .description('put a sandbox back to a snapshot (id or name), in place')
    .action(async (id: string, snapshot: string, _flags, command: Command) => {
      const found = await client(command).sandboxes.get(id);
      const record = await found.rollback({ snapshot });
      output(globalOptions(command).json, record, () => process.stdout.write(`${record.id} ${record.status}\n`));
    });

  sandbox
    .command('branch <id> <snapshot>')
    .description("a new sandbox from one of this sandbox's snapshots (id or name)")
    .option('--name <name>', 'a name for the new sandbox')
    .action(async (id: string, snapshot: string, flags: { name?: string }, command: Command) => {
      const found = await client(command).sandboxes.get(id);
      const branched = await found.branch({ snapshot, ...(flags.name ? { name: flags.name } : {}) });
      output(globalOptions(command).json, branched.info, () =>
        process.stdout.write(`${branched.id} ${branched.status}\n`),
      );
    });
}
