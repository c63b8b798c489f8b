import { existsSync, readdirSync, statSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  type Agent,
  type AgentDefinition,
  ConflictError,
  defineAgent,
  defineTool,
  NotFoundError,
  type RunTools,
  type ToolDefinition,
  ValidationError,
} from '@runtools/sdk';
import type { CustomToolDeployRequest } from '@runtools/spec';
import type { Command } from 'commander';
import { build } from 'esbuild';
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

interface Loaded<T> {
  file: string;
  definition: T;
}

/** The definition files of one folder of the project (none when the folder is absent). */
function definitionFiles(dir: string, folder: string): string[] {
  const path = join(dir, folder);
  if (!existsSync(path) || !statSync(path).isDirectory()) return [];
  return readdirSync(path)
    .filter((name) => sourceFile.test(name))
    .sort()
    .map((name) => join(path, name));
}

/**
 * Imports each file and checks its default export with `check` (the same `define*` the file should call, so
 * a plain object gets the same checks); a problem is noted with the file's name, and nothing stops here.
 */
async function loadFiles<T>(
  dir: string,
  files: string[],
  check: (value: T) => T,
  example: string,
  problems: string[],
): Promise<Loaded<T>[]> {
  resolveSdkToOurs();
  const loaded: Loaded<T>[] = [];
  for (const file of files) {
    // As the project knows it: agents/coder.ts.
    const shown = relative(dir, file);
    try {
      const module = (await import(pathToFileURL(file).href)) as { default?: unknown };
      if (module.default === undefined) {
        problems.push(`${shown}: no default export (${example})`);
        continue;
      }
      loaded.push({ file: shown, definition: check(module.default as T) });
    } catch (error) {
      problems.push(`${shown}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return loaded;
}

/** Two files defining the same name is a problem of the second. */
function checkUnique<T>(loaded: Loaded<T>[], key: (definition: T) => string, what: string, problems: string[]): void {
  const seen = new Map<string, string>();
  for (const { file, definition } of loaded) {
    const other = seen.get(key(definition));
    if (other) problems.push(`${file}: ${what} ${key(definition)} is also defined in ${other}`);
    else seen.set(key(definition), file);
  }
}

/**
 * A tool file bundled as the runner loads it: one ES module with its npm dependencies, `@runtools/sdk`
 * replaced by the one thing a tool needs of it at run time (`defineTool`, which only returns its argument).
 */
async function bundleTool(file: string): Promise<string> {
  const result = await build({
    entryPoints: [file],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    write: false,
    logLevel: 'silent',
    plugins: [
      {
        name: 'runtools-sdk',
        setup(builder) {
          builder.onResolve({ filter: /^@runtools\/sdk$/ }, () => ({ path: 'sdk', namespace: 'runtools-sdk' }));
          builder.onLoad({ filter: /.*/, namespace: 'runtools-sdk' }, () => ({
            contents: 'export const defineTool = (definition) => definition;',
            loader: 'js',
          }));
        },
      },
    ],
  });
  const output = result.outputFiles[0];
  if (!output) throw new Error('the bundler produced nothing');
  return Buffer.from(output.contents).toString('base64');
}

/** What the server keeps of a tool file: its definition without the functions, and its bundle. */
function toolManifest(definition: ToolDefinition, bundle: string): CustomToolDeployRequest {
  return {
    name: definition.name,
    description: definition.description,
    ...(definition.credentials
      ? {
          credentials: {
            required: [...(definition.credentials.required ?? [])],
            schema: definition.credentials.schema,
          },
        }
      : {}),
    actions: Object.entries(definition.actions).map(([name, action]) => ({
      name,
      description: action.description,
      parameters: action.parameters as Record<string, unknown>,
      ...(action.timeoutMs !== undefined ? { timeoutMs: action.timeoutMs } : {}),
    })),
    bundle,
  };
}

interface Project {
  tools: (Loaded<ToolDefinition> & { request: CustomToolDeployRequest })[];
  agents: Loaded<AgentDefinition>[];
}

/** Imports, checks and bundles every definition; any problem stops the deploy before anything is sent. */
async function loadProject(dir: string): Promise<Project> {
  const toolFiles = definitionFiles(dir, 'tools');
  const agentFiles = definitionFiles(dir, 'agents');
  if (toolFiles.length === 0 && agentFiles.length === 0)
    throw new UserError(
      `nothing to deploy: no .ts, .js or .mjs files in ${join(dir, 'tools')} or ${join(dir, 'agents')}`,
      'put defineTool files in tools/*.ts and defineAgent files in agents/*.ts',
    );
  const problems: string[] = [];
  const tools = await loadFiles(
    dir,
    toolFiles,
    (definition: ToolDefinition) => defineTool(definition),
    'export default defineTool({ name, actions, … })',
    problems,
  );
  checkUnique(tools, (definition) => definition.name, 'tool', problems);
  const agents = await loadFiles(
    dir,
    agentFiles,
    (definition: AgentDefinition) => defineAgent(definition),
    'export default defineAgent({ slug, model, … })',
    problems,
  );
  checkUnique(agents, (definition) => definition.slug, 'slug', problems);
  const bundled: Project['tools'] = [];
  for (const tool of tools) {
    try {
      bundled.push({ ...tool, request: toolManifest(tool.definition, await bundleTool(join(dir, tool.file))) });
    } catch (error) {
      problems.push(`${tool.file}: cannot be bundled: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (problems.length > 0) {
    for (const problem of problems) process.stderr.write(`error: ${problem}\n`);
    throw new UserError(
      `${problems.length} problem${problems.length > 1 ? 's' : ''} in definitions; nothing was deployed`,
    );
  }
  return { tools: bundled, agents };
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
    .summary('create or update the tools and agents defined in DIR/tools/*.ts and DIR/agents/*.ts')
    .description(
      'create or update the custom tools of DIR/tools/*.ts (each file `export default defineTool({ name, actions, … })`, ' +
        'bundled with its npm dependencies) and then the agents of DIR/agents/*.ts (`export default defineAgent({ slug, ' +
        'model, … })`); every file is checked, and every tool bundled, before anything is deployed',
    )
    .action(async (dirArg: string | undefined, _flags, command: Command) => {
      const dir = resolve(dirArg ?? '.');
      const json = globalOptions(command).json;
      const project = await loadProject(dir);
      const loaded = project.agents;
      const rt = client(command);
      const results: {
        file: string;
        kind: 'tool' | 'agent';
        name: string;
        action: Action | 'failed';
        version?: number;
        error?: string;
      }[] = [];
      const failures: unknown[] = [];
      const width = Math.max(
        ...project.tools.map(({ definition }) => definition.name.length),
        ...loaded.map(({ definition }) => definition.slug.length),
      );
      // Tools first: an agent may name a tool the same deploy creates.
      for (const { file, definition, request } of project.tools) {
        try {
          const deployed = await rt.tools.deploy(request);
          results.push({
            file,
            kind: 'tool',
            name: definition.name,
            action: deployed.action,
            version: deployed.version.version,
          });
          if (!json)
            process.stdout.write(
              `${deployed.action.padEnd(9)}  ${definition.name.padEnd(width)}  tool v${deployed.version.version}\n`,
            );
        } catch (error) {
          if (!(error instanceof ValidationError || error instanceof NotFoundError || error instanceof ConflictError))
            throw error;
          failures.push(error);
          const message = error instanceof Error ? error.message : String(error);
          results.push({ file, kind: 'tool', name: definition.name, action: 'failed', error: message });
          if (!json) process.stderr.write(`failed     ${definition.name.padEnd(width)}  ${file}: ${message}\n`);
        }
      }
      for (const { file, definition } of loaded) {
        try {
          const { action, agent } = await deployOne(rt, definition);
          results.push({ file, kind: 'agent', name: agent.slug, action, version: agent.version });
          if (!json)
            process.stdout.write(`${action.padEnd(9)}  ${agent.slug.padEnd(width)}  agent v${agent.version}\n`);
        } catch (error) {
          // Only what is wrong with this agent (refused, its sandbox gone) lets the others go on.
          if (!(error instanceof ValidationError || error instanceof NotFoundError || error instanceof ConflictError))
            throw error;
          failures.push(error);
          const message = error instanceof Error ? error.message : String(error);
          results.push({ file, kind: 'agent', name: definition.slug, action: 'failed', error: message });
          if (!json) process.stderr.write(`failed     ${definition.slug.padEnd(width)}  ${file}: ${message}\n`);
        }
      }
      if (json) printJson(results);
      if (failures.length > 0)
        throw new UserError(
          `${failures.length} of ${project.tools.length + loaded.length} definitions not deployed`,
          undefined,
          failures[0] instanceof NotFoundError
            ? exitCodes.notFound
            : failures[0] instanceof ConflictError
              ? exitCodes.conflict
              : exitCodes.usage,
        );
    });
}
