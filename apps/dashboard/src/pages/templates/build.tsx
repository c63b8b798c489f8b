import type { TemplateBuildEvent } from '@runtools/spec';
import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { apiFetch, routeUrl } from '../../api/client';
import { Button, Dialog, MutationError, StatusBadge } from '../../components/ui';

/** Reads a server-sent event stream answered to a POST (the build route), until it ends or `signal` aborts. */
async function* ssePost(url: string, signal: AbortSignal): AsyncGenerator<{ event: string; data: string }> {
  const response = await apiFetch(url, { method: 'POST', headers: { Accept: 'text/event-stream' }, signal });
  if (!response.body) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, '\n');
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length) yield { event, data: data.join('\n') };
    }
  }
}

type Outcome = 'building' | 'ready' | 'failed';

/** "Build <name>": runs the build and shows its progress lines live, then ready or failed. */
export function BuildDialog({ name, onClose }: { name: string | undefined; onClose: () => void }) {
  return (
    <Dialog open={name !== undefined} onClose={onClose} title={`Build ${name ?? ''}`} wide>
      {name ? <BuildProgress key={name} name={name} onClose={onClose} /> : null}
    </Dialog>
  );
}

function BuildProgress({ name, onClose }: { name: string; onClose: () => void }) {
  const queryClient = useQueryClient();
  const [lines, setLines] = useState<string[]>([]);
  const [outcome, setOutcome] = useState<Outcome>('building');
  const [message, setMessage] = useState<string>();
  const [error, setError] = useState<unknown>();
  const [attempt, setAttempt] = useState(0);
  const logRef = useRef<HTMLPreElement>(null);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `attempt` builds again on purpose
  useEffect(() => {
    const controller = new AbortController();
    setLines([]);
    setOutcome('building');
    setMessage(undefined);
    setError(undefined);
    (async () => {
      let ended = false;
      try {
        const url = routeUrl('templatesBuild', { params: { templateName: name } });
        for await (const raw of ssePost(url, controller.signal)) {
          let event: TemplateBuildEvent;
          try {
            event = JSON.parse(raw.data) as TemplateBuildEvent;
          } catch {
            continue;
          }
          if (event.type === 'progress') setLines((current) => [...current, event.line].slice(-5000));
          else if (event.type === 'ready') {
            ended = true;
            setOutcome('ready');
          } else if (event.type === 'failed') {
            ended = true;
            setOutcome('failed');
            setMessage(event.message);
          }
        }
        if (!ended) {
          setOutcome('failed');
          setMessage('the build stream ended without a result');
        }
      } catch (caught) {
        if (controller.signal.aborted) return;
        setError(caught);
        setOutcome('failed');
      } finally {
        if (!controller.signal.aborted) void queryClient.invalidateQueries({ queryKey: ['templates'] });
      }
    })();
    return () => controller.abort();
  }, [name, attempt, queryClient]);

  useEffect(() => {
    const element = logRef.current;
    if (element && lines.length) element.scrollTop = element.scrollHeight;
  }, [lines]);

  return (
    <div className="stack">
      <p role="status" className="row">
        <StatusBadge status={outcome} />
        <span>
          {outcome === 'building'
            ? `Building ${name}… ${lines.length} line${lines.length === 1 ? '' : 's'} so far`
            : outcome === 'ready'
              ? `${name} is built and ready.`
              : `The build of ${name} failed${message ? `: ${message}` : '.'}`}
        </span>
      </p>
      <MutationError error={error} />
      <pre
        ref={logRef}
        className="log"
        role="log"
        aria-label="Build progress"
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling log is reachable by keyboard
        tabIndex={0}
      >
        {lines.length ? lines.join('\n') : outcome === 'building' ? 'Waiting for the first line…' : ''}
      </pre>
      <div className="form-actions">
        {outcome === 'failed' ? <Button onClick={() => setAttempt((count) => count + 1)}>Build again</Button> : null}
        <Button variant={outcome === 'building' ? 'secondary' : 'primary'} onClick={onClose}>
          {outcome === 'building' ? 'Hide' : 'Done'}
        </Button>
      </div>
    </div>
  );
}
