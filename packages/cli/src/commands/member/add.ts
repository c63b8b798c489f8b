import type { Role } from '@runtools/sdk';
import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { UserError } from '../../errors.js';
import { output, printRecord } from '../../output.js';

const roles = ['owner', 'admin', 'member'];

export function register(member: Command): void {
  member
    .command('add')
    .description('add a member; prints their first API key, shown this once')
    .requiredOption('--email <email>', 'their email')
    .option('--role <role>', 'owner, admin or member (default member)')
    .action(async (flags: { email: string; role?: string }, command: Command) => {
      if (flags.role && !roles.includes(flags.role)) throw new UserError(`--role must be one of ${roles.join(', ')}`);
      const added = await client(command).members.add({
        email: flags.email,
        ...(flags.role ? { role: flags.role as Role } : {}),
      });
      output(globalOptions(command).json, added, () => {
        printRecord([
          ['member', `${added.member.email} (${added.member.role}, ${added.member.id})`],
          ['key prefix', added.apiKey.prefix],
        ]);
        process.stdout.write(`\n${added.apiKey.key}\n\n`);
        process.stderr.write('Hand this key to the member now: it will not be shown again.\n');
      });
    });
}
