import type { Command } from 'commander';
import { client, globalOptions } from '../../../context.js';
import { output, printRecord } from '../../../output.js';

export function register(keys: Command): void {
  keys
    .command('get <id>')
    .description('one API key by id')
    .action(async (id: string, _flags, command: Command) => {
      const key = await client(command).auth.keys.get(id);
      output(globalOptions(command).json, key, () =>
        printRecord([
          ['id', key.id],
          ['name', key.name],
          ['prefix', key.prefix],
          ['scopes', key.scopes],
          ['created', key.createdAt],
          ['expires', key.expiresAt],
          ['last used', key.lastUsedAt],
          ['revoked', key.revokedAt],
        ]),
      );
    });
}
