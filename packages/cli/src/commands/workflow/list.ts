import type { Command } from 'commander';
import { registerList } from '../../command-kinds.js';

export function register(workflow: Command): void {
  registerList(workflow, {
    description: "the org's workflows, by slug",
    byProject: true,
    fetch: (rt, flags) => rt.workflows.list(flags.projectId ? { projectId: flags.projectId } : {}),
    columns: [
      ['slug', (item) => item.slug],
      ['name', (item) => item.name],
      ['draft', (item) => `r${item.draftRevision}`],
      ['latest', (item) => (item.latestVersion === null ? null : `v${item.latestVersion}`)],
      ['visibility', (item) => item.visibility],
      ['updated', (item) => item.updatedAt],
    ],
    empty: 'No workflows: `runtools workflow save FILE`, or deploy workflows/*.ts with `runtools deploy`.',
  });
}
