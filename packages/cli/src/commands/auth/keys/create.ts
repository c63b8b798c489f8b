import type { Command } from 'commander';
import { client, globalOptions } from '../../../context.js';
import { UserError } from '../../../errors.js';
import { output, printRecord } from '../../../output.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `30d`, `12h`, `45m` → an ISO time that far from now. */
export function expiryFromDuration(text: string, now = Date.now()): string {
  const match = /^(\d+)([dhm])$/.exec(text);
  if (!match) throw new UserError(`--expires-in must look like 30d, 12h or 45m, not "${text}"`);
  const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[match[2] as 'd' | 'h' | 'm'];
  return new Date(now + Number(match[1]) * unit).toISOString();
}

export function register(keys: Command): void {
  keys
    .command('create')
    .description('create an API key; it is shown this once')
    .requiredOption('--name <name>', 'what the key is for')
    .requiredOption('--scope <scope>', 'a scope such as secrets:read (repeat for more; * for everything)', collect)
    .option('--expires-at <time>', 'ISO time the key stops working')
    .option('--expires-in <duration>', 'how long the key works: 30d, 12h, 45m')
    .action(
      async (flags: { name: string; scope: string[]; expiresAt?: string; expiresIn?: string }, command: Command) => {
        if (flags.expiresAt && flags.expiresIn) throw new UserError('give --expires-at or --expires-in, not both');
        const expiresAt = flags.expiresIn ? expiryFromDuration(flags.expiresIn) : flags.expiresAt;
        const created = await client(command).auth.keys.create({
          name: flags.name,
          scopes: flags.scope,
          ...(expiresAt ? { expiresAt } : {}),
        });
        output(globalOptions(command).json, created, () => {
          printRecord([
            ['id', created.id],
            ['prefix', created.prefix],
            ['scopes', created.scopes],
            ['expires', created.expiresAt],
          ]);
          process.stdout.write(`\n${created.key}\n\n`);
          process.stderr.write('Store this key now: it will not be shown again.\n');
        });
      },
    );
}
