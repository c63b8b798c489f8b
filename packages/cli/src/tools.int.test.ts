import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../test/support/cli.js';
import { type GithubServer, startGithubServer } from '../../../test/support/github-server.js';
import { useSandboxServer } from '../../../test/support/server.js';

const repoRoot = new URL('../../..', import.meta.url).pathname;

/** The custom tool exactly as the docs write it. */
const documentedTool = `import { defineTool } from '@runtools/sdk';
export default defineTool({
  name: 'my-database',
  description: 'Query my application database',
  credentials: { required: ['databaseUrl'], schema: { databaseUrl: { type: 'string', description: 'PostgreSQL connection string' } } },
  actions: {
    query: {
      description: 'Execute a SQL query',
      parameters: { type: 'object', properties: { sql: { type: 'string', description: 'SQL query' } }, required: ['sql'] },
      execute: async (params, credentials) => { return { rows: [] }; },
    },
  },
});
`;

/** A tool with an npm dependency of the project, which the deploy bundles. */
const greeterTool = `import { defineTool } from '@runtools/sdk';
import { greet } from 'greeting-lib';
export default defineTool({
  name: 'greeter',
  description: 'Greets',
  actions: {
    hello: {
      description: 'Say hello',
      parameters: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
      execute: async (params) => ({ text: greet(params.name) }),
    },
  },
});
`;

