import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output } from '../../output.js';

export function register(workflow: Command): void {
  workflow
    .command('cancel <runId>')
    .description('cancel a run: nodes in flight are stopped, waits end, pending approvals are cancelled')
    .action(async (runId: string, _flags, command: Command) => {
      const run = await client(command).workflows.runs.cancel(runId);
      output(globalOptions(command).json, run, () => process.stdout.write(`${run.runId} ${run.status}\n`));
    });
}
