import type { Command } from 'commander';
import { registerRemoval } from '../../command-kinds.js';

export function register(member: Command): void {
  registerRemoval(member, {
    usage: 'remove <id>',
    description: 'remove a member and revoke their keys',
    remove: (rt, id) => rt.members.remove(id),
    done: 'Removed',
  });
}
