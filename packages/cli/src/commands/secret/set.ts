import { readFileSync } from 'node:fs';
import type { SecretCategory } from '@runtools/sdk';
import type { Command } from 'commander';
import { client, globalOptions, readStdin } from '../../context.js';
import { UserError } from '../../errors.js';
import { output } from '../../output.js';

const categories = ['provider', 'tool', 'custom'];

export function register(secret: Command): void {
  secret
    .command('set <name> [value]')
    .description('create or replace a secret (value from the argument, --from-file, or stdin when "-" or omitted)')
    .option('--category <category>', 'provider, tool or custom (default custom)')
    .option('--from-file <path>', 'read the value from a file')
    .action(
      async (
        name: string,
        value: string | undefined,
        flags: { category?: string; fromFile?: string },
        command: Command,
      ) => {
        if (flags.category && !categories.includes(flags.category)) {
          throw new UserError(`--category must be one of ${categories.join(', ')}`);
        }
        let secretValue = value;
        if (flags.fromFile) {
          if (value !== undefined) throw new UserError('give the value or --from-file, not both');
          secretValue = readFileSync(flags.fromFile, 'utf8');
        } else if (value === undefined || value === '-') {
          if (value === undefined && process.stdin.isTTY)
            throw new UserError('no value given', 'pass it as an argument, with --from-file, or on stdin');
          secretValue = (await readStdin()).replace(/\r?\n$/, '');
        }
        if (!secretValue) throw new UserError('the secret value is empty');
        const saved = await client(command).secrets.set(name, secretValue, {
          ...(flags.category ? { category: flags.category as SecretCategory } : {}),
        });
        output(globalOptions(command).json, saved, () =>
          process.stdout.write(`Saved ${saved.name} (${saved.category})\n`),
        );
      },
    );
}
