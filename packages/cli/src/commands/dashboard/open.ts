import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { client, globalOptions, resolveConnection } from '../../context.js';
import { output } from '../../output.js';

/** Whether this looks like a desktop session a browser can open on (a display, or macOS / Windows). */
function hasDesktop(): boolean {
  if (process.platform === 'darwin' || process.platform === 'win32') return true;
  return Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
}

function openBrowser(url: string): void {
  const [command, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['cmd', ['/c', 'start', '', url]]
        : ['xdg-open', [url]];
  try {
    // Best effort: the link is printed either way.
    const child = spawn(command, args as string[], { stdio: 'ignore', detached: true });
    child.on('error', () => {});
    child.unref();
  } catch {
    // No opener here; the printed link still works.
  }
}

export function register(program: Command): void {
  program
    .command('dashboard')
    .description('print a one-time sign-in link to the web dashboard (single use, two minutes), and open it')
    .option('--no-open', 'only print the link, even on a desktop')
    .action(async (options: { open: boolean }, command: Command) => {
      const { url } = resolveConnection(globalOptions(command));
      const link = await client(command).auth.signInLink({ baseUrl: url });
      output(globalOptions(command).json, link, () => {
        process.stdout.write(`${link.url}\n`);
        process.stderr.write(`open it within two minutes; it signs in once (expires ${link.expiresAt})\n`);
      });
      if (options.open && !globalOptions(command).json && hasDesktop()) openBrowser(link.url);
    });
}
