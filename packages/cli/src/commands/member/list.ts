import type { Command } from 'commander';
import { registerList } from '../../command-kinds.js';

export function register(member: Command): void {
  registerList(member, {
    description: "the org's members and roles",
    fetch: (rt) => rt.members.list(),
    columns: [
      ['id', (item) => item.id],
      ['email', (item) => item.email],
      ['role', (item) => item.role],
    ],
    empty: 'No members.',
  });
}
