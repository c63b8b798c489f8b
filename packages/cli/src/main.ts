import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import * as agentCommands from './commands/agent/agent.js';
import * as agentRunCommands from './commands/agent/run.js';
import * as authKeysCreate from './commands/auth/keys/create.js';
import * as authKeysGet from './commands/auth/keys/get.js';
import * as authKeysList from './commands/auth/keys/list.js';
import * as authKeysRevoke from './commands/auth/keys/revoke.js';
import * as dashboard from './commands/dashboard/open.js';
import * as deploy from './commands/deploy/deploy.js';
import * as doctor from './commands/doctor/check.js';
import * as init from './commands/init/init.js';
import * as memberAccept from './commands/member/accept.js';
import * as memberInvitations from './commands/member/invitations.js';
import * as memberInvite from './commands/member/invite.js';
import * as memberList from './commands/member/list.js';
import * as memberRemove from './commands/member/remove.js';
import * as meshApprove from './commands/mesh/approve.js';
import * as meshAudit from './commands/mesh/audit.js';
import * as meshDown from './commands/mesh/down.js';
import * as meshNodes from './commands/mesh/nodes.js';
import * as meshStatus from './commands/mesh/status.js';
import * as meshUp from './commands/mesh/up.js';
import * as oauthCommands from './commands/oauth/oauth.js';
import * as orgCreate from './commands/org/create.js';
import * as orgGet from './commands/org/get.js';
import * as orgList from './commands/org/list.js';
import * as orgUsage from './commands/org/usage.js';
import * as projectCreate from './commands/project/create.js';
import * as projectDelete from './commands/project/delete.js';
import * as projectGet from './commands/project/get.js';
import * as projectList from './commands/project/list.js';
import * as models from './commands/provider/models.js';
import * as providerCommands from './commands/provider/provider.js';
import * as sandboxCreate from './commands/sandbox/create.js';
import * as sandboxDestroy from './commands/sandbox/destroy.js';
import * as sandboxExec from './commands/sandbox/exec.js';
import * as sandboxFilesCat from './commands/sandbox/files/cat.js';
import * as sandboxFilesGet from './commands/sandbox/files/get.js';
import * as sandboxFilesLs from './commands/sandbox/files/ls.js';
import * as sandboxFilesPut from './commands/sandbox/files/put.js';
import * as sandboxGet from './commands/sandbox/get.js';
import * as sandboxList from './commands/sandbox/list.js';
import * as sandboxLogs from './commands/sandbox/logs.js';
import * as sandboxPause from './commands/sandbox/pause.js';
import * as sandboxPs from './commands/sandbox/ps.js';
import * as sandboxShell from './commands/sandbox/shell.js';
import * as sandboxSnapshot from './commands/sandbox/snapshot.js';
import * as sandboxSsh from './commands/sandbox/ssh.js';
import * as sandboxStats from './commands/sandbox/stats.js';
import * as sandboxUrl from './commands/sandbox/url.js';
import * as secretDelete from './commands/secret/delete.js';
import * as secretGet from './commands/secret/get.js';
import * as secretList from './commands/secret/list.js';
import * as secretRotateRoot from './commands/secret/rotate-root.js';
import * as secretSet from './commands/secret/set.js';
import * as serverStart from './commands/server/start.js';
import * as login from './commands/session/login.js';
import * as logout from './commands/session/logout.js';
import * as whoami from './commands/session/whoami.js';
import * as sshKeyAdd from './commands/ssh-key/add.js';
import * as sshKeyList from './commands/ssh-key/list.js';
import * as sshKeyRemove from './commands/ssh-key/remove.js';
import * as templateCommands from './commands/template/template.js';
import * as threadCommands from './commands/thread/thread.js';
import * as toolsCommands from './commands/tools/tools.js';
import * as workflowApprovals from './commands/workflow/approvals.js';
import * as workflowApprove from './commands/workflow/approve.js';
import * as workflowCancel from './commands/workflow/cancel.js';
import * as workflowDelete from './commands/workflow/delete.js';
import * as workflowEvents from './commands/workflow/events.js';
import * as workflowGet from './commands/workflow/get.js';
import * as workflowList from './commands/workflow/list.js';
import * as workflowPublish from './commands/workflow/publish.js';
import * as workflowRun from './commands/workflow/run.js';
import * as workflowRuns from './commands/workflow/runs.js';
import * as workflowSave from './commands/workflow/save.js';
import * as workflowStatus from './commands/workflow/status.js';
import * as workflowTrigger from './commands/workflow/trigger.js';
import * as workflowValidate from './commands/workflow/validate.js';
import * as workflowVersions from './commands/workflow/versions.js';
import * as workspaceFiles from './commands/workspace/files.js';
import * as workspaceCommands from './commands/workspace/workspace.js';
import { reportError } from './errors.js';

type Registrar = { register(parent: Command): void };

function group(parent: Command, name: string, description: string, commands: Registrar[]): Command {
  const command = parent.command(name).description(description);
  for (const entry of commands) entry.register(command);
  return command;
}

const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;

