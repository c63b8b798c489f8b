import type { Command } from 'commander';
import { registerRemoval } from '../../command-kinds.js';

export function register(sshKey: Command): void {
  registerRemoval(sshKey, {
    usage: 'remove <id>',
    description: 'remove an SSH public key',
    remove: (rt, id) => rt.sshKeys.remove(id),
    done: 'Removed',
  });
}
