import type { SandboxLogEntry } from '@runtools/spec';
import { useEffect, useRef, useState } from 'react';
import { call, routeUrl, sse } from '../../api/client';
import { Button, EmptyState, ErrorState, Loading } from '../../components/ui';

const keep = 2000;

/**
 * The sandbox log, live: the stored entries first, then followed over the log stream (server-sent events) from
 * the last seq seen; when the stream drops it reconnects after a pause, and ends once the sandbox is gone.
 */
export function SandboxLogs({ sandboxId, live }: { sandboxId: string; live: boolean }) {
  const [entries, setEntries] = useState<SandboxLogEntry[]>([]);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<unknown>();
  const [following, setFollowing] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const [stick, setStick] = useState(true);
  const logRef = useRef<HTMLPreElement>(null);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `attempt` retries on purpose
  useEffect(() => {
    const controller = new AbortController();
    let lastSeq = 0;
    const add = (more: SandboxLogEntry[]) => {
      const fresh = more.filter((entry) => entry.seq > lastSeq);
      if (!fresh.length) return;
      lastSeq = fresh.at(-1)?.seq ?? lastSeq;
      setEntries((current) => [...current, ...fresh].slice(-keep));
    };
    setEntries([]);
    setLoaded(false);
    setError(undefined);
    (async () => {
      try {
        const first = await call('sandboxesLogs', { params: { sandboxId }, query: { limit: 1000 } });
        add(first.data);
        setLoaded(true);
        while (live && !controller.signal.aborted) {
          setFollowing(true);
          try {
            const url = routeUrl('sandboxesLogsStream', { params: { sandboxId }, query: { after: lastSeq } });
            for await (const message of sse(url, controller.signal)) {
              try {
                add([JSON.parse(message.data) as SandboxLogEntry]);
              } catch {
                // A keep-alive or an event of another kind.
              }
            }
            // The stream ends once the sandbox is destroyed.
            break;
          } catch (caught) {
            if (controller.signal.aborted) return;
            setFollowing(false);
            // Reconnect after a pause; the loaded entries stay.
            await new Promise((resolve) => setTimeout(resolve, 3000));
            if ((caught as { status?: number }).status === 404) throw caught;
          }
        }
        setFollowing(false);
      } catch (caught) {
        if (!controller.signal.aborted) {
          setError(caught);
          setLoaded(true);
        }
      }
    })();
    return () => controller.abort();
  }, [sandboxId, live, attempt]);

  useEffect(() => {
    const element = logRef.current;
    if (element && stick && entries.length) element.scrollTop = element.scrollHeight;
  }, [entries, stick]);

  return (
    <div className="stack">
      <div className="row" style={{ justifyContent: 'space-between' }}>
        <h2 style={{ margin: 0 }}>Logs</h2>
        <span className="muted" role="status">
          {following ? 'Following live' : live ? 'Not following' : 'Sandbox destroyed'}
        </span>
      </div>
      {!loaded ? (
        <Loading label="Loading logs…" />
      ) : error ? (
        <ErrorState error={error} retry={() => setAttempt((count) => count + 1)} />
      ) : entries.length === 0 ? (
        <EmptyState title="No log entries yet" />
      ) : (
        <>
          <pre
            ref={logRef}
            className="log"
            role="log"
            aria-label="Sandbox log"
            // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling log is reachable by keyboard
            tabIndex={0}
            onScroll={(event) => {
              const element = event.currentTarget;
              setStick(element.scrollHeight - element.scrollTop - element.clientHeight < 24);
            }}
          >
            {entries.map((entry) => (
              <div key={entry.seq}>
                <span className="log-time">{new Date(entry.at).toLocaleTimeString()}</span>{' '}
                <span className="log-type">[{entry.type}]</span> {entry.message}
              </div>
            ))}
          </pre>
          {!stick ? (
            <Button variant="ghost" onClick={() => setStick(true)}>
              Jump to the newest
            </Button>
          ) : null}
        </>
      )}
    </div>
  );
}
