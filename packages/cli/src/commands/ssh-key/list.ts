import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output, printTable } from '../../output.js';

export function register(sshKey: Command): void {
  sshKey
    .command('list')
    .description("the org's SSH public keys")
    .action(async (_flags, command: Command) => {
      const list = await client(command).sshKeys.list();
      output(globalOptions(command).json, list, () =>
        printTable(
          list,
          [
            ['id', (key) => key.id],
            ['name', (key) => key.name],
            ['type', (key) => key.algorithm],
            ['fingerprint', (key) => key.fingerprint],
            ['comment', (key) => key.comment],
          ],
          'No SSH keys.',
        ),
      );
    });
}
