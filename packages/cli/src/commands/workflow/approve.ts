import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output } from '../../output.js';

function decide(workflow: Command, verb: 'approve' | 'reject'): void {
  const approved = verb === 'approve';
  workflow
    .command(`${verb} <approvalId>`)
    .description(
      approved
        ? 'approve: the run goes on from the approval node'
        : "reject: the run takes the approval node's condition:false edge, or fails when it has none",
    )
    .option('--comment <text>', 'why, kept with the decision')
    .action(async (approvalId: string, flags: { comment?: string }, command: Command) => {
      const approval = await client(command).workflows.approvals.resolve(approvalId, {
        approved,
        ...(flags.comment !== undefined ? { comment: flags.comment } : {}),
      });
      output(globalOptions(command).json, approval, () =>
        process.stdout.write(`${approval.status} ${approval.id} (run ${approval.runId}, node ${approval.nodeId})\n`),
      );
    });
}

export function register(workflow: Command): void {
  decide(workflow, 'approve');
  decide(workflow, 'reject');
}
