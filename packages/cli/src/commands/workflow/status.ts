import type { WorkflowRunDetail } from '@runtools/sdk';
import type { Command } from 'commander';
import { shorten } from '../../agent-events.js';
import { client, globalOptions } from '../../context.js';
import { output, printRecord, printTable } from '../../output.js';

function printRun(run: WorkflowRunDetail, pending: { id: string; message: string }[]): void {
  printRecord([
    ['run', run.runId],
    ['workflow', `${run.workflow} ${run.version === null ? 'draft' : `v${run.version}`}`],
    ['status', run.status],
    ['trigger', run.trigger.triggerId ? `${run.trigger.kind} ${run.trigger.triggerId}` : run.trigger.kind],
    ['started by', run.startedBy],
    ['created', run.createdAt],
    ['started', run.startedAt],
    ['finished', run.finishedAt],
    ['input', shorten(run.input)],
    ['output', run.output === null ? null : shorten(run.output)],
    [
      'error',
      run.error ? `${run.error.code}: ${run.error.message}${run.error.nodeId ? ` (${run.error.nodeId})` : ''}` : null,
    ],
    ...pending.map(
      (approval) => ['approval', `${approval.id} pending: ${shorten(approval.message, 100)}`] as [string, string],
    ),
  ]);
  process.stdout.write('\n');
  printTable(
    run.nodes,
    [
      ['node', (node) => (node.iteration ? `${node.nodeId}[${node.iteration}]` : node.nodeId)],
      ['type', (node) => node.type],
      ['status', (node) => node.status],
      ['attempt', (node) => node.attempt],
      ['finished', (node) => node.finishedAt],
      [
        'result',
        (node) =>
          node.error
            ? `${node.error.code}: ${node.error.message}`
            : node.output === null
              ? null
              : shorten(node.output, 60),
      ],
    ],
    'No node has started.',
  );
}

export function register(workflow: Command): void {
  workflow
    .command('status <runId>')
    .alias('run-get')
    .description(
      'one run: its status, input, output or error, the approvals it waits for, and each node with its status, ' +
        'attempt and result (--json: the run with its nodes); `workflow run-get` is the same command',
    )
    .action(async (runId: string, _flags, command: Command) => {
      const rt = client(command);
      const run = await rt.workflows.runs.get(runId);
      const json = globalOptions(command).json;
      const pending =
        !json && run.status === 'waiting'
          ? (await rt.workflows.approvals.list({ runId, status: 'pending' }).page({ limit: 20 })).data
          : [];
      output(json, run, () => printRun(run, pending));
    });
}