describe('tools through the CLI and the SDK, as documented', () => {
  let github: GithubServer;
  const context = useSandboxServer(async () => {
    github = await startGithubServer();
    return { RUNTOOLS_TOOL_RUNTIME: 'container', RUNTOOLS_TOOL_GITHUB_BASE_URL: github.url };
  });
  let project: string;
  let configDir: string;
  const cli = (...args: string[]) =>
    runCli(args, {
      configDir,
      env: { RUNTOOLS_API_URL: context.server.url, RUNTOOLS_API_KEY: context.server.adminKey },
    });

  beforeAll(() => {
    configDir = mkdtempSync(join(tmpdir(), 'runtools-cli-tools-'));
    project = join(configDir, 'project');
    mkdirSync(join(project, 'tools'), { recursive: true });
    writeFileSync(join(project, 'tools', 'my-tool.ts'), documentedTool);
    writeFileSync(join(project, 'tools', 'greeter.ts'), greeterTool);
    const lib = join(project, 'node_modules', 'greeting-lib');
    mkdirSync(lib, { recursive: true });
    writeFileSync(
      join(lib, 'package.json'),
      JSON.stringify({ name: 'greeting-lib', type: 'module', main: 'index.js' }),
    );
    writeFileSync(join(lib, 'index.js'), 'export const greet = (name) => "hello, " + name;\n');
  });
  afterAll(async () => {
    rmSync(configDir, { recursive: true, force: true });
    await github?.close();
  });

  it('deploys tools/*.ts (bundling their npm dependencies), and again changes nothing', async () => {
    const first = await cli('deploy', project);
    expect([first.code, first.stderr]).toEqual([0, expect.stringContaining('deploying tool greeter')]);
    expect(first.stdout).toMatch(/created\s+tool\s+greeter\s+v1/);
    expect(first.stdout).toMatch(/created\s+tool\s+my-database\s+v1/);
    const again = await cli('--json', 'deploy', project);
    expect(JSON.parse(again.stdout)).toEqual([
      expect.objectContaining({ kind: 'tool', name: 'greeter', action: 'unchanged', version: 1 }),
      expect.objectContaining({ kind: 'tool', name: 'my-database', action: 'unchanged', version: 1 }),
    ]);
    const broken = join(configDir, 'broken');
    mkdirSync(join(broken, 'tools'), { recursive: true });
    writeFileSync(join(broken, 'tools', 'bad.ts'), documentedTool.replace("name: 'my-database'", "name: 'Bad Name'"));
    const refused = await cli('deploy', broken);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('tools/bad.ts');
    expect(refused.stderr).toMatch(/name/);
  });

  it('executes a custom tool through the CLI, REST and the SDK, with credentials per call or stored', async () => {
    const viaCli = await cli(
      'tools',
      'execute',
      'my-database',
      'query',
      '--params',
      '{"sql":"select 1"}',
      '--credential',
      'databaseUrl=postgres://db',
    );
    expect([viaCli.code, JSON.parse(viaCli.stdout)]).toEqual([0, { rows: [] }]);
    const missing = await cli('tools', 'execute', 'my-database', 'query', '--params', '{"sql":"select 1"}');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('databaseUrl');
    const stored = await cli('tools', 'credentials', 'set', 'my-database', 'databaseUrl=postgres://stored');
    expect(stored.code).toBe(0);
    expect(stored.stdout).toMatch(/databaseUrl:\s+stored/);
    const viaRest = await context.server.request('POST', '/v1/tools/my-database/execute', {
      body: { action: 'query', params: { sql: 'select 1' } },
    });
    expect(await viaRest.json()).toMatchObject({ result: { rows: [] }, version: 1, tool: 'my-database' });
    expect((await context.rt.tools.execute('greeter', { action: 'hello', params: { name: 'Ada' } })).result).toEqual({
      text: 'hello, Ada',
    });
    const listed = await cli('--json', 'tools', 'list');
    expect((JSON.parse(listed.stdout) as { name: string }[]).map((tool) => tool.name)).toEqual([
      'greeter',
      'my-database',
    ]);
    const versions = await cli('--json', 'tools', 'versions', 'my-database');
    expect((JSON.parse(versions.stdout) as { version: number }[]).map((version) => version.version)).toEqual([1]);
  });

  it('runs the documented marketplace snippet verbatim through the SDK, and the CLI’s tools commands', async () => {
    const rt = context.rt;
    const catalogue = await rt.tools.marketplace(); // catalogue: name, description, provider, auth kind, actions with JSON Schemas
    expect(catalogue.find((tool) => tool.name === 'github')?.actions.length).toBeGreaterThan(0);
    const found = await rt.tools.search('github'); // ranked by name, description, action names
    expect(found[0]?.name).toBe('github');
    await rt.tools.install('github'); // org installation (idempotent); config and stored credentials per install
    await rt.tools.credentials.set('github', { token: github.token });
    const installed = await rt.tools.list(); // installed: marketplace + the org's custom tools
    expect(installed.map((tool) => tool.name)).toEqual(['github', 'greeter', 'my-database']);
    const answer = await rt.tools.execute('github', { action: 'list_repos', params: {} }); // → the action's structured result
    expect((answer.result as { repos: unknown[] }).repos).toHaveLength(3);

    const search = await cli('tools', 'search', 'github');
    expect(search.stdout).toMatch(/^github\s/);
    const marketplace = await cli('--json', 'tools', 'marketplace');
    const listed = JSON.parse(marketplace.stdout) as { name: string; installed: boolean }[];
    expect(listed).toContainEqual(expect.objectContaining({ name: 'github', installed: true }));
    expect(listed.filter((tool) => tool.installed).map((tool) => tool.name)).toEqual(['github']);
    const get = await cli('tools', 'get', 'github');
    expect(get.stdout).toMatch(/token \(required\): stored/);
    expect(get.stdout).not.toContain(github.token);
    const executed = await cli(
      'tools',
      'execute',
      'github',
      'get_repo',
      '--params',
      '{"owner":"octo","repo":"repo-1"}',
    );
    expect(JSON.parse(executed.stdout)).toMatchObject({ fullName: 'octo/repo-1' });
    const executions = await cli('--json', 'tools', 'executions', '--tool', 'github');
    expect((JSON.parse(executions.stdout) as { action: string }[])[0]?.action).toBe('get_repo');
    const uninstalled = await cli('tools', 'uninstall', 'github');
    expect([uninstalled.code, uninstalled.stdout]).toEqual([0, 'uninstalled github\n']);
    const gone = await cli('tools', 'execute', 'github', 'list_repos');
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toMatch(/not installed/);
  });

  it('deploys sandboxes/ and agents naming them, plans with --dry-run, narrows with --*-only, keeps or prunes', async () => {
    const layout = join(configDir, 'layout');
    mkdirSync(join(layout, 'sandboxes'), { recursive: true });
    mkdirSync(join(layout, 'agents'), { recursive: true });
    const devEnv = (value: string) =>
      `import { defineSandbox } from '@runtools/sdk';\nexport default defineSandbox({ name: 'dev-env', template: 'minimal', runtime: 'container', env: { STAGE: '${value}' } });\n`;
    writeFileSync(join(layout, 'sandboxes', 'dev-env.ts'), devEnv('one'));
    writeFileSync(
      join(layout, 'agents', 'helper.ts'),
      `import { defineAgent } from '@runtools/sdk';\nexport default defineAgent({ slug: 'layout-helper', model: 'claude-haiku-4.5', sandbox: 'dev-env', tools: ['bash'] });\n`,
    );
    const tagged = async () =>
      (await context.rt.sandboxes.list()).filter(
        (sandbox) => sandbox.info.metadata['runtools.deploy.name'] === 'dev-env',
      );
    try {
      const planned = await cli('deploy', layout, '--dry-run');
      expect(planned.code).toBe(0);
      expect(planned.stdout).toMatch(/^create\s+sandbox\s+dev-env\ncreate\s+agent\s+layout-helper\n$/);
      expect(await tagged()).toEqual([]);
      await expect(context.rt.agents.get('layout-helper')).rejects.toMatchObject({ code: 'agent_not_found' });

      const sandboxesOnly = await cli('deploy', layout, '--sandboxes-only');
      expect(sandboxesOnly.stdout).toMatch(/^created\s+sandbox\s+dev-env\s+sbx_\w+\n$/);
      const [first] = await tagged();
      expect(first?.status).toBe('running');
      expect((await first?.exec('echo $STAGE'))?.stdout).toBe('one\n');

      const all = await cli('deploy', layout);
      expect(all.stdout).toMatch(/^unchanged\s+sandbox\s+dev-env\s+sbx_\w+\ncreated\s+agent\s+layout-helper\s+v1\n$/);
      expect((await context.rt.agents.get('layout-helper')).sandboxId).toBe(first?.id);

      // A changed definition replaces the sandbox; the agent follows it to the new one.
      writeFileSync(join(layout, 'sandboxes', 'dev-env.ts'), devEnv('two'));
      const planJson = JSON.parse((await cli('--json', 'deploy', layout, '--dry-run')).stdout) as { action: string }[];
      expect(planJson.map((step) => step.action)).toEqual(['update', 'update']);
      const replaced = await cli('deploy', layout);
      expect(replaced.stdout).toMatch(/updated\s+sandbox\s+dev-env\s+sbx_\w+\s+replaced sbx_/);
      const [second] = await tagged();
      expect(second?.id).not.toBe(first?.id);
      expect((await second?.exec('echo $STAGE'))?.stdout).toBe('two\n');
      expect((await context.rt.agents.get('layout-helper')).sandboxId).toBe(second?.id);
      await expect(context.rt.sandboxes.get(first?.id ?? '')).resolves.toMatchObject({ status: 'destroyed' });

      // A config naming a project, added later: the sandbox deployed before it is found and kept where it is
      // (no second one is made), and the agent moves to the project. Without the config again, all is as before.
      writeFileSync(join(layout, 'runtools.config.ts'), "export default { project: 'layout-app' };\n");
      const projected = await cli('deploy', layout);
      expect([projected.code, projected.stderr]).toEqual([0, expect.any(String)]);
      expect(projected.stdout).toMatch(/^created\s+project\s+layout-app\s+prj_\w+\n/);
      expect(projected.stdout).toMatch(/unchanged\s+sandbox\s+dev-env\s+sbx_\w+ .*kept in the default project/);
      expect(projected.stdout).toMatch(/updated\s+agent\s+layout-helper\s+v2/);
      expect((await tagged()).map((sandbox) => sandbox.id)).toEqual([second?.id]);
      const app = (await context.rt.projects.list()).find((each) => each.name === 'layout-app');
      expect(await context.rt.agents.get('layout-helper')).toMatchObject({ projectId: app?.id, sandboxId: second?.id });
      rmSync(join(layout, 'runtools.config.ts'));

      // Its file gone: kept and reported, until --prune.
      rmSync(join(layout, 'sandboxes', 'dev-env.ts'));
      rmSync(join(layout, 'agents', 'helper.ts'));
      writeFileSync(join(layout, 'sandboxes', 'other.ts'), devEnv('x').replace("'dev-env'", "'other-env'"));
      const kept = await cli('deploy', layout, '--sandboxes-only', '--dry-run');
      expect(kept.stdout).toMatch(/keep\s+sandbox\s+dev-env\s+sbx_\w+: its file is gone; --prune destroys it/);
      const pruned = await cli('deploy', layout, '--sandboxes-only', '--prune');
      expect(pruned.stdout).toMatch(/pruned\s+sandbox\s+dev-env/);
      expect(await tagged()).toEqual([]);
      const refused = await cli('deploy', layout, '--tools-only', '--agents-only');
      expect([refused.code, refused.stderr]).toEqual([2, expect.stringContaining('at most one of')]);
    } finally {
      for (const sandbox of await context.rt.sandboxes.list())
        if (sandbox.info.metadata['runtools.deploy.name'] && sandbox.status !== 'destroyed') await sandbox.destroy();
    }
  });

  it('runtools init makes a project that type-checks, plans as generated, and deploys and runs its tool', async () => {
    const made = join(configDir, 'made');
    const init = await cli('init', made);
    expect(init.code).toBe(0);
    expect(init.stdout.split('\n').filter(Boolean).sort()).toEqual(
      [
        'agents/example-agent.ts',
        'package.json',
        'runtools.config.ts',
        'sandboxes/dev-env.ts',
        'tools/example-tool.ts',
        'tsconfig.json',
        'workflows/hello.ts',
      ].map((path) => `created ${path}`),
    );
    const again = await cli('init', made);
    expect([again.code, again.stderr]).toEqual([2, expect.stringContaining('is not empty')]);
    // npm install, offline: the checkout's node_modules (which has the SDK, TypeScript and Node's types).
    symlinkSync(join(repoRoot, 'node_modules'), join(made, 'node_modules'));
    const typecheck = spawnSync(join(repoRoot, 'node_modules', '.bin', 'tsc'), ['-p', join(made, 'tsconfig.json')], {
      encoding: 'utf8',
    });
    expect([typecheck.status, typecheck.stdout]).toEqual([0, '']);
    const planned = await cli('deploy', made, '--dry-run');
    expect([planned.code, planned.stdout]).toEqual([
      0,
      'create     project  made\ncreate     tool     example-tool\ncreate     sandbox  dev-env\ncreate     agent    example-agent\ncreate     workflow hello\n',
    ]);
    expect((await cli('deploy', made, '--tools-only')).stdout).toMatch(/^created\s+tool\s+example-tool\s+v1\n$/);
    const greeted = await cli('tools', 'execute', 'example-tool', 'greet', '--params', '{"name":"Ada"}');
    expect(JSON.parse(greeted.stdout)).toEqual({ message: 'Hello, Ada!' });
  });
});
