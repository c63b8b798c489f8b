import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { UserError } from '../../errors.js';
import { printJson } from '../../output.js';

export function register(sandbox: Command): void {
  sandbox
    .command('exec <id> [command...]')
    .description("run a shell command in a sandbox; exits with the command's exit code (use -- before the command)")
    .option('--cwd <dir>', 'working directory inside the sandbox')
    .option('--timeout <ms>', 'kill the command after this many milliseconds (default 60000)')
    .option('--background', 'start it as a background process, print its pid and return (see sandbox ps, kill)')
    .action(
      async (
        id: string,
        words: string[],
        flags: { cwd?: string; timeout?: string; background?: boolean },
        command: Command,
      ) => {
        if (words.length === 0) throw new UserError('no command given', 'runtools sandbox exec ID -- ls -la');
        const timeout = flags.timeout === undefined ? undefined : Number(flags.timeout);
        if (timeout !== undefined && !(timeout > 0))
          throw new UserError('--timeout must be a positive number of milliseconds');
        const sandbox = await client(command).sandboxes.get(id);
        const json = globalOptions(command).json;
        if (flags.background) {
          const started = await sandbox.processes.start(words.join(' '), {
            ...(flags.cwd ? { cwd: flags.cwd } : {}),
            ...(timeout ? { timeout } : {}),
          });
          if (json) printJson(await started.refresh());
          else process.stdout.write(`${started.pid}\n`);
          return;
        }
        const result = await sandbox.exec(words.join(' '), {
          ...(flags.cwd ? { cwd: flags.cwd } : {}),
          ...(timeout ? { timeout } : {}),
          // For people, output streams as it comes; --json waits for the whole result.
          ...(json
            ? {}
            : {
                onStdout: (text: string) => process.stdout.write(text),
                onStderr: (text: string) => process.stderr.write(text),
              }),
        });
        if (json) printJson(result);
        else if (result.timedOut)
          process.stderr.write(`runtools: the command was killed after ${timeout ?? 60000} ms\n`);
        process.exitCode = result.exitCode;
      },
    );
}
