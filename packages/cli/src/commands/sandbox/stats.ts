import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output, printRecord } from '../../output.js';

const mebibytes = (bytes: number | null) => (bytes === null ? '-' : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);

export function register(sandbox: Command): void {
  sandbox
    .command('stats <id>')
    .description('CPU time, memory, disk and processes of a sandbox now')
    .action(async (id: string, _flags, command: Command) => {
      const stats = await (await client(command).sandboxes.get(id)).stats();
      output(globalOptions(command).json, stats, () =>
        printRecord([
          ['cpu', stats.cpuSeconds === null ? '-' : `${stats.cpuSeconds.toFixed(2)} s`],
          ['memory', `${mebibytes(stats.memoryBytes)} of ${mebibytes(stats.memoryLimitBytes)}`],
          [
            'disk',
            stats.diskLimitBytes === null
              ? mebibytes(stats.diskBytes)
              : `${mebibytes(stats.diskBytes)} of ${mebibytes(stats.diskLimitBytes)}`,
          ],
          ['processes', stats.processes === null ? '-' : stats.processes],
        ]),
      );
    });
}
