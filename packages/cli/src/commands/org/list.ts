import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output, printTable } from '../../output.js';

export function register(org: Command): void {
  org
    .command('list')
    .description('orgs you belong to')
    .action(async (_flags, command: Command) => {
      const list = await client(command).orgs.list();
      output(globalOptions(command).json, list, () =>
        printTable(
          list,
          [
            ['id', (item) => item.id],
            ['slug', (item) => item.slug],
            ['name', (item) => item.name],
            ['role', (item) => item.role],
          ],
          'No orgs.',
        ),
      );
    });
}
