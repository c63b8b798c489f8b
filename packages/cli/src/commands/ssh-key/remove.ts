import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output } from '../../output.js';

export function register(sshKey: Command): void {
  sshKey
    .command('remove <id>')
    .description('remove an SSH public key')
    .action(async (id: string, _flags, command: Command) => {
      const removed = await client(command).sshKeys.remove(id);
      output(globalOptions(command).json, removed, () => process.stdout.write(`Removed ${id}\n`));
    });
}
