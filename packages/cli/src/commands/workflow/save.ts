import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output } from '../../output.js';
import { loadWorkflowFile, reportingGraphProblems } from '../../workflow-files.js';
import { inProject } from '../project/resolve.js';

export function register(workflow: Command): void {
  workflow
    .command('save <file>')
    .summary('create a workflow or update its draft from a file')
    .description(
      'create a workflow or update its draft (by slug, from the name unless the file gives one) from FILE: a .json ' +
        'file with { "name", "graph" } or a .ts/.js file whose default export is defineWorkflow({ name, graph }). ' +
        'The graph is checked here, then on the server (agents and tools it names, expressions); every problem ' +
        'is printed with its node. Published versions and runs in flight never change',
    )
    .option('--project <project>', "a new workflow's project, or the project to move it to (slug, name or id)")
    .action(async (file: string, flags: { project?: string }, command: Command) => {
      const definition = await reportingGraphProblems(`${file} not saved`, () => loadWorkflowFile(file));
      const rt = client(command);
      const project = await inProject(rt, flags.project);
      const saved = await reportingGraphProblems(`${file} not saved`, () =>
        rt.workflows.save({ ...definition, ...project }),
      );
      output(globalOptions(command).json, saved, () =>
        process.stdout.write(
          `saved ${saved.slug} draft r${saved.draftRevision}${saved.latestVersion === null ? ' (not published yet)' : ` (latest published: v${saved.latestVersion})`}\n`,
        ),
      );
    });
}
