import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output } from '../../output.js';

export function register(secret: Command): void {
  secret
    .command('delete <name>')
    .description('delete a secret')
    .action(async (name: string, _flags, command: Command) => {
      const deleted = await client(command).secrets.delete(name);
      output(globalOptions(command).json, deleted, () => process.stdout.write(`Deleted ${name}\n`));
    });
}
