import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output } from '../../output.js';

export function register(sandbox: Command): void {
  for (const verb of ['pause', 'resume'] as const) {
    sandbox
      .command(`${verb} <id>`)
      .description(
        verb === 'pause'
          ? 'pause a running sandbox: saved to disk with its processes (gvisor) or frozen in memory (container)'
          : 'resume a paused sandbox where it was',
      )
      .action(async (id: string, _flags, command: Command) => {
        const found = await client(command).sandboxes.get(id);
        const record = verb === 'pause' ? await found.pause() : await found.resume();
        output(globalOptions(command).json, record, () => process.stdout.write(`${record.id} ${record.status}\n`));
      });
  }
}
