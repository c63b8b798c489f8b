import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { client } from '../../../context.js';

export function register(files: Command): void {
  files
    .command('get <id> <remote> [local]')
    .description('copy a file out of a sandbox (default: its name, in the current directory)')
    .action(async (id: string, remote: string, local: string | undefined, _flags, command: Command) => {
      const data = await (await client(command).sandboxes.get(id)).files.download(remote);
      const target = local ?? basename(remote);
      writeFileSync(target, data);
      process.stdout.write(`Copied ${data.length} bytes to ${target}\n`);
    });
}
