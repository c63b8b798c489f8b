import type { RunEvent, Thread } from '@runtools/spec';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { type FormEvent, useEffect, useRef, useState } from 'react';
import { call, routeUrl, sse } from '../../api/client';
import { useCan } from '../../api/session';
import { formatRelative } from '../../components/format';
import { Button, Field, MutationError, StatusBadge } from '../../components/ui';
import { pretty } from './shared';

const finished = new Set(['completed', 'failed', 'cancelled', 'max_iterations']);

export type StreamState = 'idle' | 'streaming' | 'ended' | 'error';

/**
 * A run's events: those stored from the start, then live until the run ends. A dropped stream is picked up
 * again after the last event seen (`after=seq`), so nothing is shown twice.
 */
export function useRunEvents(runId: string | undefined) {
  const queryClient = useQueryClient();
  const [events, setEvents] = useState<RunEvent[]>([]);
  const [state, setState] = useState<StreamState>('idle');
  const [error, setError] = useState<unknown>();

  useEffect(() => {
    setEvents([]);
    setError(undefined);
    if (!runId) {
      setState('idle');
      return;
    }
    const controller = new AbortController();
    setState('streaming');
    (async () => {
      let lastSeq = 0;
      let ended = false;
      let failures = 0;
      while (!ended && !controller.signal.aborted) {
        try {
          const url = routeUrl('runsEvents', { params: { runId }, query: { after: lastSeq, follow: 'true' } });
          // Events arrive in bursts (text deltas); they are applied once a frame.
          let pending: RunEvent[] = [];
          let scheduled = false;
          const flush = () => {
            scheduled = false;
            const batch = pending;
            pending = [];
            if (batch.length && !controller.signal.aborted) setEvents((current) => [...current, ...batch]);
          };
          for await (const raw of sse(url, controller.signal)) {
            let event: RunEvent;
            try {
              event = JSON.parse(raw.data) as RunEvent;
            } catch {
              continue;
            }
            if (typeof event.seq === 'number') {
              if (event.seq <= lastSeq) continue;
              lastSeq = event.seq;
            }
            pending.push(event);
            if (event.type === 'done') ended = true;
            if (!scheduled) {
              scheduled = true;
              setTimeout(flush, 30);
            }
          }
          flush();
          failures = 0;
          if (!ended) {
            // The stream closed without a done event: ended runs say so, a live one is followed again.
            const run = await call('runsGet', { params: { runId } });
            if (finished.has(run.status)) ended = true;
          }
        } catch (caught) {
          if (controller.signal.aborted) return;
          failures++;
          if (failures >= 5) {
            setError(caught);
            setState('error');
            return;
          }
        }
        if (!ended) await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      if (!controller.signal.aborted) {
        setState('ended');
        void queryClient.invalidateQueries({ queryKey: ['runs'] });
        void queryClient.invalidateQueries({ queryKey: ['threads'] });
      }
    })();
    return () => controller.abort();
  }, [runId, queryClient]);

  return { events, state, error };
}

type ToolCall = Extract<RunEvent, { type: 'tool-call' }>;
type ToolResult = Extract<RunEvent, { type: 'tool-result' }>;
type Item =
  | { kind: 'text'; key: number; text: string }
  | { kind: 'thinking'; key: number; text: string }
  | { kind: 'tool'; key: number; call: ToolCall; result?: ToolResult }
  | { kind: 'event'; key: number; event: Exclude<RunEvent, { type: 'text-delta' | 'thinking' | 'tool-call' }> };

/** Folds the events into what a reader follows: text runs, thinking, each tool call with its result. */
export function transcript(events: RunEvent[]): Item[] {
  const items: Item[] = [];
  const calls = new Map<string, Extract<Item, { kind: 'tool' }>>();
  for (const event of events) {
    const last = items[items.length - 1];
    if (event.type === 'text-delta') {
      if (last?.kind === 'text') last.text += event.text;
      else items.push({ kind: 'text', key: event.seq, text: event.text });
    } else if (event.type === 'thinking') {
      if (last?.kind === 'thinking') last.text += event.text;
      else items.push({ kind: 'thinking', key: event.seq, text: event.text });
    } else if (event.type === 'tool-call') {
      const item: Extract<Item, { kind: 'tool' }> = { kind: 'tool', key: event.seq, call: event };
      calls.set(event.toolCallId, item);
      items.push(item);
    } else if (event.type === 'tool-result') {
      const item = calls.get(event.toolCallId);
      if (item) item.result = event;
      else
        items.push({
          kind: 'tool',
          key: event.seq,
          call: { ...event, type: 'tool-call', input: undefined },
          result: event,
        });
    } else items.push({ kind: 'event', key: event.seq, event });
  }
  return items;
}

function Usage({ usage }: { usage: { inputTokens: number; outputTokens: number; totalTokens: number } }) {
  return (
    <span>
      {usage.inputTokens.toLocaleString()} input tokens · {usage.outputTokens.toLocaleString()} output tokens ·{' '}
      {usage.totalTokens.toLocaleString()} total
    </span>
  );
}

/** The rendered event stream of a run: text as it is written, thinking collapsed, tool calls and results. */
export function RunTranscript({ events, state, error }: { events: RunEvent[]; state: StreamState; error?: unknown }) {
  const items = transcript(events);
  const endRef = useRef<HTMLDivElement>(null);
  const followRef = useRef(true);
  const boxRef = useRef<HTMLDivElement>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: scroll on every new event
  useEffect(() => {
    const box = boxRef.current;
    if (box && followRef.current) box.scrollTop = box.scrollHeight;
  }, [events.length]);
  return (
    <div className="stack">
      <div
        ref={boxRef}
        className="run-transcript"
        role="log"
        aria-label="Run events"
        aria-busy={state === 'streaming' || undefined}
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling log is reachable by keyboard
        tabIndex={0}
        onScroll={(event) => {
          const box = event.currentTarget;
          followRef.current = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
        }}
      >
        {items.length === 0 ? (
          <p className="muted">{state === 'streaming' ? 'Waiting for the first event…' : 'No events.'}</p>
        ) : null}
        {items.map((item) => {
          if (item.kind === 'text')
            return (
              <div key={item.key} className="run-text" data-testid="run-text">
                {item.text}
              </div>
            );
          if (item.kind === 'thinking')
            return (
              <details key={item.key} className="run-thinking">
                <summary>Thinking</summary>
                <div className="run-text muted">{item.text}</div>
              </details>
            );
          if (item.kind === 'tool') return <ToolCallView key={item.key} call={item.call} result={item.result} />;
          return <EventLine key={item.key} event={item.event} />;
        })}
        <div ref={endRef} />
      </div>
      {state === 'error' ? <MutationError error={error} /> : null}
    </div>
  );
}

function ToolCallView({ call: toolCall, result }: { call: ToolCall; result?: ToolResult }) {
  const status = result ? (result.isError ? 'failed' : 'succeeded') : 'running';
  return (
    <div className="run-tool" data-testid="run-tool-call">
      <div className="row">
        <span className="muted">Tool call</span> <code>{toolCall.toolName}</code> <StatusBadge status={status} />
        {result ? <span className="muted">{Math.round(result.durationMs)} ms</span> : null}
      </div>
      {toolCall.input !== undefined ? (
        <details>
          <summary>Arguments of {toolCall.toolName}</summary>
          <pre className="block">{pretty(toolCall.input)}</pre>
        </details>
      ) : null}
      {result ? (
        <details>
          <summary>
            {result.isError ? 'Error' : 'Result'} of {toolCall.toolName}
          </summary>
          <pre className="block">{pretty(result.output)}</pre>
        </details>
      ) : null}
    </div>
  );
}

function EventLine({ event }: { event: Extract<Item, { kind: 'event' }>['event'] }) {
  switch (event.type) {
    case 'start':
      return (
        <p className="run-note muted">
          Started with {event.model}
          {event.sandboxId ? ` in sandbox ${event.sandboxId}` : ''}
          {event.device ? ` on device ${event.device.name}` : ''}
          {event.attachments.length ? `, ${event.attachments.length} attachment(s)` : ''}
        </p>
      );
    case 'step':
      return (
        <p className="run-note muted">
          Step {event.step} finished ({event.finishReason}), {event.usage.totalTokens.toLocaleString()} tokens
        </p>
      );
    case 'resumed':
      return <p className="run-note muted">Resumed after step {event.step}</p>;
    case 'error':
      return (
        <p className="field-error" role="alert">
          Error {event.code}: {event.message}
        </p>
      );
    case 'done':
      return (
        <div className="run-done" data-testid="run-done">
          <StatusBadge status={event.status} /> <strong>Done</strong>
          {event.stopReason ? <span className="muted"> ({event.stopReason})</span> : null} · {event.steps} step
          {event.steps === 1 ? '' : 's'} · <Usage usage={event.usage} />
        </div>
      );
    default:
      return null;
  }
}

/** "Run": a prompt, optionally in a thread, then the run's live event stream. */
export function RunPanel({ slug }: { slug: string }) {
  const canRun = useCan('agents:write');
  const [prompt, setPrompt] = useState('');
  const [thread, setThread] = useState<string>('');
  const [runId, setRunId] = useState<string>();
  const stream = useRunEvents(runId);
  const threads = useQuery({
    queryKey: ['threads', 'agent', slug],
    queryFn: () => call('threadsList', { query: { agent: slug, limit: 100 } }),
  });
  const start = useMutation({
    mutationFn: () =>
      call('agentRunsCreate', {
        params: { slug },
        body: { prompt, ...(thread === 'new' ? { thread: true } : thread ? { thread } : {}) },
      }),
    onSuccess: (run) => {
      setRunId(run.id);
      // A new thread's later runs continue it.
      if (run.threadId) setThread(run.threadId);
    },
  });
  const cancel = useMutation({
    mutationFn: (id: string) => call('runsCancel', { params: { runId: id } }),
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!prompt.trim()) return;
    start.mutate();
  }

  const running = stream.state === 'streaming';
  const threadOptions: Thread[] = threads.data?.data ?? [];
  const done = stream.events.find((event) => event.type === 'done');

  return (
    <section className="stack" aria-labelledby="run-heading">
      <h2 id="run-heading">Run</h2>
      {canRun ? (
        <form className="stack" onSubmit={submit}>
          <Field label="Prompt">
            {(id) => (
              <textarea
                id={id}
                rows={4}
                required
                value={prompt}
                onChange={(event) => setPrompt(event.target.value)}
                onKeyDown={(event) => {
                  if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) submit(event);
                }}
              />
            )}
          </Field>
          <div className="form-grid">
            <Field label="Thread" hint="a thread keeps the conversation: later runs see its history">
              {(id, describedBy) => (
                <select
                  id={id}
                  aria-describedby={describedBy}
                  value={thread}
                  onChange={(event) => setThread(event.target.value)}
                >
                  <option value="">No thread (one-off run)</option>
                  <option value="new">New thread</option>
                  {threadOptions.map((option) => (
                    <option key={option.id} value={option.id}>
                      {option.id} ({option.messageCount} messages, {formatRelative(option.updatedAt)})
                    </option>
                  ))}
                  {thread && thread !== 'new' && !threadOptions.some((option) => option.id === thread) ? (
                    <option value={thread}>{thread}</option>
                  ) : null}
                </select>
              )}
            </Field>
          </div>
          <MutationError error={start.error} />
          <div className="row">
            <Button type="submit" variant="primary" busy={start.isPending} disabled={running || !prompt.trim()}>
              Run
            </Button>
            {runId && running ? (
              <Button variant="danger" busy={cancel.isPending} onClick={() => cancel.mutate(runId)}>
                Cancel run
              </Button>
            ) : null}
            {runId ? (
              <Link to="/agents/runs/$runId" params={{ runId }}>
                Open run {runId}
              </Link>
            ) : null}
          </div>
          <MutationError error={cancel.error} />
        </form>
      ) : (
        <p className="muted">Your role cannot start runs.</p>
      )}
      {runId ? (
        <>
          <p role="status" className="row">
            <StatusBadge status={done?.type === 'done' ? done.status : running ? 'running' : stream.state} />
            <span className="muted">
              {running ? 'Streaming events…' : stream.state === 'ended' ? 'The run ended.' : ''}
            </span>
          </p>
          <RunTranscript events={stream.events} state={stream.state} error={stream.error} />
        </>
      ) : null}
    </section>
  );
}
