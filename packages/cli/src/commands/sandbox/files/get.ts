import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { client } from '../../../context.js';

export function register(files: Command): void {
  files
    .command('get <id> <remote> [local]')
    .description('copy a file out of a sandbox, streamed (default: its name, in the current directory)')
    .action(async (id: string, remote: string, local: string | undefined, _flags, command: Command) => {
      const stream = await (await client(command).sandboxes.get(id)).files.downloadStream(remote);
      const target = local ?? basename(remote);
      // Into a temporary name first: a broken transfer does not leave half a file under the real one.
      const partial = `${target}.part`;
      let bytes = 0;
      try {
        await pipeline(
          Readable.fromWeb(stream as import('node:stream/web').ReadableStream<Uint8Array>).on(
            'data',
            (chunk: Buffer) => {
              bytes += chunk.length;
            },
          ),
          createWriteStream(partial),
        );
        renameSync(partial, target);
      } catch (error) {
        rmSync(partial, { force: true });
        throw error;
      }
      process.stdout.write(`Copied ${bytes} bytes to ${target}\n`);
    });
}
