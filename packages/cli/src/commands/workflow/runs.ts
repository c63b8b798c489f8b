import type { WorkflowRunStatus } from '@runtools/sdk';
import type { Command } from 'commander';
import { registerList } from '../../command-kinds.js';
import { UserError } from '../../errors.js';

const statuses = ['queued', 'running', 'waiting', 'completed', 'failed', 'cancelled', 'timed_out'];

export function register(workflow: Command): void {
  registerList(workflow, {
    name: 'runs',
    description: 'workflow runs, newest first',
    options: (command) =>
      command
        .option('--workflow <slug>', "only this workflow's")
        .option('--status <status>', `only these: ${statuses.join(', ')}`),
    fetch: (rt, flags: { workflow?: string; status?: string }) => {
      if (flags.status !== undefined && !statuses.includes(flags.status))
        throw new UserError(`--status must be one of ${statuses.join(', ')}`);
      return rt.workflows.runs.list({
        ...(flags.workflow ? { workflow: flags.workflow } : {}),
        ...(flags.status ? { status: flags.status as WorkflowRunStatus } : {}),
      });
    },
    columns: [
      ['run', (item) => item.runId],
      ['workflow', (item) => `${item.workflow} ${item.version === null ? 'draft' : `v${item.version}`}`],
      ['status', (item) => item.status],
      ['trigger', (item) => item.trigger.kind],
      ['created', (item) => item.createdAt],
      ['finished', (item) => item.finishedAt],
    ],
    empty: 'No runs.',
  });
}
