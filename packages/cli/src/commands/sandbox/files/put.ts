import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { client } from '../../../context.js';
import { UserError } from '../../../errors.js';

export function register(files: Command): void {
  files
    .command('put <id> <local> <remote>')
    .description('copy a local file into a sandbox (parent directories are created)')
    .action(async (id: string, local: string, remote: string, _flags, command: Command) => {
      let data: Buffer;
      try {
        data = readFileSync(local);
      } catch (error) {
        throw new UserError(`cannot read ${local}: ${(error as Error).message}`);
      }
      await (await client(command).sandboxes.get(id)).files.upload(remote, data);
      process.stdout.write(`Copied ${data.length} bytes to ${id}:${remote}\n`);
    });
}
