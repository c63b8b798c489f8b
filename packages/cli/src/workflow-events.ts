import { type RunTools, type WorkflowEvent, type WorkflowRunStatus, workflowRunStatusAfter } from '@runtools/sdk';
import { runExitCodes, shorten } from './agent-events.js';
import { exitCodes, UserError } from './errors.js';

const ended: readonly WorkflowRunStatus[] = ['completed', 'failed', 'cancelled', 'timed_out'];

/** `workflow run -f|--wait` / `workflow events -f` exit codes: 0 completed, 1 ended otherwise, 130 on Ctrl-C. */
export function workflowExitCode(status: WorkflowRunStatus): number {
  return status === 'completed' ? runExitCodes.completed : runExitCodes.notCompleted;
}

type Data = Record<string, unknown>;

const errorText = (error: unknown): string => {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return code ? `${String(code)}: ${String(message ?? '')}` : shorten(error);
};

/** What an event says beyond its type and node, in one line. */
export function eventSummary(event: WorkflowEvent): string {
  const data = (event.data && typeof event.data === 'object' ? event.data : {}) as Data;
  switch (event.type) {
    case 'run.queued':
      return [
        typeof data.version === 'number' ? `v${data.version}` : data.version === null ? 'draft' : undefined,
        data.trigger ? String(data.trigger) : undefined,
        `input ${shorten(data.input ?? {}, 100)}`,
      ]
        .filter(Boolean)
        .join(' ');
    case 'node.started':
      if (data.childRun) return `agent run ${String(data.childRun)}`;
      return [data.type, data.takenOver ? '(taken over)' : undefined].filter(Boolean).join(' ');
    case 'node.completed':
      return `${data.branch === undefined ? '' : `branch ${String(data.branch)} `}→ ${shorten(data.output, 120)}`;
    case 'run.completed':
      return `output ${shorten(data.output, 120)}`;
    case 'node.failed':
    case 'node.retrying':
    case 'node.timed_out':
    case 'run.failed':
    case 'run.timed_out':
      return data.error ? errorText(data.error) : shorten(event.data ?? '', 120);
    case 'node.waiting':
      if (data.approvalId) return `approval ${String(data.approvalId)}`;
      if (data.until) return `until ${String(data.until)}`;
      if (data.url) return `webhook ${String(data.url)}`;
      return '';
    case 'approval.requested':
      return `${String(data.approvalId)} "${shorten(data.message ?? '', 100)}" (runtools workflow approve|reject ${String(data.approvalId)})`;
    case 'approval.resolved':
      return [
        String(data.status ?? (data.approved ? 'approved' : 'rejected')),
        data.decidedBy ? `by ${String(data.decidedBy)}` : undefined,
        data.comment ? `"${shorten(data.comment, 80)}"` : undefined,
      ]
        .filter(Boolean)
        .join(' ');
    default:
      return event.data === null || event.data === undefined ? '' : shorten(event.data, 120);
  }
}

/** One event for people: `seq time type node attempt summary`. */
export function eventLine(event: WorkflowEvent): string {
  const time = event.at.length >= 23 ? event.at.slice(11, 23) : event.at;
  const node = event.nodeId ? `${event.nodeId}${event.iteration ? `[${event.iteration}]` : ''}` : '-';
  const attempt = event.attempt ? `#${event.attempt}` : '-';
  return `${String(event.seq).padStart(4)}  ${time}  ${event.type.padEnd(18)}  ${node.padEnd(12)}  ${attempt.padEnd(3)}  ${eventSummary(event)}`.trimEnd();
}

/**
 * Prints a workflow run's events (`human`: one line each on stdout; `json`: each event as a line of JSON;
 * `quiet`: nothing but a note on stderr when the run waits for an approval) from after `after`, following
 * them live with `follow` until the run ends. Ctrl-C stops following (the run goes on). Answers the exit
 * code: without `follow` 0; with it the run's end (0 completed, 1 otherwise), 130 on Ctrl-C.
 */
export async function followWorkflowRun(
  rt: RunTools,
  runId: string,
  options: { output: 'human' | 'json' | 'quiet'; follow: boolean; after?: number },
): Promise<{ code: number; status: WorkflowRunStatus | undefined }> {
  const stop = new AbortController();
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(runExitCodes.interrupted);
    interrupted = true;
    stop.abort();
  };
  process.on('SIGINT', onSigint);
  let status: WorkflowRunStatus | undefined;
  let lastSeq = options.after ?? 0;
  try {
    for await (const event of rt.workflows.events(runId, {
      ...(options.after !== undefined ? { after: options.after } : {}),
      follow: options.follow,
      signal: stop.signal,
    })) {
      lastSeq = event.seq;
      status = workflowRunStatusAfter(event) ?? status;
      if (options.output === 'json') process.stdout.write(`${JSON.stringify(event)}\n`);
      else if (options.output === 'human') process.stdout.write(`${eventLine(event)}\n`);
      else if (event.type === 'approval.requested') process.stderr.write(`waiting: ${eventSummary(event)}\n`);
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  if (interrupted) {
    if (options.output !== 'json')
      process.stderr.write(`\nstopped following; the run goes on (runtools workflow cancel ${runId} stops it)\n`);
    return { code: runExitCodes.interrupted, status };
  }
  if (!options.follow) return { code: runExitCodes.completed, status };
  if (status && ended.includes(status)) return { code: workflowExitCode(status), status };
  // Followed from after its end (--after past the last event): the run says how it ended.
  const run = await rt.workflows.runs.get(runId);
  if (ended.includes(run.status)) return { code: workflowExitCode(run.status), status: run.status };
  // The stream closed before the run ended: the connection dropped, or the server stopped.
  throw new UserError(
    'the event stream ended before the run did',
    `follow it with: runtools workflow events ${runId} -f --after ${lastSeq}`,
    exitCodes.connection,
  );
}
