import type { Command } from 'commander';
import { registerList } from '../../command-kinds.js';

export function register(sshKey: Command): void {
  registerList(sshKey, {
    description: "the org's SSH public keys",
    fetch: (rt) => rt.sshKeys.list(),
    columns: [
      ['id', (key) => key.id],
      ['name', (key) => key.name],
      ['type', (key) => key.algorithm],
      ['fingerprint', (key) => key.fingerprint],
      ['comment', (key) => key.comment],
    ],
    empty: 'No SSH keys.',
  });
}
