import type { Command } from 'commander';
import { registerList } from '../../command-kinds.js';

export function register(workflow: Command): void {
  registerList(workflow, {
    name: 'versions <slug>',
    description: "a workflow's published versions, newest first",
    fetch: (rt, _flags, [slug]) => rt.workflows.versions(slug as string),
    columns: [
      ['version', (item) => `v${item.version}`],
      ['visibility', (item) => item.visibility],
      ['note', (item) => item.note],
      ['published by', (item) => item.publishedBy],
      ['created', (item) => item.createdAt],
    ],
    empty: 'No published versions: `runtools workflow publish SLUG`.',
  });
}
