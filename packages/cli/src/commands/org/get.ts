import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output, printRecord } from '../../output.js';

export function register(org: Command): void {
  org
    .command('get <id>')
    .description('one org by id')
    .action(async (id: string, _flags, command: Command) => {
      const found = await client(command).orgs.get(id);
      output(globalOptions(command).json, found, () =>
        printRecord([
          ['id', found.id],
          ['name', found.name],
          ['slug', found.slug],
          ['your role', found.role],
          ['created', found.createdAt],
        ]),
      );
    });
}
