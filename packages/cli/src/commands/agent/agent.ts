import type { Agent } from '@runtools/sdk';
import type { Command } from 'commander';
import { registerList } from '../../command-kinds.js';
import { client, globalOptions } from '../../context.js';
import { UserError } from '../../errors.js';
import { output, printRecord } from '../../output.js';
import { inProject, projectFlag } from '../project/resolve.js';
import { type DefinitionFlags, definitionFromFlags, definitionOptions } from './definition.js';

/** Where an agent's tools run: its sandbox, or the template its own sandboxes start from. */
export function whereItRuns(agent: Pick<Agent, 'mode' | 'sandboxId' | 'managed'>): string {
  if (agent.mode === 'in_sandbox') return agent.sandboxId ?? '-';
  if (agent.mode === 'managed')
    return `managed (${agent.managed?.template ?? 'default template'}, per ${agent.managed?.scope ?? 'run'})`;
  return agent.mode;
}

function printAgent(agent: Agent): void {
  printRecord([
    ['slug', agent.slug],
    ['name', agent.name],
    ['description', agent.description],
    ['version', agent.version],
    ['model', agent.model],
    ['mode', agent.mode],
    ['sandbox', whereItRuns(agent)],
    ['tools', agent.tools],
    ['max iterations', agent.maxIterations],
    ['system prompt', agent.systemPrompt.length > 200 ? `${agent.systemPrompt.slice(0, 199)}…` : agent.systemPrompt],
    ['updated', agent.updatedAt],
  ]);
}

export function register(agent: Command): void {
  definitionOptions(
    agent
      .command('create <slug>')
      .description('create an agent: model, system prompt, tools and its sandbox')
      .option(...projectFlag),
    'required',
  ).action(async (slug: string, flags: DefinitionFlags & { project?: string }, command: Command) => {
    const definition = definitionFromFlags(flags);
    const { description, ...rest } = definition;
    const rt = client(command);
    const created = await rt.agents.create({
      ...(await inProject(rt, flags.project)),
      slug,
      model: flags.model ?? '',
      ...rest,
      ...(description ? { description } : {}),
    });
    output(globalOptions(command).json, created, () =>
      process.stdout.write(`created ${created.slug} v${created.version} (${created.model}, ${whereItRuns(created)})\n`),
    );
  });

  registerList(agent, {
    description: "the org's agents",
    byProject: true,
    fetch: (rt, flags) => rt.agents.list(flags.projectId ? { projectId: flags.projectId } : {}),
    columns: [
      ['slug', (item) => item.slug],
      ['version', (item) => item.version],
      ['model', (item) => item.model],
      ['mode', (item) => item.mode],
      ['sandbox', (item) => whereItRuns(item)],
      ['tools', (item) => item.tools.length],
      ['updated', (item) => item.updatedAt],
    ],
    empty: 'No agents.',
  });

  agent
    .command('get <slug>')
    .description('one agent, as its latest version defines it')
    .action(async (slug: string, _flags, command: Command) => {
      const found = await client(command).agents.get(slug);
      output(globalOptions(command).json, found, () => printAgent(found));
    });

  definitionOptions(
    agent
      .command('update <slug>')
      .description('change an agent (a new version; runs in progress keep theirs); only the flags given change')
      .option('--project <project>', 'move it to this project of the org (slug, name or id; not a new version)'),
    'optional',
  ).action(async (slug: string, flags: DefinitionFlags & { project?: string }, command: Command) => {
    const rt = client(command);
    const changes = { ...definitionFromFlags(flags), ...(await inProject(rt, flags.project)) };
    if (Object.keys(changes).length === 0)
      throw new UserError('nothing to change', `runtools agent update ${slug} --model MODEL (see --help)`);
    // Switching a linked agent to managed without --template: a managed sandbox with the defaults (the
    // server would otherwise keep the linked sandbox's id, which managed mode refuses).
    const toManaged =
      changes.mode === 'managed' && changes.sandbox === undefined && (await rt.agents.get(slug)).mode !== 'managed';
    const updated = await rt.agents.update(slug, { ...changes, ...(toManaged ? { sandbox: {} } : {}) });
    output(globalOptions(command).json, updated, () =>
      process.stdout.write(
        `updated ${updated.slug} to v${updated.version}${flags.project ? ` in project ${updated.projectId}` : ''}\n`,
      ),
    );
  });

  agent
    .command('delete <slug>')
    .description('delete an agent (its runs and threads stay readable)')
    .action(async (slug: string, _flags, command: Command) => {
      const result = await client(command).agents.delete(slug);
      output(globalOptions(command).json, result, () => process.stdout.write(`Deleted ${slug}\n`));
    });

  registerList(agent, {
    name: 'versions <slug>',
    description: 'every version of an agent, newest first',
    fetch: (rt, _flags, [slug]) => rt.agents.versions(slug as string),
    columns: [
      ['version', (item) => item.version],
      ['model', (item) => item.model],
      ['mode', (item) => item.mode],
      ['tools', (item) => item.tools.length],
      ['max iterations', (item) => item.maxIterations],
      ['created', (item) => item.createdAt],
    ],
    empty: 'No versions.',
  });
}
