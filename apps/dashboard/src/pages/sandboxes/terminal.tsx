import '@xterm/xterm/css/xterm.css';
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import { useEffect, useRef, useState } from 'react';
import { call } from '../../api/client';
import { Button, MutationError } from '../../components/ui';

type State = 'connecting' | 'open' | 'closed';

/**
 * The web terminal: xterm over the sandbox's terminal WebSocket. A one-minute token comes from the token route;
 * binary frames are terminal bytes both ways, a text frame `{"type":"resize"}` follows every fit, and the server
 * ends with `{"type":"exit"}`. Closed, it offers to reconnect. Loaded only when the Terminal tab opens.
 */
export default function SandboxTerminal({ sandboxId }: { sandboxId: string }) {
  const hostRef = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<State>('connecting');
  const [exitCode, setExitCode] = useState<number | null>(null);
  const [error, setError] = useState<unknown>();
  const [attempt, setAttempt] = useState(0);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `attempt` reconnects on purpose
  useEffect(() => {
    const host = hostRef.current;
    if (!host) return;
    let disposed = false;
    let socket: WebSocket | undefined;
    const terminal = new Terminal({
      cursorBlink: true,
      convertEol: false,
      fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace',
      fontSize: 13,
      theme: { background: '#0d1117', foreground: '#e6edf3' },
    });
    const fit = new FitAddon();
    terminal.loadAddon(fit);
    terminal.open(host);
    // The textarea xterm types into gets a name for screen readers and tests.
    terminal.textarea?.setAttribute('aria-label', 'Terminal input');
    const encoder = new TextEncoder();

    const sendSize = () => {
      if (socket?.readyState === WebSocket.OPEN)
        socket.send(JSON.stringify({ type: 'resize', cols: terminal.cols, rows: terminal.rows }));
    };
    const refit = () => {
      try {
        fit.fit();
      } catch {
        // Not laid out yet (a hidden tab): the next resize fits it.
      }
    };
    refit();
    const observer = new ResizeObserver(() => refit());
    observer.observe(host);
    const resizeListener = terminal.onResize(() => sendSize());
    const dataListener = terminal.onData((data) => {
      if (socket?.readyState === WebSocket.OPEN) socket.send(encoder.encode(data));
    });
    const binaryListener = terminal.onBinary((data) => {
      if (socket?.readyState === WebSocket.OPEN) socket.send(Uint8Array.from(data, (char) => char.charCodeAt(0)));
    });

    setState('connecting');
    setExitCode(null);
    setError(undefined);
    (async () => {
      try {
        const { token } = await call('sandboxesTerminalToken', { params: { sandboxId } });
        if (disposed) return;
        // The dashboard and the API share an origin, so the socket goes to the page's own host.
        const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
        socket = new WebSocket(
          `${scheme}://${window.location.host}/v1/sandboxes/${encodeURIComponent(sandboxId)}/terminal?token=${encodeURIComponent(token)}`,
        );
        socket.binaryType = 'arraybuffer';
        socket.onopen = () => {
          setState('open');
          refit();
          sendSize();
          terminal.focus();
        };
        socket.onmessage = (event) => {
          if (typeof event.data === 'string') {
            try {
              const message = JSON.parse(event.data) as { type?: string; exitCode?: number };
              if (message.type === 'exit') setExitCode(message.exitCode ?? null);
            } catch {
              terminal.write(event.data);
            }
            return;
          }
          terminal.write(new Uint8Array(event.data as ArrayBuffer));
        };
        socket.onclose = () => {
          if (!disposed) setState('closed');
        };
        socket.onerror = () => {
          if (!disposed) setError(new Error('the terminal connection failed'));
        };
      } catch (caught) {
        if (!disposed) {
          setError(caught);
          setState('closed');
        }
      }
    })();

    return () => {
      disposed = true;
      observer.disconnect();
      resizeListener.dispose();
      dataListener.dispose();
      binaryListener.dispose();
      socket?.close();
      terminal.dispose();
    };
  }, [sandboxId, attempt]);

  return (
    <div className="stack">
      <div className="row">
        <span role="status" className="muted">
          {state === 'connecting'
            ? 'Connecting…'
            : state === 'open'
              ? 'Connected'
              : `Disconnected${exitCode !== null ? ` (exit code ${exitCode})` : ''}`}
        </span>
        {state === 'closed' ? (
          <Button variant="primary" onClick={() => setAttempt((count) => count + 1)}>
            Reconnect
          </Button>
        ) : null}
      </div>
      <MutationError error={error} />
      <section ref={hostRef} className="terminal" aria-label="Terminal" data-testid="terminal" />
    </div>
  );
}
