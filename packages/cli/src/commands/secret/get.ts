import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output } from '../../output.js';

export function register(secret: Command): void {
  secret
    .command('get <name>')
    .description("print a secret's value (needs secrets:read)")
    .action(async (name: string, _flags, command: Command) => {
      const found = await client(command).secrets.get(name);
      output(globalOptions(command).json, found, () => process.stdout.write(`${found.value}\n`));
    });
}
