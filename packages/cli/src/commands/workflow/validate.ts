import { describeGraphProblem } from '@runtools/sdk';
import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { UserError } from '../../errors.js';
import { output } from '../../output.js';
import { readWorkflowFile, reportingGraphProblems } from '../../workflow-files.js';

export function register(workflow: Command): void {
  workflow
    .command('validate <file>')
    .description(
      "check a workflow file's graph on the server without saving it (as `save` would: node configs, edges, " +
        'cycles, the agents and tools it names, expressions); exits 2 when it has problems, each printed with its node',
    )
    .action(async (file: string, _flags, command: Command) => {
      // A .ts file whose defineWorkflow refuses its graph says so as it loads.
      const value = await reportingGraphProblems(file, () => readWorkflowFile(file));
      // A file with { name, graph } or a bare graph { nodes, edges }.
      const graph = value && typeof value === 'object' && 'graph' in value ? value.graph : value;
      const result = await client(command).workflows.validate(graph);
      output(globalOptions(command).json, result, () => {
        if (result.valid) process.stdout.write(`${file}: valid\n`);
        for (const problem of result.problems) process.stdout.write(`${describeGraphProblem(problem)}\n`);
      });
      if (!result.valid)
        throw new UserError(
          `${file}: the graph has ${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}`,
        );
    });
}
