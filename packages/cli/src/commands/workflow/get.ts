import type { Workflow } from '@runtools/sdk';
import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output, printRecord } from '../../output.js';

interface GraphShape {
  nodes?: { id: string; type: string }[];
  edges?: { source: string; target: string; condition?: boolean }[];
}

/** The graph in lines people read: each node with its type, each edge with its condition. */
export function graphLines(graph: unknown): { nodes: string[]; edges: string[] } {
  const shape = (graph ?? {}) as GraphShape;
  return {
    nodes: (shape.nodes ?? []).map((node) => `${node.id} (${node.type})`),
    edges: (shape.edges ?? []).map(
      (edge) => `${edge.source} → ${edge.target}${edge.condition === undefined ? '' : ` [${edge.condition}]`}`,
    ),
  };
}

function printWorkflow(workflow: Workflow): void {
  const { nodes, edges } = graphLines(workflow.graph);
  printRecord([
    ['slug', workflow.slug],
    ['name', workflow.name],
    ['description', workflow.description],
    ['draft', `revision ${workflow.draftRevision}`],
    ['latest version', workflow.latestVersion === null ? 'not published' : `v${workflow.latestVersion}`],
    ['visibility', workflow.visibility],
    ['nodes', nodes],
    ['edges', edges],
    ['updated', workflow.updatedAt],
  ]);
}

export function register(workflow: Command): void {
  workflow
    .command('get <slug>')
    .description('one workflow with its draft (--json: the draft graph in full)')
    .action(async (slug: string, _flags, command: Command) => {
      const found = await client(command).workflows.get(slug);
      output(globalOptions(command).json, found, () => printWorkflow(found));
    });
}
