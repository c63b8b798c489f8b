import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output, printRecord } from '../../output.js';

const MiB = 1024 ** 2;
const mebibytes = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

export function register(org: Command): void {
  org
    .command('usage')
    .description("your org's storage against its quota: sandbox disks, snapshots and workspaces")
    .action(async (_flags, command: Command) => {
      const usage = await client(command).orgs.usage();
      output(globalOptions(command).json, usage, () =>
        printRecord([
          ['used', mebibytes(usage.usedBytes)],
          ['quota', usage.quotaBytes === null ? 'none' : mebibytes(usage.quotaBytes)],
          ['sandbox disks', `${mebibytes(usage.sandboxDiskBytes)} (${usage.sandboxes} sandboxes)`],
          ['snapshots', `${mebibytes(usage.snapshotBytes)} (${usage.snapshots})`],
          ['workspaces', `${mebibytes(usage.workspaceBytes)} (${usage.workspaces})`],
        ]),
      );
    });
}
