import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { UserError } from '../../errors.js';
import { followWorkflowRun } from '../../workflow-events.js';

export function register(workflow: Command): void {
  workflow
    .command('events <runId>')
    .summary("a run's events: those so far, or followed live with -f")
    .description(
      "a run's events in order, one line each: `seq time type node attempt summary` (--json: one JSON object a " +
        'line). Without -f, the events stored so far; with -f, those and then live ones until the run ends, exiting ' +
        '0 when it completed, 1 when it failed, was cancelled or timed out, 130 on Ctrl-C (the run goes on)',
    )
    .option('-f, --follow', 'keep printing events until the run ends')
    .option('--after <seq>', 'only events after this sequence number')
    .action(async (runId: string, flags: { follow?: boolean; after?: string }, command: Command) => {
      let after: number | undefined;
      if (flags.after !== undefined) {
        after = Number(flags.after);
        if (!Number.isInteger(after) || after < 0) throw new UserError('--after must be a whole number');
      }
      const followed = await followWorkflowRun(client(command), runId, {
        output: globalOptions(command).json ? 'json' : 'human',
        follow: flags.follow ?? false,
        ...(after !== undefined ? { after } : {}),
      });
      process.exitCode = followed.code;
    });
}
