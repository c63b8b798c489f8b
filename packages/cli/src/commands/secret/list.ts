import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output, printTable } from '../../output.js';

export function register(secret: Command): void {
  secret
    .command('list')
    .description('secret names and categories (never values)')
    .action(async (_flags, command: Command) => {
      const list = await client(command).secrets.list();
      output(globalOptions(command).json, list, () =>
        printTable(
          list,
          [
            ['name', (item) => item.name],
            ['category', (item) => item.category],
            ['updated', (item) => item.updatedAt],
          ],
          'No secrets.',
        ),
      );
    });
}