/** Builds the program: `runtools <noun> <verb>`, global --json/--url/--api-key. */
export function buildProgram(): Command {
  const program = new Command('runtools')
    .description('RunTools: AI agents in isolated sandboxes. Docs: <server>/docs')
    // Program options are recognised after subcommands too, and `--version` also names the version of a thing
    // (`workflow run SLUG --version 3`): the program's own is -V, and --version as the first word (see main).
    .version(version, '-V', 'output the version number (also --version, as the first word)')
    .option('--json', 'print machine-readable JSON (reads)')
    .option('--url <url>', 'API base URL (default: RUNTOOLS_API_URL, your login, http://127.0.0.1:7400)')
    .option('--api-key <key>', 'API key (default: RUNTOOLS_API_KEY, your login)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const entry of [serverStart, login, logout, whoami, dashboard, doctor]) entry.register(program);
  const auth = program.command('auth').description('API keys');
  group(auth, 'keys', 'create, list and revoke API keys', [authKeysCreate, authKeysList, authKeysGet, authKeysRevoke]);
  group(program, 'secret', 'org secrets, encrypted at rest', [
    secretSet,
    secretList,
    secretGet,
    secretDelete,
    secretRotateRoot,
  ]);
  group(program, 'ssh-key', 'SSH public keys for sandbox access', [sshKeyAdd, sshKeyList, sshKeyRemove]);
  const workspace = group(program, 'workspace', 'storage that outlives sandboxes (named by id or slug)', [
    workspaceCommands,
  ]);
  group(workspace, 'files', 'files of a workspace', [workspaceFiles]);
  group(program, 'template', 'templates sandboxes start from (built-in and custom)', [templateCommands]);
  group(program, 'org', 'organizations', [orgList, orgCreate, orgGet, orgUsage]);
  group(program, 'project', 'projects of the org', [projectList, projectCreate, projectGet, projectDelete]);
  const sandbox = group(program, 'sandbox', 'isolated Linux environments', [
    sandboxCreate,
    sandboxList,
    sandboxGet,
    sandboxExec,
    sandboxPs,
    sandboxStats,
    sandboxLogs,
    sandboxPause,
    sandboxSnapshot,
    sandboxUrl,
    sandboxShell,
    sandboxSsh,
    sandboxDestroy,
  ]);
  group(sandbox, 'files', 'files inside a sandbox', [
    sandboxFilesLs,
    sandboxFilesCat,
    sandboxFilesPut,
    sandboxFilesGet,
  ]);
  group(program, 'member', 'members of the org and their roles', [
    memberList,
    memberInvite,
    memberInvitations,
    memberAccept,
    memberRemove,
  ]);
  group(program, 'agent', 'agents: define them, run them, follow and cancel their runs', [
    agentCommands,
    agentRunCommands,
  ]);
  group(program, 'thread', 'conversations an agent continues run after run', [threadCommands]);
  group(program, 'tools', 'tools agents call: the marketplace, installations, custom tools, credentials, calls', [
    toolsCommands,
  ]);
  const workflow = group(
    program,
    'workflow',
    'workflows: versioned graphs of agents, tools and sandboxes, with runs, events, approvals and triggers',
    [
      workflowSave,
      workflowValidate,
      workflowList,
      workflowGet,
      workflowVersions,
      workflowPublish,
      workflowDelete,
      workflowRun,
      workflowRuns,
      workflowStatus,
      workflowCancel,
      workflowEvents,
      workflowApprovals,
      workflowApprove,
    ],
  );
  group(workflow, 'trigger', 'cron and signed webhook triggers of a workflow', [workflowTrigger]);
  group(
    program,
    'mesh',
    'RunMesh: link this device (up/down/status), approve devices, nodes, WireGuard config, audit, revoke',
    [meshUp, meshDown, meshStatus, meshApprove, meshNodes, meshAudit],
  );
  group(program, 'oauth', 'connected accounts: OAuth apps, connections tools use (the broker)', [oauthCommands]);
  group(program, 'provider', 'model endpoints of your own (Ollama, vLLM, a proxy)', [providerCommands]);
  for (const entry of [models, init, deploy]) entry.register(program);
  // Subcommands inherit exit override so usage errors reach the one handler below.
  const inherit = (command: Command) => {
    for (const sub of command.commands) {
      sub.exitOverride();
      inherit(sub);
    }
  };
  inherit(program);
  return program;
}

/** Runs the CLI and exits with a code scripts can trust (see errors.ts). */
export async function main(argv: string[]): Promise<void> {
  let code = 0;
  try {
    const [node = '', script = '', first, ...rest] = argv;
    await buildProgram().parseAsync(first === '--version' ? [node, script, '-V', ...rest] : argv);
  } catch (error) {
    code =
      error instanceof CommanderError && error.exitCode === 0
        ? 0
        : reportError(error, (text) => process.stderr.write(text));
  }
  // A command may have set its own non-zero code (doctor with no working driver) without throwing.
  if (code !== 0) process.exitCode = code;
  // Let stdout drain; a server command returns only once it has stopped.
  if (code !== 0) process.exit(code);
}
