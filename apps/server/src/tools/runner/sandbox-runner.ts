/**
 * The program a tool runner sandbox runs (`node runner.mjs`), written out from this function's source: it
 * must stay self-contained (no imports at module level, nothing from outside its body).
 *
 * It reads one call per line on stdin (`{ id, module, action, params, credentials }`), imports the tool's
 * bundle (once per version), runs the action, and answers on stdout with a line starting with a NUL marker
 * (`\0rt:{ id, ok, result | error }`), so that whatever the tool itself prints cannot pass for an answer's
 * start. The tool's own console output goes to stderr. `result` is the action's JSON text; what cannot be
 * made JSON is an error.
 */
export function toolRunnerMain(): void {
  const marker = '\u0000rt:';
  const stdout = process.stdout;
  const toStderr = (...args: unknown[]) => {
    process.stderr.write(`${args.map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))).join(' ')}\n`);
  };
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
  const send = (message: Record<string, unknown>) => {
    stdout.write(`\n${marker}${JSON.stringify(message)}\n`);
  };
  const modules = new Map<string, Promise<{ default?: unknown }>>();
  // Built from a string so that no transform of this file (a bundler's, a test runner's) rewrites it.
  const importModule = new Function('specifier', 'return import(specifier)') as (
    specifier: string,
  ) => Promise<{ default?: unknown }>;

  async function handle(line: string): Promise<void> {
    let call: { id: string; module: string; action: string; params: unknown; credentials: unknown };
    try {
      call = JSON.parse(line);
    } catch {
      return;
    }
    // Taken: from here the call runs in this process (before this, a process that ends never had it).
    send({ id: call.id, accepted: true });
    try {
      let loading = modules.get(call.module);
      if (!loading) {
        loading = importModule(call.module);
        modules.set(call.module, loading);
      }
      const loaded = await loading;
      const tool = (loaded.default ?? loaded) as {
        actions?: Record<string, { execute?: (params: unknown, credentials: unknown) => unknown }>;
      };
      const action = tool.actions?.[call.action];
      if (!action || typeof action.execute !== 'function') {
        throw new Error(`the tool's code exports no action ${call.action} with an execute function`);
      }
      const value = await action.execute(call.params, call.credentials);
      let text: string | undefined;
      try {
        text = JSON.stringify(value === undefined ? null : value);
      } catch (error) {
        send({
          id: call.id,
          ok: false,
          error: { kind: 'result', message: `the result is not JSON: ${(error as Error).message}` },
        });
        return;
      }
      if (typeof text !== 'string') {
        send({
          id: call.id,
          ok: false,
          error: { kind: 'result', message: 'the result is not JSON (a function or a symbol)' },
        });
        return;
      }
      send({ id: call.id, ok: true, result: text });
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      send({
        id: call.id,
        ok: false,
        error: {
          kind: 'threw',
          name: failure.name,
          message: failure.message,
          stack: (failure.stack ?? '').slice(0, 4000),
        },
      });
    }
  }

  let buffer = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    buffer += chunk;
    for (let end = buffer.indexOf('\n'); end >= 0; end = buffer.indexOf('\n')) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
      if (line.trim()) void handle(line);
    }
  });
  process.stdin.on('end', () => process.exit(0));
  // A tool's stray rejection or throw outside a call must not end the runner.
  process.on('unhandledRejection', (reason) => toStderr('unhandled rejection in a tool:', String(reason)));
  process.on('uncaughtException', (error) => toStderr('uncaught exception in a tool:', error.message));
  send({ ready: true });
}

/** The runner as a file: the function above, called. */
export function toolRunnerSource(): string {
  return `(${toolRunnerMain.toString()})();\n`;
}
