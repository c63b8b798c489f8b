import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output, printRecord } from '../../output.js';

export function register(program: Command): void {
  program
    .command('whoami')
    .description('the org, project, member and scopes of the API key in use')
    .action(async (_options, command: Command) => {
      const me = await client(command).auth.whoami();
      output(globalOptions(command).json, me, () =>
        printRecord([
          ['org', `${me.org.name} (${me.org.slug}, ${me.org.id})`],
          ['project', `${me.project.name} (${me.project.id})`],
          ['member', `${me.member.email} (${me.member.role})`],
          ['key', `${me.key.name} (${me.key.prefix})`],
          ['scopes', me.key.scopes],
        ]),
      );
    });
}
