import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output, printTable } from '../../output.js';

export function register(member: Command): void {
  member
    .command('list')
    .description("the org's members and roles")
    .action(async (_flags, command: Command) => {
      const list = await client(command).members.list();
      output(globalOptions(command).json, list, () =>
        printTable(
          list,
          [
            ['id', (item) => item.id],
            ['email', (item) => item.email],
            ['role', (item) => item.role],
          ],
          'No members.',
        ),
      );
    });
}
