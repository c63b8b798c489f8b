import type { Command } from 'commander';
import WebSocket from 'ws';
import { client, globalOptions, resolveConnection } from '../../context.js';
import { UserError } from '../../errors.js';

/**
 * `sandbox shell ID`: an interactive login shell over the web terminal's WebSocket. On a terminal it goes raw
 * (keys go straight through, Ctrl-C included) and follows the window's size; piped, it sends what it reads.
 * Exits with the shell's exit code.
 */
export function register(sandbox: Command): void {
  sandbox
    .command('shell <id>')
    .description("an interactive shell in a sandbox (exits with the shell's exit code)")
    .action(async (id: string, _flags, command: Command) => {
      const { url, apiKey } = resolveConnection(globalOptions(command));
      // Exists and is reachable: a clear error from the API rather than a failed upgrade.
      await client(command).sandboxes.get(id);
      const tty = process.stdin.isTTY && process.stdout.isTTY;
      const size = tty ? { cols: process.stdout.columns, rows: process.stdout.rows } : { cols: 80, rows: 24 };
      const target = `${url.replace(/^http/, 'ws')}/v1/sandboxes/${id}/terminal?cols=${size.cols}&rows=${size.rows}`;
      const socket = new WebSocket(target, { headers: { 'x-api-key': apiKey } });
      const exitCode = await new Promise<number>((resolve, reject) => {
        let code = 1;
        socket.on('unexpected-response', (_request, response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => {
            body += chunk;
          });
          response.on('end', () => {
            let message = `the terminal refused: HTTP ${response.statusCode}`;
            try {
              message = (JSON.parse(body) as { error: { message: string } }).error.message;
            } catch {}
            reject(new UserError(message));
          });
        });
        socket.on('open', () => {
          if (tty) {
            process.stdin.setRawMode(true);
            process.stdout.on('resize', () =>
              socket.send(JSON.stringify({ type: 'resize', cols: process.stdout.columns, rows: process.stdout.rows })),
            );
          }
          process.stdin.on('data', (chunk: Buffer) => socket.send(chunk, { binary: true }));
          // Piped input that ends: the shell gets an end-of-file (Ctrl-D), as it would typed.
          process.stdin.on('end', () => socket.send(Buffer.from([4]), { binary: true }));
        });
        socket.on('message', (data: Buffer, isBinary) => {
          if (isBinary) {
            process.stdout.write(data);
            return;
          }
          const message = JSON.parse(data.toString('utf8')) as { type: string; exitCode?: number; message?: string };
          if (message.type === 'exit') code = message.exitCode ?? 1;
          else if (message.type === 'error') process.stderr.write(`runtools: ${message.message}\n`);
        });
        socket.on('close', () => resolve(code));
        socket.on('error', reject);
      }).finally(() => {
        if (tty) process.stdin.setRawMode(false);
        process.stdin.pause();
      });
      process.exitCode = exitCode;
    });
}
