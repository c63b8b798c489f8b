import type { Command } from 'commander';
import { registerList } from '../../command-kinds.js';

export function register(project: Command): void {
  registerList(project, {
    description: "the org's projects",
    fetch: (rt) => rt.projects.list(),
    columns: [
      ['id', (item) => item.id],
      ['slug', (item) => item.slug],
      ['name', (item) => item.name],
      ['default', (item) => (item.isDefault ? 'yes' : '')],
    ],
    empty: 'No projects.',
  });
}
