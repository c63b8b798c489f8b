import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output } from '../../output.js';

export function register(project: Command): void {
  project
    .command('delete <id>')
    .description('delete a project (not the default one)')
    .action(async (id: string, _flags, command: Command) => {
      const deleted = await client(command).projects.delete(id);
      output(globalOptions(command).json, deleted, () => process.stdout.write(`Deleted ${id}\n`));
    });
}
