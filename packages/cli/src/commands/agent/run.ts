import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import type { RunAttachment, RunOptions } from '@runtools/sdk';
import type { Command } from 'commander';
import { followRun, runSummary } from '../../agent-events.js';
import { registerList } from '../../command-kinds.js';
import { client, globalOptions, readStdin } from '../../context.js';
import { UserError } from '../../errors.js';
import { output, printJson } from '../../output.js';

const mediaTypes: Record<string, string> = {
  '.txt': 'text/plain',
  '.md': 'text/markdown',
  '.json': 'application/json',
  '.py': 'text/x-python',
  '.ts': 'text/x-typescript',
  '.js': 'text/javascript',
  '.sh': 'text/x-shellscript',
  '.csv': 'text/csv',
  '.html': 'text/html',
  '.xml': 'application/xml',
  '.yaml': 'application/yaml',
  '.yml': 'application/yaml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.pdf': 'application/pdf',
};

/** The media type a file's extension suggests; application/octet-stream when it says nothing. */
export function mediaTypeOf(path: string): string {
  return mediaTypes[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

function attachment(path: string): RunAttachment {
  let content: Buffer;
  try {
    content = readFileSync(path);
  } catch (error) {
    throw new UserError(`cannot read ${path}: ${(error as Error).message}`);
  }
  return { name: basename(path), mediaType: mediaTypeOf(path), content };
}

function positiveInteger(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) throw new UserError(`${flag} must be a whole number`);
  return number;
}

interface RunFlags {
  thread?: boolean;
  threadId?: string;
  attach?: string[];
  stream: boolean;
}

export function register(agent: Command): void {
  agent
    .command('run <slug> <prompt>')
    .summary('run an agent and stream what it does')
    .description(
      'run an agent: its text streams to stdout, tool calls and a summary to stderr (prompt "-" reads stdin). ' +
        'Exits 0 when the run completed, 1 when it failed, hit max iterations or was cancelled, 130 on Ctrl-C ' +
        '(which cancels the run)',
    )
    .option('--thread', 'start a thread (its id is in the summary); continue it with --thread-id')
    .option('--thread-id <threadId>', 'continue a thread: the model sees its whole history')
    .option('--attach <file...>', 'give the model files with the prompt (text inline, images, PDFs; repeatable)')
    .option('--no-stream', 'wait for the run to end, then print its answer (with --json: the run)')
    .action(async (slug: string, promptArg: string, flags: RunFlags, command: Command) => {
      if (flags.thread && flags.threadId)
        throw new UserError('give --thread (new) or --thread-id (continue), not both');
      let prompt = promptArg;
      if (prompt === '-') {
        if (process.stdin.isTTY) throw new UserError('prompt "-" reads stdin, and stdin is a terminal');
        prompt = await readStdin();
      }
      if (!prompt.trim()) throw new UserError('the prompt is empty');
      const json = globalOptions(command).json;
      const rt = client(command);
      const options: RunOptions = {
        ...(flags.threadId ? { thread: flags.threadId } : flags.thread ? { thread: true as const } : {}),
        ...(flags.attach?.length ? { attachments: flags.attach.map(attachment) } : {}),
      };
      if (flags.stream) {
        process.exitCode = await followRun(
          rt,
          (signal) => rt.agent.run(slug, prompt, { ...options, signal, stream: true }),
          { output: json ? 'json' : 'human', cancel: true },
        );
        return;
      }
      // Started, then followed quietly: the run's id is known at once, so Ctrl-C can cancel it.
      const started = await rt.agent.start(slug, prompt, options);
      const code = await followRun(rt, (signal) => rt.agent.events(started.id, { signal }), {
        output: 'quiet',
        cancel: true,
        runId: started.id,
      });
      const run = await rt.agent.get(started.id);
      output(json, run, () => {
        if (run.text) process.stdout.write(run.text.endsWith('\n') ? run.text : `${run.text}\n`);
        if (run.error) process.stderr.write(`error: ${run.error.code}: ${run.error.message}\n`);
        process.stderr.write(`${runSummary(run)}\n`);
      });
      process.exitCode = code;
    });

  registerList(agent, {
    name: 'runs',
    description: 'runs, newest first',
    options: (command) =>
      command
        .option('--agent <slug>', "only this agent's")
        .option('--thread <threadId>', "only this thread's")
        .option('--status <status>', 'only these: queued, running, completed, failed, cancelled, max_iterations'),
    fetch: (rt, flags: { agent?: string; thread?: string; status?: string }) =>
      rt.agent.list({
        ...(flags.agent ? { agent: flags.agent } : {}),
        ...(flags.thread ? { thread: flags.thread } : {}),
        ...(flags.status ? { status: flags.status as never } : {}),
      }),
    columns: [
      ['id', (item) => item.id],
      ['agent', (item) => `${item.agent} v${item.agentVersion}`],
      ['status', (item) => item.status],
      ['steps', (item) => item.steps],
      ['tokens', (item) => item.usage.totalTokens],
      ['cost', (item) => (item.costUsd === null ? null : `$${item.costUsd.toFixed(4)}`)],
      ['thread', (item) => item.threadId],
      ['created', (item) => item.createdAt],
      ['prompt', (item) => (item.prompt.length > 40 ? `${item.prompt.slice(0, 39)}…` : item.prompt)],
    ],
    empty: 'No runs.',
  });

  agent
    .command('events <runId>')
    .summary("a run's events, replayed then live")
    .description(
      "a run's events as `agent run` shows them, replayed from the start, then live until it ends " +
        '(Ctrl-C stops following, not the run). Exits like `agent run`',
    )
    .option('--after <n>', 'only events after this sequence number')
    .option('--no-follow', 'print the events stored so far and stop')
    .action(async (runId: string, flags: { after?: string; follow: boolean }, command: Command) => {
      const after = positiveInteger(flags.after, '--after');
      const rt = client(command);
      process.exitCode = await followRun(
        rt,
        (signal) => rt.agent.events(runId, { ...(after !== undefined ? { after } : {}), follow: flags.follow, signal }),
        { output: globalOptions(command).json ? 'json' : 'human', cancel: false, runId, follow: flags.follow },
      );
    });

  agent
    .command('cancel <runId>')
    .description('cancel a queued or running run (waits until it has stopped)')
    .action(async (runId: string, _flags, command: Command) => {
      const run = await client(command).agent.cancel(runId);
      if (globalOptions(command).json) printJson(run);
      else process.stdout.write(`${run.id} ${run.status}\n`);
    });
}
