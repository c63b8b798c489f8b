import type { Command } from 'commander';
import { client, globalOptions } from '../../../context.js';
import { output, printTable } from '../../../output.js';

export function register(keys: Command): void {
  keys
    .command('list')
    .description('API keys by prefix (yours; all of the org for admins and owners)')
    .action(async (_flags, command: Command) => {
      const list = await client(command).auth.keys.list();
      output(globalOptions(command).json, list, () =>
        printTable(
          list,
          [
            ['id', (key) => key.id],
            ['name', (key) => key.name],
            ['prefix', (key) => key.prefix],
            ['scopes', (key) => key.scopes],
            ['expires', (key) => key.expiresAt],
            ['last used', (key) => key.lastUsedAt],
            ['revoked', (key) => key.revokedAt],
          ],
          'No API keys.',
        ),
      );
    });
}
