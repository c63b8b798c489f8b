import type { Command } from 'commander';
import { registerList } from '../../../command-kinds.js';

export function register(keys: Command): void {
  registerList(keys, {
    description: 'API keys by prefix (yours; all of the org for admins and owners)',
    fetch: (rt) => rt.auth.keys.list(),
    columns: [
      ['id', (key) => key.id],
      ['name', (key) => key.name],
      ['prefix', (key) => key.prefix],
      ['scopes', (key) => key.scopes],
      ['expires', (key) => key.expiresAt],
      ['last used', (key) => key.lastUsedAt],
      ['revoked', (key) => key.revokedAt],
    ],
    empty: 'No API keys.',
  });
}
