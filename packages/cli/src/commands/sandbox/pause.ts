import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { UserError } from '../../errors.js';
import { output } from '../../output.js';

const pauseModes = ['disk', 'memory', 'filesystem'] as const;

export function register(sandbox: Command): void {
  sandbox
    .command('pause <id>')
    .description('pause a running sandbox: saved to disk with its processes (gvisor) or frozen in memory (container)')
    .option('--to <how>', 'disk, memory, or filesystem (stopped with its files kept; processes start afresh)')
    .action(async (id: string, flags: { to?: string }, command: Command) => {
      const to = flags.to as (typeof pauseModes)[number] | undefined;
      if (to && !pauseModes.includes(to)) throw new UserError('--to must be disk, memory or filesystem');
      const record = await (await client(command).sandboxes.get(id)).pause(to ? { to } : {});
      output(globalOptions(command).json, record, () =>
        process.stdout.write(`${record.id} ${record.status} (${record.pausedTo})\n`),
      );
    });
  sandbox
    .command('resume <id>')
    .description('resume a paused sandbox where it was')
    .action(async (id: string, _flags, command: Command) => {
      const record = await (await client(command).sandboxes.get(id)).resume();
      output(globalOptions(command).json, record, () => process.stdout.write(`${record.id} ${record.status}\n`));
    });
}
