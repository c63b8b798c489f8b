import { readFileSync } from 'node:fs';
import type { TemplateCreateRequest } from '@runtools/sdk';
import type { Command } from 'commander';
import { registerList } from '../../command-kinds.js';
import { client, globalOptions } from '../../context.js';
import { UserError } from '../../errors.js';
import { output, printRecord } from '../../output.js';
import { collectPair } from '../sandbox/pairs.js';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function register(template: Command): void {
  registerList(template, {
    description: 'built-in templates and the org’s own, with whether each is built',
    fetch: (rt) => rt.templates.list(),
    columns: [
      ['name', (item) => item.name],
      ['status', (item) => item.status],
      ['base', (item) => item.base ?? '-'],
      ['description', (item) => item.description],
    ],
    empty: 'No templates.',
  });

  template
    .command('get <name>')
    .description('one template')
    .action(async (name: string, _flags, command: Command) => {
      const found = await client(command).templates.get(name);
      output(globalOptions(command).json, found, () =>
        printRecord([
          ['name', found.name],
          ['status', found.statusReason ? `${found.status} (${found.statusReason})` : found.status],
          ['base', found.base],
          ['description', found.description],
          ['packages', found.packages],
          ['files', found.files],
          ['env', Object.entries(found.env).map(([key, value]) => `${key}=${value}`)],
          ['workdir', found.workdir],
          ['start', found.start],
        ]),
      );
    });

  template
    .command('create <name>')
    .description('define a custom template (then `runtools template build NAME`, or let the first sandbox build it)')
    .option('--from-file <spec.json>', 'read the whole spec (base, packages, commands, files, env, workdir, start)')
    .option('--base <template>', 'the template it builds on (default base)')
    .option('--description <text>', 'what it is for')
    .option('--package <name>', 'a Debian package to install (repeatable)', collect)
    .option('--run <command>', 'a shell command run as root after the packages (repeatable)', collect)
    .option('--file <PATH=LOCAL>', 'copy a local text file to PATH in the template (repeatable)', collectPair)
    .option('--env <KEY=VALUE>', 'environment of every sandbox made from it (repeatable)', collectPair)
    .option('--workdir <dir>', 'working directory of its sandboxes')
    .option('--start <command>', 'a command started in the background in every new sandbox')
    .action(
      async (
        name: string,
        flags: {
          fromFile?: string;
          base?: string;
          description?: string;
          package?: string[];
          run?: string[];
          file?: Record<string, string>;
          env?: Record<string, string>;
          workdir?: string;
          start?: string;
        },
        command: Command,
      ) => {
        let spec: Partial<TemplateCreateRequest> = {};
        if (flags.fromFile) {
          try {
            spec = JSON.parse(readFileSync(flags.fromFile, 'utf8')) as Partial<TemplateCreateRequest>;
          } catch (error) {
            throw new UserError(`cannot read ${flags.fromFile}: ${(error as Error).message}`);
          }
        }
        const files = { ...spec.files };
        for (const [path, local] of Object.entries(flags.file ?? {})) {
          try {
            files[path] = readFileSync(local, 'utf8');
          } catch (error) {
            throw new UserError(`cannot read ${local}: ${(error as Error).message}`);
          }
        }
        const created = await client(command).templates.create({
          ...spec,
          name,
          ...(flags.base ? { base: flags.base } : {}),
          ...(flags.description ? { description: flags.description } : {}),
          ...(flags.package ? { packages: [...(spec.packages ?? []), ...flags.package] } : {}),
          ...(flags.run ? { commands: [...(spec.commands ?? []), ...flags.run] } : {}),
          ...(Object.keys(files).length ? { files } : {}),
          ...(flags.env ? { env: { ...spec.env, ...flags.env } } : {}),
          ...(flags.workdir ? { workdir: flags.workdir } : {}),
          ...(flags.start ? { start: flags.start } : {}),
        });
        output(globalOptions(command).json, created, () =>
          process.stdout.write(`${created.name} ${created.status} (on ${created.base})\n`),
        );
      },
    );

  template
    .command('build <name>')
    .description('build a template (and its bases) now, showing the build as it goes')
    .action(async (name: string, _flags, command: Command) => {
      const json = globalOptions(command).json;
      const started = performance.now();
      const built = await client(command).templates.build(name, {
        onProgress: (line) => {
          if (!json) process.stderr.write(`  ${line}\n`);
        },
      });
      output(json, built, () =>
        process.stdout.write(`${built.name} ready in ${((performance.now() - started) / 1000).toFixed(1)} s\n`),
      );
    });

  template
    .command('delete <name>')
    .description('delete a custom template')
    .action(async (name: string, _flags, command: Command) => {
      await client(command).templates.delete(name);
      output(globalOptions(command).json, { name, deleted: true }, () => process.stdout.write(`deleted ${name}\n`));
    });
}
