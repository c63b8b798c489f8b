import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { UserError } from '../../errors.js';
import { output, printRecord } from '../../output.js';
import { inProject, projectFlag } from '../project/resolve.js';
import { collectPair } from './pairs.js';

interface CreateFlags {
  name?: string;
  template?: string;
  runtime?: string;
  env?: Record<string, string>;
  metadata?: Record<string, string>;
  vcpus?: string;
  memory?: string;
  disk?: string;
  idleTimeout?: string;
  internet?: boolean;
  autoResume?: boolean;
  mount?: string[];
  project?: string;
}

export function register(sandbox: Command): void {
  sandbox
    .command('create')
    .description('create a sandbox and wait until it runs')
    .option('--name <name>', 'a name for it')
    .option('--template <template>', 'root filesystem template (default minimal)')
    .option('--runtime <runtime>', 'gvisor (isolated, default) or container (fast, shares the kernel)')
    .option('--env <KEY=VALUE>', 'environment variable (repeatable)', collectPair)
    .option('--metadata <KEY=VALUE>', 'metadata to filter by later (repeatable)', collectPair)
    .option('--vcpus <n>', 'CPU limit')
    .option('--memory <size>', 'memory limit, e.g. 512MB or 2GB')
    .option('--disk <size>', 'size of its writable disk, e.g. 10GB (default: unlimited)')
    .option(
      '--mount <WORKSPACE:PATH>',
      'mount an org workspace (its id or slug) at /workspace or under it (repeatable)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--internet', 'allow outbound internet access (never the host, private networks or other sandboxes)')
    .option('--idle-timeout <seconds>', 'pause after this many seconds without activity (0 never, default 900)')
    .option('--auto-resume', 'resume by itself when paused and used (exec, files, processes)')
    .option(...projectFlag)
    .action(async (flags: CreateFlags, command: Command) => {
      if (flags.runtime && flags.runtime !== 'gvisor' && flags.runtime !== 'container') {
        throw new UserError('--runtime must be gvisor or container');
      }
      const vcpus = flags.vcpus === undefined ? undefined : Number(flags.vcpus);
      if (vcpus !== undefined && !(vcpus > 0)) throw new UserError('--vcpus must be a positive number');
      const idleTimeout = flags.idleTimeout === undefined ? undefined : Number(flags.idleTimeout);
      if (idleTimeout !== undefined && !(Number.isInteger(idleTimeout) && idleTimeout >= 0))
        throw new UserError('--idle-timeout must be a whole number of seconds (0 never)');
      const rt = client(command);
      const json = globalOptions(command).json;
      // A template that is not built yet is built first, with its progress shown (a minute or two, once).
      // (A key that may create sandboxes but not read templates skips this: the create still builds it.)
      const templates = await rt.templates.list().catch(() => []);
      const template = templates.find((item) => (flags.template ? item.name === flags.template : item.default));
      if (template && template.status !== 'ready') {
        // On stderr even with --json: stdout stays the one JSON document.
        process.stderr.write(`building template ${template.name} (once, a minute or two)\n`);
        await rt.templates.build(template.name, { onProgress: (line) => process.stderr.write(`  ${line}\n`) });
      }
      const project = await inProject(rt, flags.project);
      const created = await rt.sandboxes.create({
        ...project,
        ...(flags.name ? { name: flags.name } : {}),
        ...(flags.template ? { template: flags.template } : {}),
        ...(flags.runtime ? { runtime: flags.runtime as 'gvisor' | 'container' } : {}),
        ...(flags.env ? { env: flags.env } : {}),
        ...(flags.metadata ? { metadata: flags.metadata } : {}),
        ...(idleTimeout !== undefined ? { idleTimeout } : {}),
        ...(flags.internet ? { network: { internet: true } } : {}),
        ...(flags.autoResume ? { autoResume: true } : {}),
        ...(flags.mount
          ? {
              mounts: flags.mount.map((value) => {
                const [workspaceId, path] = value.split(':');
                if (!workspaceId) throw new UserError(`--mount needs WORKSPACE[:PATH] (an id or slug), got "${value}"`);
                return { workspaceId, path: path || '/workspace' };
              }),
            }
          : {}),
        ...(vcpus !== undefined || flags.memory || flags.disk
          ? {
              resources: {
                ...(vcpus !== undefined ? { vcpus } : {}),
                ...(flags.memory ? { memory: flags.memory } : {}),
                ...(flags.disk ? { disk: flags.disk } : {}),
              },
            }
          : {}),
      });
      output(json, created.info, () =>
        printRecord([
          ['id', created.id],
          ['status', created.status],
          ['runtime', created.info.runtime],
          ['template', created.info.template],
        ]),
      );
    });
}
