import { existsSync, readdirSync, statSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  type Agent,
  type AgentDefinition,
  ConflictError,
  defineAgent,
  NotFoundError,
  type RunTools,
  ValidationError,
} from '@runtools/sdk';
import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { exitCodes, UserError } from '../../errors.js';
import { printJson } from '../../output.js';

const sourceFile = /^(?!.*\.d\.ts$)(?!.*\.(?:test|spec)\.[^.]+$).*\.(?:ts|mts|js|mjs)$/;

let hooked = false;

/**
 * Lets a definition file `import { defineAgent } from '@runtools/sdk'` without a node_modules of its own: the
 * specifier resolves to the SDK this CLI runs with (so its ValidationError is the one caught here).
 */
function resolveSdkToOurs(): void {
  if (hooked) return;
  hooked = true;
  const registerHooks = (nodeModule as { registerHooks?: typeof nodeModule.registerHooks }).registerHooks;
  // Node < 22.15: no synchronous hooks; the files then need @runtools/sdk installed next to them.
  if (typeof registerHooks !== 'function') return;
  const sdk = import.meta.resolve('@runtools/sdk');
  registerHooks({
    resolve(specifier, context, nextResolve) {
      if (specifier === '@runtools/sdk') return { url: sdk, shortCircuit: true };
      return nextResolve(specifier, context);
    },
  });
}

interface Loaded {
  file: string;
  definition: AgentDefinition;
}

/** Imports and checks every definition; any problem stops the deploy before anything is sent. */
async function loadDefinitions(dir: string): Promise<Loaded[]> {
  const agentsDir = join(dir, 'agents');
  if (!existsSync(agentsDir) || !statSync(agentsDir).isDirectory())
    throw new UserError(`no agents to deploy: ${agentsDir} does not exist`, 'put defineAgent files in agents/*.ts');
  const files = readdirSync(agentsDir)
    .filter((name) => sourceFile.test(name))
    .sort()
    .map((name) => join(agentsDir, name));
  if (files.length === 0)
    throw new UserError(`no agents to deploy: no .ts, .js or .mjs files in ${agentsDir}`, 'see runtools deploy --help');
  resolveSdkToOurs();
  const loaded: Loaded[] = [];
  const problems: string[] = [];
  for (const file of files) {
    // As the project knows it: agents/coder.ts.
    const shown = relative(dir, file);
    try {
      const module = (await import(pathToFileURL(file).href)) as { default?: unknown };
      if (module.default === undefined) {
        problems.push(`${shown}: no default export (export default defineAgent({ slug, model, … }))`);
        continue;
      }
      // Checked again here: a plain object (not through defineAgent) gets the same checks.
      loaded.push({ file: shown, definition: defineAgent(module.default as AgentDefinition) });
    } catch (error) {
      problems.push(`${shown}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const bySlug = new Map<string, string>();
  for (const { file, definition } of loaded) {
    const other = bySlug.get(definition.slug);
    if (other) problems.push(`${file}: slug ${definition.slug} is also defined in ${other}`);
    else bySlug.set(definition.slug, file);
  }
  if (problems.length > 0) {
    for (const problem of problems) process.stderr.write(`error: ${problem}\n`);
    throw new UserError(
      `${problems.length} problem${problems.length > 1 ? 's' : ''} in agent definitions; nothing was deployed`,
    );
  }
  return loaded;
}

type Action = 'created' | 'updated' | 'unchanged';

/** The file is the whole definition: PUT replaces the agent with it, and no change makes no new version. */
async function deployOne(rt: RunTools, definition: AgentDefinition): Promise<{ action: Action; agent: Agent }> {
  const before = await rt.agents.get(definition.slug).catch((error: unknown) => {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  });
  const { slug, ...fields } = definition;
  const agent = await rt.agents.put(slug, fields);
  const action: Action = !before ? 'created' : agent.version === before.version ? 'unchanged' : 'updated';
  return { action, agent };
}

export function register(program: Command): void {
  program
    .command('deploy [dir]')
    .summary('create or update the agents defined in DIR/agents/*.ts')
    .description(
      'create or update the agents defined in DIR/agents/*.ts (.js, .mjs), each file ending in ' +
        '`export default defineAgent({ slug, model, … })`; every file is checked before anything is deployed',
    )
    .action(async (dirArg: string | undefined, _flags, command: Command) => {
      const dir = resolve(dirArg ?? '.');
      const json = globalOptions(command).json;
      const loaded = await loadDefinitions(dir);
      const rt = client(command);
      const results: { file: string; slug: string; action: Action | 'failed'; version?: number; error?: string }[] = [];
      const failures: unknown[] = [];
      const width = Math.max(...loaded.map(({ definition }) => definition.slug.length));
      for (const { file, definition } of loaded) {
        try {
          const { action, agent } = await deployOne(rt, definition);
          results.push({ file, slug: agent.slug, action, version: agent.version });
          if (!json) process.stdout.write(`${action.padEnd(9)}  ${agent.slug.padEnd(width)}  v${agent.version}\n`);
        } catch (error) {
          // Only what is wrong with this agent (refused, its sandbox gone) lets the others go on.
          if (!(error instanceof ValidationError || error instanceof NotFoundError || error instanceof ConflictError))
            throw error;
          failures.push(error);
          const message = error instanceof Error ? error.message : String(error);
          results.push({ file, slug: definition.slug, action: 'failed', error: message });
          if (!json) process.stderr.write(`failed     ${definition.slug.padEnd(width)}  ${file}: ${message}\n`);
        }
      }
      if (json) printJson(results);
      if (failures.length > 0)
        throw new UserError(
          `${failures.length} of ${loaded.length} agents not deployed`,
          undefined,
          failures[0] instanceof NotFoundError
            ? exitCodes.notFound
            : failures[0] instanceof ConflictError
              ? exitCodes.conflict
              : exitCodes.usage,
        );
    });
}
