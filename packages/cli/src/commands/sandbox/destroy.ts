import type { Command } from 'commander';
import { registerRemoval } from '../../command-kinds.js';

export function register(sandbox: Command): void {
  registerRemoval(sandbox, {
    usage: 'destroy <id>',
    description: 'destroy a sandbox and everything in it',
    remove: async (rt, id) => await (await rt.sandboxes.get(id)).destroy(),
    done: 'Destroyed',
  });
}
