import type { Command } from 'commander';
import { registerList } from '../../command-kinds.js';

/** `runtools models`: the model table. */
export function register(program: Command): void {
  registerList(program, {
    name: 'models',
    description: 'the model table: aliases, built-in providers, registered ones, and the secret each key is in',
    fetch: (rt) => rt.models.list(),
    columns: [
      ['alias', (item) => item.alias],
      ['provider', (item) => item.provider],
      ['model id', (item) => item.modelId],
      ['secret', (item) => item.secret],
    ],
    empty: 'No models.',
  });
}
