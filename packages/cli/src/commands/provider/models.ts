import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output, printTable } from '../../output.js';

/** `runtools models`: the model table. */
export function register(program: Command): void {
  program
    .command('models')
    .description('the model table: aliases, built-in providers, registered ones, and the secret each key is in')
    .action(async (_flags, command: Command) => {
      const list = await client(command).models.list();
      output(globalOptions(command).json, list, () =>
        printTable(
          list,
          [
            ['alias', (item) => item.alias],
            ['provider', (item) => item.provider],
            ['model id', (item) => item.modelId],
            ['secret', (item) => item.secret],
          ],
          'No models.',
        ),
      );
    });
}
