import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output, printRecord } from '../../output.js';

export function register(org: Command): void {
  org
    .command('create')
    .description('create an org you own; prints an owner key for it, shown this once')
    .requiredOption('--name <name>', 'display name')
    .option('--slug <slug>', 'URL handle (default: from the name)')
    .action(async (flags: { name: string; slug?: string }, command: Command) => {
      const created = await client(command).orgs.create({
        name: flags.name,
        ...(flags.slug ? { slug: flags.slug } : {}),
      });
      output(globalOptions(command).json, created, () => {
        printRecord([
          ['org', `${created.org.name} (${created.org.slug}, ${created.org.id})`],
          ['default project', created.project.id],
          ['owner key prefix', created.apiKey.prefix],
        ]);
        process.stdout.write(`\n${created.apiKey.key}\n\n`);
        process.stderr.write('Store this owner key now: it will not be shown again.\n');
      });
    });
}
