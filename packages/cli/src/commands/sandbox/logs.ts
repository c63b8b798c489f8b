import type { SandboxLogEntry } from '@runtools/sdk';
import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { printJson } from '../../output.js';

function line(entry: SandboxLogEntry): string {
  return `${entry.at}  ${entry.type.padEnd(7)} ${entry.message}`;
}

export function register(sandbox: Command): void {
  sandbox
    .command('logs <id>')
    .description('the sandbox log: status changes, commands and background processes')
    .option('-f, --follow', 'keep printing new entries until the sandbox is destroyed (or Ctrl-C)')
    .action(async (id: string, flags: { follow?: boolean }, command: Command) => {
      const json = globalOptions(command).json;
      const found = await client(command).sandboxes.get(id);
      const entries = await found.logs();
      const print = (entry: SandboxLogEntry) => (json ? printJson(entry) : process.stdout.write(`${line(entry)}\n`));
      if (!flags.follow) {
        if (json) printJson(entries);
        else for (const entry of entries) print(entry);
        return;
      }
      for (const entry of entries) print(entry);
      if (found.status === 'destroyed') return;
      await new Promise<void>((resolve) => {
        const listener = (entry: SandboxLogEntry) => {
          if (entries.length > 0 && entry.seq <= (entries.at(-1)?.seq ?? 0)) return;
          print(entry);
          if (entry.type === 'status' && entry.status === 'destroyed') {
            found.off('log', listener);
            resolve();
          }
        };
        found.on('log', listener);
      });
    });
}
