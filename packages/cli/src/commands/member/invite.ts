import type { Role } from '@runtools/sdk';
import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { UserError } from '../../errors.js';
import { output, printRecord } from '../../output.js';

const roles = ['owner', 'admin', 'member'];

export function register(member: Command): void {
  member
    .command('invite <email>')
    .description('invite someone to the org; prints the token they accept with, shown this once')
    .option('--role <role>', 'owner, admin or member (default member)')
    .option('--expires-in-days <days>', 'how long the invitation stays open, 1 to 30 (default 7)')
    .action(async (email: string, flags: { role?: string; expiresInDays?: string }, command: Command) => {
      if (flags.role && !roles.includes(flags.role)) throw new UserError(`--role must be one of ${roles.join(', ')}`);
      const days = flags.expiresInDays === undefined ? undefined : Number(flags.expiresInDays);
      if (days !== undefined && !(Number.isInteger(days) && days >= 1 && days <= 30)) {
        throw new UserError('--expires-in-days must be a whole number from 1 to 30');
      }
      const created = await client(command).members.invite({
        email,
        ...(flags.role ? { role: flags.role as Role } : {}),
        ...(days !== undefined ? { expiresInDays: days } : {}),
      });
      output(globalOptions(command).json, created, () => {
        printRecord([
          ['invitation', created.invitation.id],
          ['email', `${created.invitation.email} (${created.invitation.role})`],
          ['expires', created.invitation.expiresAt],
        ]);
        process.stdout.write(`\n${created.token}\n\n`);
        process.stderr.write(
          'Hand this token to them now: it will not be shown again. They join with `runtools member accept <token>`\n' +
            '(logged in to their own account), or `runtools member accept <token> --new-account` if they have none.\n',
        );
      });
    });
}
