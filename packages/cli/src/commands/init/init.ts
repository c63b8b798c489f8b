import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { UserError } from '../../errors.js';

/** A project name from a directory name: what a slug allows. */
function projectName(dir: string): string {
  return (
    basename(dir)
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 63) || 'my-project'
  );
}

/**
 * Where `@runtools/sdk` comes from for the new project: the SDK package this CLI runs with, as a `file:`
 * dependency (the SDK is not on the npm registry), so `npm install` links it.
 */
function sdkDependency(): string {
  const entry = fileURLToPath(import.meta.resolve('@runtools/sdk'));
  let dir = dirname(entry);
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return `file:${dir}`;
}

function files(name: string): Record<string, string> {
  return {
    'runtools.config.ts': `import { defineConfig } from '@runtools/sdk';

export default defineConfig({
  project: '${name}',
});
`,
    'tools/example-tool.ts': `import { defineTool } from '@runtools/sdk';

// A custom tool: runtools deploy bundles it and it runs in your org's tool runner sandbox, never on the server.
export default defineTool({
  name: 'example-tool',
  description: 'Greets someone, and says which greeting it was given',
  credentials: { required: [], schema: { greeting: { type: 'string', description: 'what to say (default: Hello)' } } },
  actions: {
    greet: {
      description: 'Greet someone by name',
      parameters: {
        type: 'object',
        properties: { name: { type: 'string', description: 'who to greet' } },
        required: ['name'],
      },
      execute: async (params, credentials) => {
        return { message: \`\${credentials.greeting ?? 'Hello'}, \${params.name}!\` };
      },
    },
  },
});
`,
    'sandboxes/dev-env.ts': `import { defineSandbox } from '@runtools/sdk';

// A sandbox deployed with the project; agents name it as sandbox: 'dev-env'.
export default defineSandbox({
  name: 'dev-env',
  template: 'base',
  resources: { vcpus: 1, memory: '1GB' },
  env: { PROJECT: '${name}' },
  network: { internet: true },
  idleTimeout: 900,
});
`,
    'agents/example-agent.ts': `import { defineAgent } from '@runtools/sdk';

export default defineAgent({
  slug: 'example-agent',
  model: 'claude-sonnet-4.5',
  systemPrompt: 'You are a careful engineer. Explain what you do before you do it.',
  tools: ['bash', 'read_file', 'edit_file', 'write_file', 'grep', 'example-tool'],
  sandbox: 'dev-env',
  maxIterations: 25,
});
`,
    'workflows/hello.ts': `import { defineWorkflow } from '@runtools/sdk';

// A workflow: runtools deploy saves its draft (and publishes it with --publish). Run it with
//   runtools workflow run hello --version draft --input '{"name": "Ada"}' --wait
export default defineWorkflow({
  name: 'Hello',
  description: 'Greets someone, asking first when the name is long',
  graph: {
    nodes: [
      { id: 'greeting', type: 'transform', config: { expression: '"Hello, " & (input.name ? input.name : "world") & "!"' } },
      { id: 'long', type: 'condition', config: { expression: '$length(nodes.greeting.output) > 40' } },
      { id: 'check', type: 'approval', config: { message: 'Send "{{ nodes.greeting.output }}"?' } },
      { id: 'done', type: 'output', config: { expression: '{ "message": nodes.greeting.output }' } },
    ],
    edges: [
      { source: 'greeting', target: 'long' },
      { source: 'long', target: 'check', condition: true },
      { source: 'long', target: 'done', condition: false },
      { source: 'check', target: 'done', condition: true },
    ],
  },
});
`,
    'package.json': `${JSON.stringify(
      {
        name,
        private: true,
        type: 'module',
        scripts: { deploy: 'runtools deploy', typecheck: 'tsc --noEmit' },
        dependencies: { '@runtools/sdk': sdkDependency() },
        devDependencies: { typescript: '^5.9.0', '@types/node': '^22.0.0' },
      },
      null,
      2,
    )}\n`,
    'tsconfig.json': `${JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2023',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
        },
        include: ['runtools.config.ts', 'tools', 'sandboxes', 'agents', 'workflows'],
      },
      null,
      2,
    )}\n`,
  };
}

export function register(program: Command): void {
  program
    .command('init [dir]')
    .description(
      'start a project in DIR (default: here): runtools.config.ts, an example tool, sandbox, agent and workflow, package.json ' +
        'and tsconfig.json; then `npm install` and `runtools deploy`',
    )
    .option('--force', 'write into a directory that is not empty (existing files are kept)')
    .action((dirArg: string | undefined, flags: { force?: boolean }) => {
      const dir = resolve(dirArg ?? '.');
      if (existsSync(dir) && readdirSync(dir).length > 0 && !flags.force)
        throw new UserError(
          `${dir} is not empty`,
          'pick an empty directory, or pass --force to add only missing files',
        );
      const written: string[] = [];
      for (const [path, content] of Object.entries(files(projectName(dir)))) {
        const target = join(dir, path);
        if (existsSync(target)) continue;
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, content);
        written.push(path);
      }
      for (const path of written) process.stdout.write(`created ${path}\n`);
      const here = relative(process.cwd(), dir) || '.';
      process.stderr.write(
        `\nNext:\n  cd ${here}\n  npm install\n  runtools deploy --dry-run   # the plan\n  runtools deploy\n`,
      );
    });
}
