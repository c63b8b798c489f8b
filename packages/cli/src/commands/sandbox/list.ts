import { sandboxStates } from '@runtools/spec';
import type { Command } from 'commander';
import { registerList } from '../../command-kinds.js';
import { UserError } from '../../errors.js';
import { collectPair } from './pairs.js';

export function register(sandbox: Command): void {
  registerList(sandbox, {
    description: "the org's sandboxes",
    options: (command) =>
      command
        .option('--status <status>', 'only sandboxes in this state')
        .option('--metadata <KEY=VALUE>', 'only sandboxes with this metadata (repeatable)', collectPair),
    byProject: true,
    fetch: (rt, flags: { status?: string; metadata?: Record<string, string>; projectId?: string }) => {
      if (flags.status && !(sandboxStates as readonly string[]).includes(flags.status))
        throw new UserError(`--status must be one of ${sandboxStates.join(', ')}`);
      return rt.sandboxes
        .list({
          ...(flags.status ? { status: flags.status as 'running' } : {}),
          ...(flags.projectId ? { projectId: flags.projectId } : {}),
          ...(flags.metadata ? { metadata: flags.metadata } : {}),
        })
        .map((item) => item.info);
    },
    columns: [
      ['id', (item) => item.id],
      ['name', (item) => item.name],
      ['status', (item) => item.status],
      ['runtime', (item) => item.runtime],
      ['created', (item) => item.createdAt],
    ],
    empty: 'No sandboxes.',
  });
}
