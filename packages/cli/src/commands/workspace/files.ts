import { createReadStream, createWriteStream, renameSync, rmSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { UserError } from '../../errors.js';
import { output, printTable } from '../../output.js';

export function register(files: Command): void {
  files
    .command('ls <workspace> [path]')
    .description('list a directory of a workspace (default /)')
    .option('-a, --all', 'include names starting with a dot')
    .action(async (workspace: string, path: string | undefined, flags: { all?: boolean }, command: Command) => {
      const entries = await client(command)
        .workspaces.files(workspace)
        .list(path ?? '/', { showHidden: flags.all ?? false });
      output(globalOptions(command).json, entries, () =>
        printTable(
          entries,
          [
            ['name', (entry) => entry.name],
            ['type', (entry) => entry.type],
            ['size', (entry) => entry.size],
            ['modified', (entry) => entry.modifiedAt],
          ],
          '(empty)',
        ),
      );
    });

  files
    .command('put <workspace> <local> <path>')
    .description('upload a local file into a workspace, streamed')
    .action(async (workspace: string, local: string, path: string, _flags, command: Command) => {
      try {
        if (!statSync(local).isFile()) throw new Error('not a regular file');
      } catch (error) {
        throw new UserError(`cannot read ${local}: ${(error as Error).message}`);
      }
      const entry = await client(command).workspaces.files(workspace).upload(path, createReadStream(local));
      process.stdout.write(`Copied ${entry.size} bytes to ${workspace}:${entry.path}\n`);
    });

  files
    .command('get <workspace> <path> [local]')
    .description('download a file from a workspace, streamed (default: its name, here)')
    .action(async (workspace: string, path: string, local: string | undefined, _flags, command: Command) => {
      const stream = await client(command).workspaces.files(workspace).downloadStream(path);
      const target = local ?? basename(path);
      const partial = `${target}.part`;
      try {
        await pipeline(Readable.fromWeb(stream as NodeReadableStream<Uint8Array>), createWriteStream(partial));
        renameSync(partial, target);
      } catch (error) {
        rmSync(partial, { force: true });
        throw error;
      }
      process.stdout.write(`Copied ${statSync(target).size} bytes to ${target}\n`);
    });

  files
    .command('mkdir <workspace> <path>')
    .description('create a directory and its parents')
    .action(async (workspace: string, path: string, _flags, command: Command) => {
      await client(command).workspaces.files(workspace).mkdir(path);
    });

  files
    .command('mv <workspace> <from> <to>')
    .description('move or rename a file or directory')
    .action(async (workspace: string, from: string, to: string, _flags, command: Command) => {
      await client(command).workspaces.files(workspace).move(from, to);
    });

  files
    .command('rm <workspace> <path>')
    .description('delete a file or a directory tree')
    .action(async (workspace: string, path: string, _flags, command: Command) => {
      await client(command).workspaces.files(workspace).remove(path);
    });
}
