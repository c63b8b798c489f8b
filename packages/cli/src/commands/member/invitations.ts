import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output, printTable } from '../../output.js';

export function register(member: Command): void {
  member
    .command('invitations')
    .description("the org's invitations, newest first, with their status")
    .action(async (_flags, command: Command) => {
      const list = await client(command).members.invitations();
      output(globalOptions(command).json, list, () =>
        printTable(
          list,
          [
            ['id', (item) => item.id],
            ['email', (item) => item.email],
            ['role', (item) => item.role],
            ['status', (item) => item.status],
            ['expires', (item) => item.expiresAt],
          ],
          'No invitations.',
        ),
      );
    });
  member
    .command('uninvite <id>')
    .description('revoke an invitation nobody has accepted yet')
    .action(async (id: string, _flags, command: Command) => {
      const result = await client(command).members.revokeInvitation(id);
      output(globalOptions(command).json, result, () => process.stdout.write(`Revoked ${id}\n`));
    });
}
