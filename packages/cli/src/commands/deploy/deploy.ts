import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import {
  type Agent,
  type AgentDefinition,
  ConflictError,
  defineAgent,
  defineSandbox,
  defineTool,
  NotFoundError,
  type RunTools,
  type Sandbox,
  type SandboxDefinition,
  type ToolDefinition,
  ValidationError,
  type WorkflowDefinition,
  type WorkflowVersion,
} from '@runtools/sdk';
import {
  type AgentPutRequest,
  type CustomToolDeployRequest,
  nodeConfigSchemas,
  ProjectConfig,
  type SandboxCreateRequest,
  WorkflowGraph,
  type WorkflowNodeType,
} from '@runtools/spec';
import type { Command } from 'commander';
import { build } from 'esbuild';
import type { z } from 'zod';
import { client, globalOptions } from '../../context.js';
import { importDefault } from '../../definition-import.js';
import { exitCodes, UserError } from '../../errors.js';
import { printJson } from '../../output.js';
import { checkWorkflowDefinition, workflowSlug } from '../../workflow-files.js';
import { namedBy } from '../project/resolve.js';

const sourceFile = /^(?!.*\.d\.ts$)(?!.*\.(?:test|spec)\.[^.]+$).*\.(?:ts|mts|js|mjs)$/;

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
  const loaded: Loaded<T>[] = [];
  for (const file of files) {
    // As the project knows it: agents/coder.ts.
    const shown = relative(dir, file);
    try {
      const definition = await importDefault(file);
      if (definition === undefined) {
        problems.push(`${shown}: no default export (${example})`);
        continue;
      }
      loaded.push({ file: shown, definition: check(definition as T) });
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

/** The deploy's tags on a sandbox it manages: the definition's name, and a digest of the definition. */
const nameTag = 'runtools.deploy.name';
const digestTag = 'runtools.deploy.digest';

/** The definition as a sandbox create request, tagged so that the next deploy finds it. */
function sandboxRequest(definition: SandboxDefinition): { request: SandboxCreateRequest; digest: string } {
  const { name, metadata, ...fields } = definition;
  const digest = createHash('sha256').update(canonicalJson(definition)).digest('hex').slice(0, 32);
  return { request: { ...fields, name, metadata: { ...metadata, [nameTag]: name, [digestTag]: digest } }, digest };
}

/** JSON with keys in order, so that the same definition always has the same digest. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

interface Project {
  /** runtools.config.ts's `project`: where the sandboxes, agents and workflows go (tools are the org's). */
  name: string | undefined;
  tools: (Loaded<ToolDefinition> & { request: CustomToolDeployRequest })[];
  sandboxes: Loaded<SandboxDefinition>[];
  agents: Loaded<AgentDefinition>[];
  workflows: Loaded<WorkflowDefinition>[];
}

type Kind = 'tool' | 'sandbox' | 'agent' | 'workflow';
const allKinds: readonly Kind[] = ['tool', 'sandbox', 'agent', 'workflow'];

/** `runtools.config.ts` (or .mts, .js, .mjs) of DIR, checked as `defineConfig` checks it; the defaults without one. */
async function loadConfig(dir: string): Promise<z.output<typeof ProjectConfig>> {
  const file = ['ts', 'mts', 'js', 'mjs']
    .map((ext) => join(dir, `runtools.config.${ext}`))
    .find((path) => existsSync(path));
  if (!file) return ProjectConfig.parse({});
  let exported: unknown;
  try {
    exported = await importDefault(file);
  } catch (error) {
    throw new UserError(`${relative(dir, file)}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const parsed = ProjectConfig.safeParse(exported ?? {});
  if (!parsed.success)
    throw new UserError(
      `${relative(dir, file)}: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || 'config'}: ${issue.message}`).join('; ')}`,
      'export default defineConfig({ project, agentsDir, toolsDir, sandboxesDir })',
    );
  return parsed.data;
}

/** Imports, checks and bundles every definition; any problem stops the deploy before anything is sent. */
async function loadProject(dir: string, kinds: ReadonlySet<Kind>): Promise<Project> {
  const config = await loadConfig(dir);
  const folders = {
    tool: config.toolsDir,
    sandbox: config.sandboxesDir,
    agent: config.agentsDir,
    workflow: 'workflows',
  };
  const files = {
    tool: kinds.has('tool') ? definitionFiles(dir, folders.tool) : [],
    sandbox: kinds.has('sandbox') ? definitionFiles(dir, folders.sandbox) : [],
    agent: kinds.has('agent') ? definitionFiles(dir, folders.agent) : [],
    workflow: kinds.has('workflow') ? definitionFiles(dir, folders.workflow) : [],
  };
  if (files.tool.length + files.sandbox.length + files.agent.length + files.workflow.length === 0)
    throw new UserError(
      `nothing to deploy: no .ts, .js or .mjs files in ${[...kinds].map((kind) => join(dir, folders[kind])).join(', ')}`,
      'put defineTool files in tools/*.ts, defineSandbox files in sandboxes/*.ts, defineAgent files in agents/*.ts ' +
        'and defineWorkflow files in workflows/*.ts',
    );
  const problems: string[] = [];
  const tools = await loadFiles(
    dir,
    files.tool,
    (definition: ToolDefinition) => defineTool(definition),
    'export default defineTool({ name, actions, … })',
    problems,
  );
  checkUnique(tools, (definition) => definition.name, 'tool', problems);
  const sandboxes = await loadFiles(
    dir,
    files.sandbox,
    (definition: SandboxDefinition) => defineSandbox(definition),
    'export default defineSandbox({ name, template, … })',
    problems,
  );
  checkUnique(sandboxes, (definition) => definition.name, 'sandbox', problems);
  const agents = await loadFiles(
    dir,
    files.agent,
    (definition: AgentDefinition) => defineAgent(definition),
    'export default defineAgent({ slug, model, … })',
    problems,
  );
  checkUnique(agents, (definition) => definition.slug, 'slug', problems);
  const workflows = await loadFiles(
    dir,
    files.workflow,
    checkWorkflowDefinition,
    'export default defineWorkflow({ name, graph })',
    problems,
  );
  checkUnique(workflows, workflowSlug, 'workflow', problems);
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
  return { name: config.project, tools: bundled, sandboxes, agents, workflows };
}

type Action = 'create' | 'update' | 'unchanged' | 'prune' | 'keep' | 'publish';
const done: Record<Action, string> = {
  create: 'created',
  update: 'updated',
  unchanged: 'unchanged',
  prune: 'pruned',
  keep: 'kept',
  publish: 'published',
};

interface Step {
  kind: Kind | 'project';
  name: string;
  file: string | null;
  action: Action;
  /** Why, where it is not plain: a sandbox without its file, one replaced. */
  note?: string;
  /** What the server has now: a tool's, agent's or published workflow's version, a sandbox's id, a workflow's draft revision. */
  version?: number;
  id?: string;
  revision?: number;
  apply?: () => Promise<{ version?: number; id?: string; revision?: number; note?: string }>;
}

/** A step's outcome in a line: its version (v3), draft revision (draft r2) or id, and its note. */
function detailOf(outcome: { version?: number; id?: string; revision?: number; note?: string }): string {
  const what =
    outcome.version !== undefined
      ? `v${outcome.version}`
      : outcome.revision !== undefined
        ? `draft r${outcome.revision}`
        : outcome.id;
  return [what, outcome.note].filter(Boolean).join('  ');
}

/**
 * A graph as the server keeps it, for comparing: the graph's defaults applied (edges: []) and each node's
 * config as its type's schema reads it (defaults filled in), so that a field left to its default is no change.
 */
function normalizedGraph(graph: unknown): unknown {
  const parsed = WorkflowGraph.safeParse(graph);
  if (!parsed.success) return graph;
  return {
    ...parsed.data,
    nodes: parsed.data.nodes.map((node) => {
      const schema = nodeConfigSchemas[node.type as WorkflowNodeType];
      const config = schema?.safeParse(node.config ?? {});
      return config?.success ? { ...node, config: config.data } : node;
    }),
  };
}

/** Whether a workflow (its draft, or a published version) is what the definition says. */
function sameWorkflow(
  definition: WorkflowDefinition,
  current: { graph: unknown; inputSchema: Record<string, unknown> | null; name?: string; description?: string | null },
): boolean {
  return (
    canonicalJson(normalizedGraph(definition.graph)) === canonicalJson(normalizedGraph(current.graph)) &&
    (current.name === undefined || current.name === definition.name) &&
    // Left out of the definition, the server keeps what it had.
    (definition.description === undefined ||
      current.description === undefined ||
      current.description === definition.description) &&
    (definition.inputSchema === undefined ||
      canonicalJson(definition.inputSchema) === canonicalJson(current.inputSchema))
  );
}

/** Fields a definition gives that the agent has otherwise: what a PUT would change (fields left out keep their defaults). */
function agentChanges(agent: Agent, definition: Record<string, unknown>): string[] {
  return Object.entries(definition)
    .filter(([key]) => key !== 'slug' && key !== 'sandbox')
    .filter(
      ([key, value]) => canonicalJson(value) !== canonicalJson((agent as unknown as Record<string, unknown>)[key]),
    )
    .map(([key]) => key);
}

/**
 * What the deploy will do, item by item, found by comparing each definition with what the server has: tools
 * first, then sandboxes, then agents (which may name a tool or a sandbox the same deploy creates).
 */
async function plan(
  rt: RunTools,
  project: Project,
  kinds: ReadonlySet<Kind>,
  prune: boolean,
  publish: boolean,
): Promise<Step[]> {
  const steps: Step[] = [];
  // The project of runtools.config.ts, by slug, name or id; made first when the org has none of that name.
  let projectId: string | undefined;
  // The org's projects, when this key may list them (a deploy without a project needs them only to find its
  // sandboxes in the default project).
  const projects =
    project.name !== undefined ? await rt.projects.list() : await rt.projects.list().catch(() => undefined);
  const defaultProject = projects?.find((each) => each.isDefault)?.id;
  if (project.name !== undefined && (kinds.has('sandbox') || kinds.has('agent') || kinds.has('workflow'))) {
    const name = project.name;
    const found = projects?.find(namedBy(name));
    if (!found && /^prj_[a-z2-7]{20}$/.test(name))
      throw new UserError(`runtools.config.ts: project ${name} is not a project of this org`, 'runtools project list');
    projectId = found?.id;
    steps.push({
      kind: 'project',
      name,
      file: 'runtools.config.ts',
      action: found ? 'unchanged' : 'create',
      ...(found ? { id: found.id } : {}),
      apply: async () => {
        projectId = (await rt.projects.create({ name })).id;
        return { id: projectId };
      },
    });
  }
  /** Where sandboxes, agents and workflows go: read when a step runs (the project may be made by the first). */
  const inProject = () => (projectId === undefined ? {} : { projectId });
  const moving = (current: { projectId: string } | undefined) =>
    current !== undefined && project.name !== undefined && current.projectId !== projectId;
  for (const { file, definition, request } of project.tools) {
    const current = await rt.tools.get(definition.name).catch((error: unknown) => {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    });
    let action: Action = 'create';
    if (current) {
      const [latest] = await rt.tools.versions(definition.name);
      const sha256 = createHash('sha256').update(Buffer.from(request.bundle, 'base64')).digest('hex');
      const same =
        latest?.sha256 === sha256 &&
        current.description === request.description &&
        canonicalJson(current.actions) === canonicalJson(request.actions) &&
        canonicalJson({ required: current.credentials.required, schema: current.credentials.schema }) ===
          canonicalJson({ required: request.credentials?.required ?? [], schema: request.credentials?.schema ?? {} });
      action = same ? 'unchanged' : 'update';
    }
    steps.push({
      kind: 'tool',
      name: definition.name,
      file,
      action,
      ...(current?.version ? { version: current.version } : {}),
      apply: async () => ({ version: (await rt.tools.deploy(request)).version.version }),
    });
  }
  // Deployed sandboxes by name, as their tags say (destroyed ones are gone from the list). A project's sandboxes
  // are its own (another project may deploy one of the same name); without a project, the default project's.
  // Those a deploy made before it named a project (in the default project) are found too, and kept where they are
  // until their file changes: only this project's are ever pruned.
  const deployed = new Map<string, Sandbox>();
  const adopted = new Set<string>();
  if (kinds.has('sandbox') || project.agents.some(({ definition }) => isSandboxName(definition.sandbox))) {
    const home = project.name === undefined ? defaultProject : projectId;
    const live = (await listDeployed(rt)).filter(
      (sandbox) => !['destroying', 'destroyed', 'failed'].includes(sandbox.status),
    );
    for (const sandbox of live) {
      const name = sandbox.info.metadata[nameTag];
      if (name && (home === undefined ? project.name === undefined : sandbox.info.projectId === home))
        deployed.set(name, sandbox);
    }
    if (project.name !== undefined && defaultProject !== undefined && defaultProject !== projectId)
      for (const sandbox of live) {
        const name = sandbox.info.metadata[nameTag];
        if (name && sandbox.info.projectId === defaultProject && !deployed.has(name)) {
          deployed.set(name, sandbox);
          adopted.add(name);
        }
      }
  }
  const sandboxIds = new Map<string, () => string | undefined>();
  /** Sandboxes this deploy creates or replaces: an agent in one of them is updated to its new id. */
  const newSandboxes = new Set<string>();
  for (const { file, definition } of project.sandboxes) {
    const { request, digest } = sandboxRequest(definition);
    const current = deployed.get(definition.name);
    let created: string | undefined;
    sandboxIds.set(definition.name, () => created ?? current?.id);
    const action: Action = !current ? 'create' : current.info.metadata[digestTag] === digest ? 'unchanged' : 'update';
    if (action !== 'unchanged') newSandboxes.add(definition.name);
    steps.push({
      kind: 'sandbox',
      name: definition.name,
      file,
      action,
      ...(current ? { id: current.id } : {}),
      ...(action === 'update' && current ? { note: `replaces ${current.id}` } : {}),
      ...(action === 'unchanged' && adopted.has(definition.name)
        ? { note: `${current?.id}: deployed before the project, kept in the default project` }
        : {}),
      apply: async () => {
        const sandbox = await rt.sandboxes.create({ ...request, ...inProject() });
        created = sandbox.id;
        // Replaced: the new one runs before the old one goes.
        if (current) await rt.sandboxes.get(current.id).then((old) => old.destroy());
        return { id: sandbox.id, ...(current ? { note: `replaced ${current.id}` } : {}) };
      },
    });
  }
  if (kinds.has('sandbox')) {
    const defined = new Set(project.sandboxes.map(({ definition }) => definition.name));
    for (const [name, sandbox] of deployed) {
      if (defined.has(name) || adopted.has(name)) continue;
      steps.push({
        kind: 'sandbox',
        name,
        file: null,
        action: prune ? 'prune' : 'keep',
        note: prune ? `destroys ${sandbox.id}` : `${sandbox.id}: its file is gone; --prune destroys it`,
        ...(prune
          ? {
              apply: async () => {
                await sandbox.destroy();
                return { id: sandbox.id };
              },
            }
          : {}),
      });
    }
  }
  for (const { file, definition } of project.agents) {
    const current = await rt.agents.get(definition.slug).catch((error: unknown) => {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    });
    const named = isSandboxName(definition.sandbox) ? definition.sandbox : undefined;
    if (named && !sandboxIds.has(named) && !deployed.has(named))
      throw new UserError(`${file}: sandbox ${named} is not defined in sandboxes/ nor deployed`);
    const resolveSandbox = () =>
      named
        ? (sandboxIds.get(named)?.() ?? deployed.get(named)?.id)
        : (definition.sandbox as AgentPutRequest['sandbox']);
    const changes = current ? agentChanges(current, definition as Record<string, unknown>) : [];
    const sandboxChanged = current && named ? newSandboxes.has(named) || current.sandboxId !== resolveSandbox() : false;
    const action: Action = !current
      ? 'create'
      : changes.length > 0 || sandboxChanged || moving(current)
        ? 'update'
        : 'unchanged';
    steps.push({
      kind: 'agent',
      name: definition.slug,
      file,
      action,
      ...(current ? { version: current.version } : {}),
      ...(moving(current) ? { note: `moves to project ${project.name}` } : {}),
      apply: async () => {
        const { slug, sandbox: _, ...fields } = definition;
        const sandbox = resolveSandbox();
        const agent = await rt.agents.put(slug, {
          ...fields,
          ...(sandbox !== undefined ? { sandbox } : {}),
          ...inProject(),
        });
        return { version: agent.version };
      },
    });
  }
  for (const { file, definition } of project.workflows) {
    const slug = workflowSlug(definition);
    const current = await rt.workflows.get(slug).catch((error: unknown) => {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    });
    const action: Action = !current
      ? 'create'
      : sameWorkflow(definition, current) && !moving(current)
        ? 'unchanged'
        : 'update';
    steps.push({
      kind: 'workflow',
      name: slug,
      file,
      action,
      ...(current ? { revision: current.draftRevision } : {}),
      ...(moving(current) ? { note: `moves to project ${project.name}` } : {}),
      apply: async () => ({ revision: (await rt.workflows.save({ ...definition, ...inProject() })).draftRevision }),
    });
    if (!publish) continue;
    let latest: WorkflowVersion | undefined;
    if (current?.latestVersion != null) latest = await rt.workflows.version(slug, current.latestVersion);
    if (latest && sameWorkflow(definition, latest)) continue;
    steps.push({
      kind: 'workflow',
      name: slug,
      file,
      action: 'publish',
      ...(latest ? { note: `after v${latest.version}` } : {}),
      apply: async () => ({
        version: (await rt.workflows.publish(slug, { note: `runtools deploy of ${file}` })).version,
      }),
    });
  }
  return steps;
}

function isSandboxName(value: unknown): value is string {
  return typeof value === 'string' && !value.startsWith('sbx_');
}

/** The sandboxes this deploy manages: those tagged with a definition's name. */
/** Sandboxes a deploy made, in any project of the org. */
async function listDeployed(rt: RunTools): Promise<Sandbox[]> {
  return (await rt.sandboxes.list()).filter((sandbox) => sandbox.info.metadata[nameTag] !== undefined);
}

export function register(program: Command): void {
  program
    .command('deploy [dir]')
    .summary(
      'create or update the tools, sandboxes, agents and workflows of DIR (tools/, sandboxes/, agents/, workflows/)',
    )
    .description(
      'create or update the custom tools of DIR/tools/*.ts (`export default defineTool({ name, actions, … })`, ' +
        'bundled with their npm dependencies), the sandboxes of DIR/sandboxes/*.ts (`defineSandbox({ name, template, ' +
        '… })`, found again by their name), the agents of DIR/agents/*.ts (`defineAgent({ slug, model, … })`, ' +
        "whose `sandbox` may name one of the project's sandboxes) and the drafts of the workflows of " +
        'DIR/workflows/*.ts (`defineWorkflow({ name, graph })`, which may name those agents and tools), in that ' +
        'order; every file is checked, and every tool bundled, before anything is sent. With --publish, each ' +
        'workflow whose draft differs from its latest published version is published as a new version. A sandbox ' +
        'whose file is gone is kept unless --prune.',
    )
    .option('--dry-run', 'print the plan (create, update, unchanged, keep, prune, publish per item) and change nothing')
    .option('--tools-only', 'only tools/')
    .option('--sandboxes-only', 'only sandboxes/')
    .option('--agents-only', 'only agents/')
    .option('--workflows-only', 'only workflows/')
    .option('--publish', 'publish each workflow whose draft is not its latest published version')
    .option('--prune', 'destroy the deployed sandboxes whose file is gone')
    .action(
      async (
        dirArg: string | undefined,
        flags: {
          dryRun?: boolean;
          toolsOnly?: boolean;
          sandboxesOnly?: boolean;
          agentsOnly?: boolean;
          workflowsOnly?: boolean;
          publish?: boolean;
          prune?: boolean;
        },
        command: Command,
      ) => {
        const dir = resolve(dirArg ?? '.');
        const json = globalOptions(command).json;
        const only = allKinds.filter(
          (kind) => flags[`${kind === 'sandbox' ? 'sandboxes' : `${kind}s`}Only` as 'toolsOnly'],
        );
        if (only.length > 1)
          throw new UserError('give at most one of --tools-only, --sandboxes-only, --agents-only, --workflows-only');
        const kinds = new Set<Kind>(only.length ? only : allKinds);
        const project = await loadProject(dir, kinds);
        const rt = client(command);
        const steps = await plan(rt, project, kinds, flags.prune ?? false, flags.publish ?? false);
        const width = Math.max(...steps.map((step) => step.name.length), 4);
        const line = (verb: string, step: Step, extra?: string) =>
          `${verb.padEnd(10)} ${step.kind.padEnd(8)} ${extra ? `${step.name.padEnd(width)}  ${extra}` : step.name}\n`;
        if (flags.dryRun) {
          if (json) printJson(steps.map(({ apply: _, ...step }) => step));
          else for (const step of steps) process.stdout.write(line(step.action, step, step.note));
          return;
        }
        const results: (Omit<Step, 'apply' | 'action'> & {
          action: string;
          version?: number;
          id?: string;
          error?: string;
        })[] = [];
        const failures: unknown[] = [];
        /** Items whose step failed: a workflow whose draft was not saved is not published. */
        const failed = new Set<string>();
        for (const { apply, ...step } of steps) {
          if (step.action === 'unchanged' || step.action === 'keep' || !apply) {
            results.push({ ...step, action: done[step.action] });
            if (!json) process.stdout.write(line(done[step.action], step, detailOf(step)));
            continue;
          }
          if (failed.has(`${step.kind}:${step.name}`)) {
            const note = 'not published: its draft was not saved';
            results.push({ ...step, action: 'skipped', note });
            if (!json) process.stderr.write(line('skipped', step, note));
            continue;
          }
          if (!json)
            process.stderr.write(
              `${step.action === 'prune' ? 'pruning' : step.action === 'publish' ? 'publishing' : 'deploying'} ${step.kind} ${step.name}…\n`,
            );
          try {
            const outcome = await apply();
            results.push({ ...step, action: done[step.action], ...outcome });
            if (!json) process.stdout.write(line(done[step.action], step, detailOf(outcome)));
          } catch (error) {
            // Only what is wrong with this item (refused, its sandbox gone) lets the others go on; without its
            // project nothing else goes (it would all land in the default project).
            if (
              step.kind === 'project' ||
              !(error instanceof ValidationError || error instanceof NotFoundError || error instanceof ConflictError)
            )
              throw error;
            failures.push(error);
            failed.add(`${step.kind}:${step.name}`);
            const message = error instanceof Error ? error.message : String(error);
            results.push({ ...step, action: 'failed', error: message });
            if (!json) process.stderr.write(line('failed', step, `${step.file ?? ''}: ${message}`));
          }
        }
        if (json) printJson(results);
        if (failures.length > 0)
          throw new UserError(
            `${failures.length} of ${steps.length} definitions not deployed`,
            undefined,
            failures[0] instanceof NotFoundError
              ? exitCodes.notFound
              : failures[0] instanceof ConflictError
                ? exitCodes.conflict
                : exitCodes.usage,
          );
      },
    );
}
