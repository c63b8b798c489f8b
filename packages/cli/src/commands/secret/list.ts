import type { Command } from 'commander';
import { registerList } from '../../command-kinds.js';

export function register(secret: Command): void {
  registerList(secret, {
    description: 'secret names and categories (never values)',
    fetch: (rt) => rt.secrets.list(),
    columns: [
      ['name', (item) => item.name],
      ['category', (item) => item.category],
      ['updated', (item) => item.updatedAt],
    ],
    empty: 'No secrets.',
  });
}
