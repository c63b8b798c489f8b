import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output, printRecord } from '../../output.js';

export function register(sandbox: Command): void {
  sandbox
    .command('get <id>')
    .description('one sandbox by id')
    .action(async (id: string, _flags, command: Command) => {
      const found = (await client(command).sandboxes.get(id)).info;
      output(globalOptions(command).json, found, () =>
        printRecord([
          ['id', found.id],
          ['name', found.name],
          ['status', found.statusReason ? `${found.status} (${found.statusReason})` : found.status],
          ['runtime', found.runtime],
          ['template', found.template],
          ['vcpus', found.resources.vcpus],
          ['memory', `${Math.round(found.resources.memoryBytes / 1024 / 1024)} MiB`],
          ['metadata', Object.entries(found.metadata).map(([key, value]) => `${key}=${value}`)],
          ['created', found.createdAt],
        ]),
      );
    });
}
