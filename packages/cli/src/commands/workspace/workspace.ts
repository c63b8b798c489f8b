import type { Command } from 'commander';
import { registerList } from '../../command-kinds.js';
import { client, globalOptions } from '../../context.js';
import { UserError } from '../../errors.js';
import { output, printRecord } from '../../output.js';
import { inProject, projectFlag, projectIdOf } from '../project/resolve.js';

export function register(workspace: Command): void {
  workspace
    .command('create <name>')
    .description('create a workspace: storage that outlives sandboxes')
    .option('--slug <slug>', 'a short unique name (default: from the name)')
    .option('--personal', "yours only (and your admins'), never mounted into sandboxes")
    .option(...projectFlag)
    .action(async (name: string, flags: { slug?: string; personal?: boolean; project?: string }, command: Command) => {
      const rt = client(command);
      const created = await rt.workspaces.create({
        name,
        ...(await inProject(rt, flags.project)),
        ...(flags.slug ? { slug: flags.slug } : {}),
        kind: flags.personal ? 'personal' : 'org',
      });
      output(globalOptions(command).json, created, () => process.stdout.write(`${created.id} ${created.slug}\n`));
    });

  registerList(workspace, {
    description: "the org's workspaces and your personal ones",
    byProject: true,
    fetch: (rt, flags) => rt.workspaces.list(flags.projectId ? { projectId: flags.projectId } : {}),
    columns: [
      ['id', (item) => item.id],
      ['slug', (item) => item.slug],
      ['kind', (item) => item.kind],
      ['name', (item) => item.name],
    ],
    empty: 'No workspaces.',
  });

  workspace
    .command('get <workspace>')
    .description('one workspace (by id or slug), with its usage')
    .action(async (id: string, _flags, command: Command) => {
      const rt = client(command);
      const found = await rt.workspaces.get(id);
      const usage = await rt.workspaces.usage(id);
      output(globalOptions(command).json, { ...found, usage }, () =>
        printRecord([
          ['id', found.id],
          ['name', found.name],
          ['slug', found.slug],
          ['kind', found.kind],
          ['usage', `${usage.bytes} bytes in ${usage.files} files, ${usage.directories} directories`],
          ['created', found.createdAt],
        ]),
      );
    });

  workspace
    .command('rename <workspace> <name>')
    .description('rename a workspace')
    .action(async (id: string, name: string, _flags, command: Command) => {
      const renamed = await client(command).workspaces.rename(id, name);
      output(globalOptions(command).json, renamed, () => process.stdout.write(`${renamed.id} ${renamed.name}\n`));
    });

  workspace
    .command('move <workspace> <project>')
    .description('move a workspace to another project of the org (by its slug, name or id)')
    .action(async (id: string, project: string, _flags, command: Command) => {
      const rt = client(command);
      const moved = await rt.workspaces.move(id, await projectIdOf(rt, project));
      output(globalOptions(command).json, moved, () => process.stdout.write(`${moved.id} in ${moved.projectId}\n`));
    });

  workspace
    .command('delete <workspace>')
    .description('delete a workspace and its files (refused while a sandbox mounts it)')
    .option('--yes', 'confirm')
    .action(async (id: string, flags: { yes?: boolean }, command: Command) => {
      if (!flags.yes)
        throw new UserError('deleting a workspace deletes its files', `runtools workspace delete ${id} --yes`);
      await client(command).workspaces.delete(id);
      output(globalOptions(command).json, { id, deleted: true }, () => process.stdout.write(`deleted ${id}\n`));
    });
}
