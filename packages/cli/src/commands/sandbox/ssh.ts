import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { client } from '../../context.js';

/**
 * `sandbox ssh ID [ssh options…]`: runs OpenSSH's own client against the gateway, as the sandbox; extra
 * arguments are ssh options (`-i key`, `-L 8080:127.0.0.1:8080`, `-o …`), given before the destination.
 */
export function register(sandbox: Command): void {
  sandbox
    .command('ssh <id> [options...]')
    .allowUnknownOption()
    .description('connect with your ssh client (your key must be registered: runtools ssh-key add)')
    .action(async (id: string, args: string[], _flags, command: Command) => {
      const { host, port, username } = await (await client(command).sandboxes.get(id)).getSSH();
      const child = spawn('ssh', ['-p', String(port), ...args, `${username}@${host}`], { stdio: 'inherit' });
      process.exitCode = await new Promise<number>((resolve) => {
        child.on('error', () => resolve(127));
        child.on('close', (code) => resolve(code ?? 255));
      });
    });
}
