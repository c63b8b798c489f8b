import type { Command } from 'commander';
import { registerRemoval } from '../../command-kinds.js';

export function register(project: Command): void {
  registerRemoval(project, {
    usage: 'delete <id>',
    description: 'delete a project (not the default one)',
    remove: (rt, id) => rt.projects.delete(id),
    done: 'Deleted',
  });
}
