import type { Command } from 'commander';
import { registerRemoval } from '../../command-kinds.js';

export function register(secret: Command): void {
  registerRemoval(secret, {
    usage: 'delete <name>',
    description: 'delete a secret',
    remove: (rt, name) => rt.secrets.delete(name),
    done: 'Deleted',
  });
}
