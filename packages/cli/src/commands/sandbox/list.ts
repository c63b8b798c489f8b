import { sandboxStates } from '@runtools/spec';
import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { UserError } from '../../errors.js';
import { output, printTable } from '../../output.js';
import { collectPair } from './pairs.js';

export function register(sandbox: Command): void {
  sandbox
    .command('list')
    .description("the org's sandboxes")
    .option('--status <status>', 'only sandboxes in this state')
    .option('--metadata <KEY=VALUE>', 'only sandboxes with this metadata (repeatable)', collectPair)
    .action(async (flags: { status?: string; metadata?: Record<string, string> }, command: Command) => {
      if (flags.status && !(sandboxStates as readonly string[]).includes(flags.status))
        throw new UserError(`--status must be one of ${sandboxStates.join(', ')}`);
      const list = await client(command).sandboxes.list({
        ...(flags.status ? { status: flags.status as 'running' } : {}),
        ...(flags.metadata ? { metadata: flags.metadata } : {}),
      });
      const records = list.map((item) => item.info);
      output(globalOptions(command).json, records, () =>
        printTable(
          records,
          [
            ['id', (item) => item.id],
            ['name', (item) => item.name],
            ['status', (item) => item.status],
            ['runtime', (item) => item.runtime],
            ['created', (item) => item.createdAt],
          ],
          'No sandboxes.',
        ),
      );
    });
}
