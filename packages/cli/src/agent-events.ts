import type { Run, RunEvent, RunStatus, RunTools, TokenUsage } from '@runtools/sdk';
import { exitCodes, UserError } from './errors.js';

/** `agent run` / `agent events` exit codes: 0 when the run completed, 1 when it ended any other way, 130 on Ctrl-C. */
export const runExitCodes = { completed: 0, notCompleted: 1, interrupted: 130 } as const;

export function exitCodeFor(status: RunStatus): number {
  return status === 'completed' ? runExitCodes.completed : runExitCodes.notCompleted;
}

const limit = 160;

/** One line of at most `limit` characters: whitespace collapsed, the rest cut with an ellipsis. */
export function shorten(value: unknown, max = limit): string {
  const text = (typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value))).replace(/\s+/g, ' ');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function tokens(usage: TokenUsage): string {
  return `${usage.totalTokens} tokens (${usage.inputTokens} in, ${usage.outputTokens} out)`;
}

/** The closing line on stderr: status, steps, tokens, run and thread. */
export function summaryLine(run: {
  status: RunStatus;
  steps: number;
  usage: TokenUsage;
  runId: string | undefined;
  threadId: string | null | undefined;
  stopReason?: string | null;
}): string {
  const parts = [
    // The reason only when it says more than the status (interrupted, length), not `stop` or `error`.
    run.stopReason && ![run.status, 'stop', 'error'].includes(run.stopReason)
      ? `${run.status} (${run.stopReason})`
      : run.status,
    `${run.steps} step${run.steps === 1 ? '' : 's'}`,
    tokens(run.usage),
    ...(run.runId ? [`run ${run.runId}`] : []),
    ...(run.threadId ? [`thread ${run.threadId}`] : []),
  ];
  return parts.join(' · ');
}

export function runSummary(run: Run): string {
  return summaryLine({ ...run, runId: run.id });
}

/**
 * Prints a run's events as they come. For people: the model's text raw on stdout, everything else (thinking,
 * tool calls and results, errors, the summary) on stderr, so `> answer.txt` keeps only the answer. With
 * `json`: each event as one line of JSON on stdout (NDJSON), nothing else.
 */
export class EventRenderer {
  runId: string | undefined;
  threadId: string | null | undefined;
  done: Extract<RunEvent, { type: 'done' }> | undefined;
  lastSeq = 0;
  private stdoutAtLineStart = true;
  private thinking = false;
  private readonly dim = Boolean(process.stderr.isTTY) && !process.env.NO_COLOR;

  /** `json`: NDJSON on stdout; `quiet`: nothing printed, the end still noted. */
  constructor(private readonly mode: 'human' | 'json' | 'quiet') {}

  private out(text: string): void {
    if (!text) return;
    process.stdout.write(text);
    this.stdoutAtLineStart = text.endsWith('\n');
  }

  /** A line on stderr, after ending the model's text line on stdout (they share a terminal). */
  private line(text: string): void {
    this.endThinking();
    if (!this.stdoutAtLineStart) this.out('\n');
    process.stderr.write(`${text}\n`);
  }

  private endThinking(): void {
    if (!this.thinking) return;
    this.thinking = false;
    process.stderr.write(this.dim ? '\x1b[22m\n' : '\n');
  }

  render(event: RunEvent): void {
    this.lastSeq = event.seq;
    if (event.type === 'start') {
      this.runId = event.runId;
      this.threadId = event.threadId;
    } else if (event.type === 'done') {
      this.done = event;
    }
    if (this.mode === 'quiet') return;
    if (this.mode === 'json') {
      process.stdout.write(`${JSON.stringify(event)}\n`);
      return;
    }
    switch (event.type) {
      case 'start':
      case 'step':
        return;
      case 'text-delta':
        this.endThinking();
        this.out(event.text);
        return;
      case 'thinking':
        if (!this.thinking) {
          if (!this.stdoutAtLineStart) this.out('\n');
          process.stderr.write(this.dim ? '\x1b[2m' : 'thinking: ');
          this.thinking = true;
        }
        process.stderr.write(event.text);
        return;
      case 'tool-call':
        this.line(`→ ${event.toolName} ${shorten(event.input)}`);
        return;
      case 'tool-result':
        this.line(
          `← ${event.toolName} (${Math.round(event.durationMs)} ms)${event.isError ? ' ✗ error' : ''} ${shorten(event.output)}`,
        );
        return;
      case 'error':
        this.line(`error: ${event.code}: ${event.message}`);
        return;
      case 'done':
        this.line(
          summaryLine({
            status: event.status,
            stopReason: event.stopReason,
            steps: event.steps,
            usage: event.usage,
            runId: this.runId,
            threadId: this.threadId,
          }),
        );
        return;
    }
  }
}

/**
 * Follows a run's events to their end and returns the exit code. Ctrl-C stops it: with `cancel`, the run is
 * cancelled first (once its id is known); either way the command then exits 130. A second Ctrl-C exits at once.
 */
export async function followRun(
  rt: RunTools,
  events: (signal: AbortSignal) => AsyncIterable<RunEvent>,
  options: { output: 'human' | 'json' | 'quiet'; cancel: boolean; runId?: string; follow?: boolean },
): Promise<number> {
  const renderer = new EventRenderer(options.output);
  const human = options.output !== 'json';
  if (options.runId) renderer.runId = options.runId;
  const stop = new AbortController();
  let interrupted = false;
  let cancelling: Promise<void> | undefined;
  const cancel = () => {
    const runId = renderer.runId;
    if (!options.cancel || !runId || cancelling) return;
    if (human) process.stderr.write(`\ncancelling ${runId}…\n`);
    cancelling = rt.agent.cancel(runId).then(
      () => {},
      // Already ended (409 run_finished) or unreachable: the stream tells the rest.
      (error: Error) => {
        if (human) process.stderr.write(`runtools: cancel: ${error.message}\n`);
        stop.abort();
      },
    );
  };
  const onSigint = () => {
    if (interrupted) process.exit(runExitCodes.interrupted);
    interrupted = true;
    if (options.cancel) cancel();
    else stop.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    for await (const event of events(stop.signal)) {
      renderer.render(event);
      // Ctrl-C came before the run's id did.
      if (event.type === 'start' && interrupted) cancel();
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  await cancelling;
  if (interrupted) return runExitCodes.interrupted;
  if (renderer.done) return exitCodeFor(renderer.done.status);
  if (stop.signal.aborted) return runExitCodes.interrupted;
  // `--no-follow` on a run in progress: what is stored so far, and that is all.
  if (options.follow === false) return runExitCodes.completed;
  // The connection dropped before the run ended.
  throw new UserError(
    'the event stream ended before the run did',
    renderer.runId
      ? `follow it with: runtools agent events ${renderer.runId} --after ${renderer.lastSeq}`
      : 'list runs with: runtools agent runs',
    exitCodes.connection,
  );
}
