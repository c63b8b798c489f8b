import type { Command } from 'commander';
import { client, globalOptions } from '../../../context.js';
import { output, printTable } from '../../../output.js';

export function register(files: Command): void {
  files
    .command('ls <id> [path]')
    .description('list a directory inside a sandbox (default /)')
    .action(async (id: string, path: string | undefined, _flags, command: Command) => {
      const entries = await (await client(command).sandboxes.get(id)).files.list(path ?? '/');
      output(globalOptions(command).json, entries, () =>
        printTable(
          entries,
          [
            ['name', (entry) => (entry.type === 'dir' ? `${entry.name}/` : entry.name)],
            ['type', (entry) => entry.type],
            ['size', (entry) => entry.size],
          ],
          'Empty directory.',
        ),
      );
    });
}
