import type { Command } from 'commander';
import { client } from '../../../context.js';

export function register(files: Command): void {
  files
    .command('cat <id> <path>')
    .description("print a file's bytes from inside a sandbox")
    .action(async (id: string, path: string, _flags, command: Command) => {
      process.stdout.write(await (await client(command).sandboxes.get(id)).files.download(path));
    });
}
