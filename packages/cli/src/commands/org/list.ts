import type { Command } from 'commander';
import { registerList } from '../../command-kinds.js';

export function register(org: Command): void {
  registerList(org, {
    description: "the key's org (a key acts in one org and sees no other)",
    fetch: (rt) => rt.orgs.list(),
    columns: [
      ['id', (item) => item.id],
      ['slug', (item) => item.slug],
      ['name', (item) => item.name],
      ['role', (item) => item.role],
    ],
    empty: 'No orgs.',
  });
}
