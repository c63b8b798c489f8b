import type { Command } from 'commander';
import { listFrom, registerList } from '../../command-kinds.js';
import { client, globalOptions } from '../../context.js';
import { UserError } from '../../errors.js';
import { output } from '../../output.js';

export function register(sandbox: Command): void {
  registerList(sandbox, {
    name: 'ps <id>',
    description: 'background processes of a sandbox (running, and the last ones that ended), by start time',
    fetch: (rt, _flags, [id]) =>
      listFrom(
        () => rt.sandboxes.get(id as string),
        (found) => found.processes.list(),
      ),
    columns: [
      ['pid', (entry) => entry.pid],
      ['state', (entry) => (entry.running ? 'running' : 'exited')],
      ['exit', (entry) => (entry.exitCode === null ? '' : entry.exitCode)],
      ['started', (entry) => entry.startedAt],
      ['command', (entry) => entry.command],
    ],
    empty: 'no background processes',
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
