import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output } from '../../output.js';

export function register(project: Command): void {
  project
    .command('create')
    .description('create a project')
    .requiredOption('--name <name>', 'display name')
    .option('--slug <slug>', 'URL handle (default: from the name)')
    .action(async (flags: { name: string; slug?: string }, command: Command) => {
      const created = await client(command).projects.create({
        name: flags.name,
        ...(flags.slug ? { slug: flags.slug } : {}),
      });
      output(globalOptions(command).json, created, () =>
        process.stdout.write(`Created ${created.slug} (${created.id})\n`),
      );
    });
}
