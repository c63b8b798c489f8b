import type { Command } from 'commander';
import { client, globalOptions } from '../../../context.js';
import { output } from '../../../output.js';

export function register(keys: Command): void {
  keys
    .command('revoke <id>')
    .description('revoke an API key; it stops working at once')
    .action(async (id: string, _flags, command: Command) => {
      const key = await client(command).auth.keys.revoke(id);
      output(globalOptions(command).json, key, () => process.stdout.write(`Revoked ${key.id} (${key.prefix})\n`));
    });
}
