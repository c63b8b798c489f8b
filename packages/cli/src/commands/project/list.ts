import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output, printTable } from '../../output.js';

export function register(project: Command): void {
  project
    .command('list')
    .description("the org's projects")
    .action(async (_flags, command: Command) => {
      const list = await client(command).projects.list();
      output(globalOptions(command).json, list, () =>
        printTable(
          list,
          [
            ['id', (item) => item.id],
            ['slug', (item) => item.slug],
            ['name', (item) => item.name],
            ['default', (item) => (item.isDefault ? 'yes' : '')],
          ],
          'No projects.',
        ),
      );
    });
}
