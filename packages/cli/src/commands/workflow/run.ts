import type { WorkflowRunOptions } from '@runtools/sdk';
import type { Command } from 'commander';
import { client, globalOptions, readStdin } from '../../context.js';
import { UserError } from '../../errors.js';
import { printJson } from '../../output.js';
import { followWorkflowRun, workflowExitCode } from '../../workflow-events.js';
import { inputFromFlags, versionFlag } from '../../workflow-files.js';

interface RunFlags {
  input?: string;
  inputFile?: string;
  version?: string;
  timeout?: string;
  idempotencyKey?: string;
  wait?: boolean;
  follow?: boolean;
}

export function register(workflow: Command): void {
  workflow
    .command('run <slug>')
    .summary('start a run and print its id (-f follows its events, --wait waits for its output)')
    .description(
      'start a run of the latest published version (or --version N, or draft) with an input document, and print ' +
        'its id. -f prints its events as `workflow events -f` does; --wait waits until it ends and prints its output ' +
        '(with --json: the run with its nodes). With -f or --wait it exits 0 when the run completed, 1 when it ' +
        'failed, was cancelled or timed out, 130 on Ctrl-C (which stops following; the run goes on)',
    )
    .option('--input <json>', 'the input document, a JSON object (default {})')
    .option('--input-file <file>', 'read the input document from a JSON file ("-" for stdin)')
    .option('--version <version>', 'a published version number, latest (the default) or draft')
    .option('--timeout <seconds>', 'fail the run as timed_out after this long')
    .option('--idempotency-key <key>', 'a retried start with the same key answers the first run')
    .option('--wait', 'wait for the run to end and print its output')
    .option('-f, --follow', 'print its events as they happen until it ends')
    .action(async (slug: string, flags: RunFlags, command: Command) => {
      const input = (await inputFromFlags(flags, readStdin)) ?? {};
      const version = versionFlag(flags.version, true);
      let timeoutSeconds: number | undefined;
      if (flags.timeout !== undefined) {
        timeoutSeconds = Number(flags.timeout);
        if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1)
          throw new UserError('--timeout must be a whole number of seconds');
      }
      const options: WorkflowRunOptions = {
        ...(version !== undefined ? { version } : {}),
        ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
        ...(flags.idempotencyKey !== undefined ? { idempotencyKey: flags.idempotencyKey } : {}),
      };
      const json = globalOptions(command).json;
      const rt = client(command);
      const run = await rt.workflows.run(slug, input, options);
      const label = `${run.workflow} ${run.version === null ? 'draft' : `v${run.version}`}`;
      if (!flags.follow && !flags.wait) {
        if (json) printJson(run);
        else {
          process.stdout.write(`${run.runId}\n`);
          process.stderr.write(`${run.status} ${label}; follow it: runtools workflow events ${run.runId} -f\n`);
        }
        return;
      }
      if (!json) process.stderr.write(`run ${run.runId} (${label})\n`);
      const followed = await followWorkflowRun(rt, run.runId, {
        output: flags.follow ? (json ? 'json' : 'human') : 'quiet',
        follow: true,
      });
      if (!flags.wait || followed.code === 130) {
        process.exitCode = followed.code;
        return;
      }
      const detail = await rt.workflows.runs.get(run.runId);
      if (json) printJson(detail);
      else {
        if (detail.output !== null && detail.output !== undefined) printJson(detail.output);
        if (detail.error) process.stderr.write(`error: ${detail.error.code}: ${detail.error.message}\n`);
        process.stderr.write(`${detail.status} · ${label} · run ${detail.runId}\n`);
      }
      process.exitCode = workflowExitCode(detail.status);
    });
}
