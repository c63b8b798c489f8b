import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { UserError } from '../../errors.js';
import { output } from '../../output.js';

export function register(workflow: Command): void {
  workflow
    .command('publish <slug>')
    .description('freeze the draft as the next immutable version; new runs and triggers on "latest" use it')
    .option('--visibility <visibility>', 'org (every member, the default) or private (you and admins)', 'org')
    .option('--note <text>', 'what changed')
    .action(async (slug: string, flags: { visibility: string; note?: string }, command: Command) => {
      if (flags.visibility !== 'org' && flags.visibility !== 'private')
        throw new UserError(`--visibility must be org or private, not "${flags.visibility}"`);
      const version = await client(command).workflows.publish(slug, {
        visibility: flags.visibility,
        ...(flags.note !== undefined ? { note: flags.note } : {}),
      });
      output(globalOptions(command).json, version, () =>
        process.stdout.write(`published ${version.slug} v${version.version} (${version.visibility})\n`),
      );
    });
}
