import { createReadStream, statSync } from 'node:fs';
import type { Command } from 'commander';
import { client } from '../../../context.js';
import { UserError } from '../../../errors.js';

export function register(files: Command): void {
  files
    .command('put <id> <local> <remote>')
    .description('copy a local file into a sandbox, streamed (parent directories are created)')
    .action(async (id: string, local: string, remote: string, _flags, command: Command) => {
      try {
        if (!statSync(local).isFile()) throw new Error('not a regular file');
      } catch (error) {
        throw new UserError(`cannot read ${local}: ${(error as Error).message}`);
      }
      const sandbox = await client(command).sandboxes.get(id);
      const result = await sandbox.files.upload(remote, createReadStream(local));
      process.stdout.write(`Copied ${result.size} bytes to ${id}:${remote}\n`);
    });
}
