import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { client } from '../../context.js';

/** `sandbox ssh ID [-- ssh args…]`: runs OpenSSH's own client against the gateway, as the sandbox. */
export function register(sandbox: Command): void {
  sandbox
    .command('ssh <id> [args...]')
    .description('connect with your ssh client (your key must be registered: runtools ssh-key add)')
    .action(async (id: string, args: string[], _flags, command: Command) => {
      const { host, port, username } = await (await client(command).sandboxes.get(id)).getSSH();
      const child = spawn('ssh', ['-p', String(port), `${username}@${host}`, ...args], { stdio: 'inherit' });
      process.exitCode = await new Promise<number>((resolve) => {
        child.on('error', () => resolve(127));
        child.on('close', (code) => resolve(code ?? 255));
      });
    });
}
