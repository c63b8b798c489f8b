import { RunTools } from '@runtools/sdk';
import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output, printRecord } from '../../output.js';

export function register(member: Command): void {
  member
    .command('accept <token>')
    .description(
      'accept an invitation with your own key (you join its org and get a key for it); --new-account if you have none',
    )
    .option('--new-account', 'you have no account yet: create one for the invited email')
    .action(async (token: string, flags: { newAccount?: boolean }, command: Command) => {
      const options = globalOptions(command);
      const accepted = flags.newAccount
        ? await RunTools.signUp({ token, ...(options.url ? { baseUrl: options.url } : {}) })
        : await client(command).members.acceptInvitation(token);
      output(options.json, accepted, () => {
        printRecord([
          ['org', `${accepted.org.name} (${accepted.org.slug}, ${accepted.org.id})`],
          ['member', `${accepted.member.email} (${accepted.member.role}, ${accepted.member.id})`],
          ['key prefix', accepted.apiKey.prefix],
        ]);
        process.stdout.write(`\n${accepted.apiKey.key}\n\n`);
        process.stderr.write(
          'This key acts in that org; it is shown this once. Use it with `runtools login --api-key <key>`.\n',
        );
      });
    });
}
