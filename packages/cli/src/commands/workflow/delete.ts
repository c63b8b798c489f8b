import type { Command } from 'commander';
import { registerRemoval } from '../../command-kinds.js';

export function register(workflow: Command): void {
  registerRemoval(workflow, {
    usage: 'delete <slug>',
    description: 'delete a workflow with its versions and triggers (refused while a run of it is in progress)',
    remove: (rt, slug) => rt.workflows.delete(slug),
    done: 'deleted',
  });
}
