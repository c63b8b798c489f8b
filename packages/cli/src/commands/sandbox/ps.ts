import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { UserError } from '../../errors.js';
import { output, printTable } from '../../output.js';

export function register(sandbox: Command): void {
  sandbox
    .command('ps <id>')
    .description('background processes of a sandbox (running, and the last ones that ended)')
    .action(async (id: string, _flags, command: Command) => {
      const processes = await (await client(command).sandboxes.get(id)).processes.list();
      output(globalOptions(command).json, processes, () =>
        printTable(
          processes,
          [
            ['pid', (entry) => entry.pid],
            ['state', (entry) => (entry.running ? 'running' : 'exited')],
            ['exit', (entry) => (entry.exitCode === null ? '' : entry.exitCode)],
            ['started', (entry) => entry.startedAt],
            ['command', (entry) => entry.command],
          ],
          'no background processes',
        ),
      );
    });
  sandbox
    .command('kill <id> <pid>')
    .description('send a signal to a background process and everything it started')
    .option('-s, --signal <signal>', 'TERM (default), KILL, INT, HUP, QUIT, USR1, USR2, STOP or CONT', 'TERM')
    .action(async (id: string, pid: string, flags: { signal: string }, command: Command) => {
      if (!/^\d+$/.test(pid)) throw new UserError(`pid must be a number, not "${pid}"`);
      const signal = flags.signal.toUpperCase().replace(/^SIG/, '');
      const allowed = ['TERM', 'KILL', 'INT', 'HUP', 'QUIT', 'USR1', 'USR2', 'STOP', 'CONT'] as const;
      if (!(allowed as readonly string[]).includes(signal)) throw new UserError(`unknown signal ${flags.signal}`);
      const handle = await (await client(command).sandboxes.get(id)).processes.get(Number(pid));
      await handle.kill(signal as (typeof allowed)[number]);
      output(globalOptions(command).json, { pid: Number(pid), signal }, () =>
        process.stdout.write(`sent SIG${signal} to ${pid}\n`),
      );
    });
}
