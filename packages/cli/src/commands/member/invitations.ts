import type { Command } from 'commander';
import { registerList } from '../../command-kinds.js';
import { client, globalOptions } from '../../context.js';
import { output } from '../../output.js';

export function register(member: Command): void {
  registerList(member, {
    name: 'invitations',
    description: "the org's invitations, newest first, with their status",
    fetch: (rt) => rt.members.invitations(),
    columns: [
      ['id', (item) => item.id],
      ['email', (item) => item.email],
      ['role', (item) => item.role],
      ['status', (item) => item.status],
      ['expires', (item) => item.expiresAt],
    ],
    empty: 'No invitations.',
  });
  member
    .command('uninvite <id>')
    .description('revoke an invitation nobody has accepted yet')
    .action(async (id: string, _flags, command: Command) => {
      const result = await client(command).members.revokeInvitation(id);
      output(globalOptions(command).json, result, () => process.stdout.write(`Revoked ${id}\n`));
    });
}
