import type { ApprovalStatus } from '@runtools/sdk';
import type { Command } from 'commander';
import { shorten } from '../../agent-events.js';
import { registerList } from '../../command-kinds.js';
import { UserError } from '../../errors.js';

const statuses = ['pending', 'approved', 'rejected', 'timed_out', 'cancelled'];

export function register(workflow: Command): void {
  registerList(workflow, {
    name: 'approvals',
    description: 'approvals runs wait on, newest first (pending ones unless --status says otherwise)',
    options: (command) =>
      command
        .option('--status <status>', `${statuses.join(', ')}, or all`, 'pending')
        .option('--run <runId>', "only this run's"),
    fetch: (rt, flags: { status: string; run?: string }) => {
      if (flags.status !== 'all' && !statuses.includes(flags.status))
        throw new UserError(`--status must be one of ${statuses.join(', ')}, or all`);
      return rt.workflows.approvals.list({
        ...(flags.status !== 'all' ? { status: flags.status as ApprovalStatus } : {}),
        ...(flags.run ? { runId: flags.run } : {}),
      });
    },
    columns: [
      ['id', (item) => item.id],
      ['run', (item) => item.runId],
      ['workflow', (item) => item.workflow],
      ['node', (item) => item.nodeId],
      ['status', (item) => item.status],
      ['message', (item) => shorten(item.message, 60)],
      ['expires', (item) => item.expiresAt],
      ['created', (item) => item.createdAt],
    ],
    empty: 'No approvals.',
  });
}
