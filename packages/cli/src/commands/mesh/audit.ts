import { MeshAuditAction, type MeshAuditEntry } from '@runtools/spec';
import type { Command } from 'commander';
import { registerList } from '../../command-kinds.js';
import { UserError } from '../../errors.js';

export function register(mesh: Command): void {
  registerList<MeshAuditEntry, { node?: string; action?: string }>(mesh, {
    name: 'audit',
    description: 'the RunMesh audit log, newest first: links, connections, config fetches, dispatches, revocations',
    options: (command) =>
      command
        .option('--node <id>', 'only this node (mnd_…)')
        .option('--action <action>', `only one action: ${MeshAuditAction.options.join(', ')}`),
    fetch: (rt, flags) => {
      const action = flags.action === undefined ? undefined : MeshAuditAction.safeParse(flags.action);
      if (action && !action.success)
        throw new UserError(`--action must be one of ${MeshAuditAction.options.join(', ')}`);
      return rt.mesh.audit({
        ...(flags.node ? { nodeId: flags.node } : {}),
        ...(action?.success ? { action: action.data } : {}),
      });
    },
    columns: [
      ['at', (entry) => entry.at],
      ['action', (entry) => entry.action],
      ['actor', (entry) => `${entry.actor.kind}:${entry.actor.id}`],
      ['node', (entry) => entry.nodeId],
      ['from', (entry) => entry.from],
      ['details', (entry) => JSON.stringify(entry.details)],
    ],
    empty: 'Nothing in the RunMesh audit log yet.',
  });
}
