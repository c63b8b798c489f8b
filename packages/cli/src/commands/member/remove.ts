import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output } from '../../output.js';

export function register(member: Command): void {
  member
    .command('remove <id>')
    .description('remove a member and revoke their keys')
    .action(async (id: string, _flags, command: Command) => {
      const removed = await client(command).members.remove(id);
      output(globalOptions(command).json, removed, () => process.stdout.write(`Removed ${id}\n`));
    });
}
