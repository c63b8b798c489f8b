import type { Tool } from '@runtools/sdk';
import type { Command } from 'commander';
import { registerList, registerRemoval } from '../../command-kinds.js';
import { client, globalOptions } from '../../context.js';
import { UserError } from '../../errors.js';
import { output, printJson, printRecord } from '../../output.js';

const actionNames = (tool: { actions: { name: string }[] }) => tool.actions.map((action) => action.name).join(', ');

function printTool(tool: Tool): void {
  printRecord([
    ['name', tool.name],
    ['kind', tool.version === null ? tool.kind : `${tool.kind} v${tool.version}`],
    ['provider', tool.provider],
    ['description', tool.description],
    ['auth', tool.auth.kind],
    [
      'credentials',
      Object.keys(tool.credentials.schema).map((field) => {
        const configured = tool.credentials.configured[field];
        const required = tool.credentials.required.includes(field) ? ' (required)' : '';
        return `${field}${required}: ${configured ?? 'not configured'}`;
      }),
    ],
    ['actions', tool.actions.map((action) => `${action.name}: ${action.description}`)],
  ]);
}

/** `KEY=VALUE` or `KEY=secret:NAME` (a secret mapped to the field) or `KEY=` (removed). */
function credentialPairs(pairs: string[]): Record<string, string | { secret: string } | null> {
  const result: Record<string, string | { secret: string } | null> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UserError(`expected FIELD=VALUE, FIELD=secret:NAME or FIELD=, got "${pair}"`);
    const field = pair.slice(0, at);
    const value = pair.slice(at + 1);
    result[field] = value === '' ? null : value.startsWith('secret:') ? { secret: value.slice(7) } : value;
  }
  return result;
}

function parseJson(text: string, what: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (error) {
    throw new UserError(`${what} must be a JSON object: ${(error as Error).message}`);
  }
}

export function register(tools: Command): void {
  registerList(tools, {
    name: 'marketplace',
    description: 'the marketplace: each tool with its provider, auth kind and actions',
    fetch: (rt) => rt.tools.marketplace(),
    columns: [
      ['name', (tool) => tool.name],
      ['provider', (tool) => tool.provider],
      ['auth', (tool) => tool.auth.kind],
      ['installed', (tool) => (tool.installed ? 'yes' : 'no')],
      ['actions', actionNames],
    ],
    empty: 'The marketplace is empty.',
  });

  registerList(tools, {
    name: 'search <query>',
    description: 'marketplace tools ranked by name, provider, actions and description',
    fetch: (rt, _flags, [query]) => rt.tools.search(query as string),
    print: (found, [query]) => {
      if (found.length === 0) process.stdout.write(`No tool matches "${query}".\n`);
      for (const tool of found) process.stdout.write(`${tool.name}  ${tool.description}\n`);
    },
  });

  tools
    .command('install <name>')
    .description('install a marketplace tool in the org (again: no change)')
    .action(async (name: string, _flags, command: Command) => {
      const installed = await client(command).tools.install(name);
      output(globalOptions(command).json, installed, () => process.stdout.write(`installed ${installed.name}\n`));
    });

  registerRemoval(tools, {
    usage: 'uninstall <name>',
    description: 'uninstall a marketplace tool, removing its stored credentials',
    remove: (rt, name) => rt.tools.uninstall(name),
    done: 'uninstalled',
  });

  registerList(tools, {
    description: 'the tools the org can call: installed marketplace tools and its custom tools',
    fetch: (rt) => rt.tools.list(),
    columns: [
      ['name', (tool) => tool.name],
      ['kind', (tool) => (tool.version === null ? tool.kind : `${tool.kind} v${tool.version}`)],
      ['actions', actionNames],
    ],
    empty: 'No tools: `runtools tools install NAME` or deploy tools/*.ts with `runtools deploy`.',
  });

  tools
    .command('get <name>')
    .description('one tool: its actions and which credentials are configured (never their values)')
    .action(async (name: string, _flags, command: Command) => {
      const tool = await client(command).tools.get(name);
      output(globalOptions(command).json, tool, () => printTool(tool));
    });

  tools
    .command('execute <name> <action>')
    .description('run one action of a tool and print its result (JSON)')
    .option('--params <json>', 'the action params, a JSON object', '{}')
    .option(
      '--credential <FIELD=VALUE>',
      'a credential for this call only (repeatable)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .action(
      async (name: string, action: string, flags: { params: string; credential?: string[] }, command: Command) => {
        const params = parseJson(flags.params, '--params');
        const credentials = flags.credential ? credentialPairs(flags.credential) : undefined;
        if (credentials && Object.values(credentials).some((value) => typeof value !== 'string'))
          throw new UserError('--credential takes FIELD=VALUE (a secret can be mapped with `tools credentials set`)');
        const answer = await client(command).tools.execute(name, {
          action,
          params,
          ...(credentials ? { credentials: credentials as Record<string, string> } : {}),
        });
        output(globalOptions(command).json, answer, () => printJson(answer.result));
      },
    );

  const credentials = tools.command('credentials').description("a tool's stored credentials");
  credentials
    .command('set <name> <pairs...>')
    .description('store FIELD=VALUE (sealed like a secret), map FIELD=secret:NAME, or remove FIELD=')
    .action(async (name: string, pairs: string[], _flags, command: Command) => {
      const tool = await client(command).tools.credentials.set(name, credentialPairs(pairs));
      output(globalOptions(command).json, tool, () =>
        printRecord(
          Object.keys(tool.credentials.schema).map((field) => [
            field,
            tool.credentials.configured[field] ?? 'not configured',
          ]),
        ),
      );
    });

  registerList(tools, {
    name: 'executions',
    description: "the org's tool calls, newest first",
    options: (command) =>
      command.option('--tool <name>', 'only this tool').option('--status <status>', 'succeeded or failed'),
    fetch: (rt, flags: { tool?: string; status?: 'succeeded' | 'failed' }) =>
      rt.tools.executions({
        ...(flags.tool ? { tool: flags.tool } : {}),
        ...(flags.status ? { status: flags.status } : {}),
      }),
    columns: [
      ['when', (execution) => execution.createdAt],
      ['tool', (execution) => (execution.version === null ? execution.tool : `${execution.tool}@${execution.version}`)],
      ['action', (execution) => execution.action],
      ['status', (execution) => execution.errorCode ?? execution.status],
      ['ms', (execution) => Math.round(execution.durationMs)],
      ['by', (execution) => `${execution.principal.kind}:${execution.principal.id}`],
    ],
    empty: 'No tool calls yet.',
  });

  registerList(tools, {
    name: 'versions <name>',
    description: "a custom tool's versions, newest first",
    fetch: (rt, _flags, [name]) => rt.tools.versions(name as string),
    columns: [
      ['version', (version) => version.version],
      ['created', (version) => version.createdAt],
      ['actions', (version) => version.actions.join(', ')],
      ['sha256', (version) => version.sha256.slice(0, 12)],
    ],
    empty: 'No versions.',
  });

  registerRemoval(tools, {
    usage: 'delete <name>',
    description: 'delete a custom tool with all its versions and stored credentials',
    remove: (rt, name) => rt.tools.delete(name),
    done: 'deleted',
  });
}
