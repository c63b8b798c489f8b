import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output, printRecord } from '../../output.js';

export function register(project: Command): void {
  project
    .command('get <id>')
    .description('one project by id')
    .action(async (id: string, _flags, command: Command) => {
      const found = await client(command).projects.get(id);
      output(globalOptions(command).json, found, () =>
        printRecord([
          ['id', found.id],
          ['name', found.name],
          ['slug', found.slug],
          ['default', found.isDefault],
          ['created', found.createdAt],
        ]),
      );
    });
}
