import type { ParsedNode } from '@runtools/spec';
import type { Logger } from 'pino';
import type { RunService } from '../agents/run-service.js';
import type { Actor } from '../auth/actor.js';
import { requireScopes } from '../auth/authenticate.js';
import { DomainError } from '../errors.js';
import type { SandboxService } from '../sandboxes/sandbox-service.js';
import type { ToolService } from '../tools/tool-service.js';
import { evaluate, interpolate, interpolateDeep } from './expressions.js';
import type { NodeRow, RunRow } from './run-store.js';

/** A node that failed for a reason of its own (a command's exit code, an agent run that failed). */
export class NodeFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** The document expressions see: `{ input, nodes: { <id>: { output } }, trigger, run }`. */
export interface ExpressionDocument {
  input: unknown;
  nodes: Record<string, { output: unknown }>;
  trigger: unknown;
  run: { id: string; workflow: string; version: number | null; startedAt: string | null };
}

export interface NodeContext {
  run: RunRow;
  node: ParsedNode;
  row: NodeRow;
  iteration: number;
  attempt: number;
  /** The same for every attempt of this node in this iteration: what a retried effect is keyed on. */
  idempotencyKey: string;
  /** Who the run acts as, read again for this node (only for nodes that act outside the run). */
  actor: Actor | undefined;
  document: ExpressionDocument;
  signal: AbortSignal;
  /** Records an agent node's run before waiting for it, so a retry finds it instead of starting another. */
  linkChildRun(childRunId: string): Promise<void>;
  /** Outputs of earlier node runs of this run (for an agent node's shared thread). */
  earlier(): Promise<NodeRow[]>;
}

/** A finished node: its output, and for condition nodes the branch it chose. */
export interface Completed {
  output: unknown;
  branch?: boolean;
  /** What the node was given once its templates were filled in (a tool's params, a command, a prompt). */
  input?: unknown;
  /** Where its own record is: a tool execution's id (an agent run is linked as the node's child run). */
  links?: Record<string, string>;
}

export interface ExecutorDependencies {
  runs: RunService;
  tools: ToolService;
  sandboxes: SandboxService;
  logger: Logger;
  /** The project a workflow is in: a sandbox node's new sandbox goes there too. */
  projectOf(workflowId: string): Promise<string | undefined>;
}

function string(value: unknown, field: string): string {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null)
    throw new DomainError('validation_failed', `${field} interpolated to nothing`, { field });
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

async function text(template: unknown, document: ExpressionDocument, field: string): Promise<string> {
  return string(await interpolate(String(template), document), field);
}

function callerOf(context: NodeContext): Actor {
  if (!context.actor) throw new Error(`a ${context.node.type} node needs its run's caller`);
  return context.actor;
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason));
}

/** Waits for an agent run to end, watching its events; answers its final state. */
async function agentRunEnd(dependencies: ExecutorDependencies, actor: Actor, runId: string, signal: AbortSignal) {
  const events = await dependencies.runs.events(actor, runId, 0, true);
  const iterator = events[Symbol.asyncIterator]();
  const aborted = new Promise<never>((_, reject) => {
    const onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {});
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), aborted]);
      if (next.done) break;
    }
  } finally {
    await iterator.return?.();
  }
  return dependencies.runs.get(actor, runId);
}

/** The work of the node types that do something and finish (waits are the engine's). */
export async function executeNode(dependencies: ExecutorDependencies, context: NodeContext): Promise<Completed> {
  const { node, document, signal } = context;
  const config = node.config;
  throwIfAborted(signal);
  switch (node.type) {
    case 'transform':
    case 'output':
      return { output: await evaluate(config.expression as string, document) };
    case 'condition': {
      const value = await evaluate(config.expression as string, document);
      return { output: { result: Boolean(value), value }, branch: Boolean(value) };
    }
    case 'parallel':
      return { output: null };
    case 'join': {
      // What came in: the outputs of the nodes feeding it that have one.
      return { output: null };
    }
    case 'tool': {
      const params = (await interpolateDeep(config.params ?? {}, document)) as Record<string, unknown>;
      const result = await dependencies.tools.execute(callerOf(context), config.tool as string, {
        action: config.action as string,
        params,
      });
      return {
        output: result.result,
        input: { tool: config.tool, action: config.action, params },
        links: { toolExecutionId: result.executionId },
      };
    }
    case 'sandbox':
      return executeSandbox(dependencies, context);
    case 'agent':
      return executeAgent(dependencies, context);
    default:
      throw new DomainError('validation_failed', `a ${node.type} node is not executed this way`);
  }
}

async function executeSandbox(dependencies: ExecutorDependencies, context: NodeContext): Promise<Completed> {
  const { node, document, signal } = context;
  const actor = callerOf(context);
  const config = node.config;
  requireScopes(actor, ['sandboxes:write']);
  const command = await text(config.command, document, 'config.command');
  const cwd = config.cwd === undefined ? undefined : await text(config.cwd, document, 'config.cwd');
  let sandboxId = config.sandbox === undefined ? undefined : await text(config.sandbox, document, 'config.sandbox');
  let created = false;
  if (!sandboxId) {
    if (context.attempt > 1) {
      // An earlier attempt's sandbox, left by a process that stopped before destroying it, goes first.
      const leftovers = await dependencies.sandboxes.list(
        actor,
        { 'metadata.idempotencyKey': context.idempotencyKey },
        { limit: 20 },
      );
      for (const leftover of leftovers.data)
        if (leftover.status !== 'destroyed' && leftover.status !== 'destroying')
          await dependencies.sandboxes
            .destroy(actor, leftover.id)
            .catch((error: unknown) =>
              dependencies.logger.warn(
                { err: error, sandboxId: leftover.id },
                'destroying a leftover node sandbox failed',
              ),
            );
    }
    const projectId = await dependencies.projectOf(context.run.workflow_id);
    const sandbox = await dependencies.sandboxes.create(actor, {
      ...(config.template ? { template: config.template as string } : {}),
      ...(projectId ? { projectId } : {}),
      metadata: { workflowRun: context.run.id, node: node.id, idempotencyKey: context.idempotencyKey },
    });
    sandboxId = sandbox.id;
    created = true;
  }
  try {
    throwIfAborted(signal);
    // A little past the node's own timeout, so that the node times out (and says so) before the command does.
    const timeoutMs = ((node.timeoutSeconds ?? 3600) + 2) * 1000;
    const result = await dependencies.sandboxes.exec(actor, sandboxId, {
      command,
      ...(cwd ? { cwd } : {}),
      ...(config.env ? { env: config.env as Record<string, string> } : {}),
      timeoutMs,
    });
    const output = { sandboxId: created ? null : sandboxId, ...result };
    if (result.exitCode !== 0 && !config.allowFailure)
      throw new NodeFailure(
        'command_failed',
        `the command exited with ${result.exitCode}${result.timedOut ? ' (timed out)' : ''}: ${result.stderr.slice(-2000) || result.stdout.slice(-2000)}`,
        { exitCode: result.exitCode, stderr: result.stderr.slice(-4000), stdout: result.stdout.slice(-4000) },
      );
    return { output, input: { command, ...(cwd ? { cwd } : {}), sandboxId: created ? null : sandboxId } };
  } finally {
    if (created)
      await dependencies.sandboxes
        .destroy(actor, sandboxId)
        .catch((error: unknown) =>
          dependencies.logger.warn({ err: error, sandboxId }, 'destroying a node sandbox failed'),
        );
  }
}

async function executeAgent(dependencies: ExecutorDependencies, context: NodeContext): Promise<Completed> {
  const { node, document, signal, row } = context;
  const actor = callerOf(context);
  const config = node.config;
  requireScopes(actor, ['agents:write']);
  let childRunId = row.child_run_id;
  if (childRunId) {
    // A retry: the run started before goes on (or has ended); one a restart interrupted is started again.
    const previous = await dependencies.runs.get(actor, childRunId).catch(() => undefined);
    if (!previous || (previous.status === 'failed' && previous.stopReason === 'interrupted')) childRunId = null;
  }
  if (!childRunId) {
    const prompt = await text(config.prompt, document, 'config.prompt');
    let thread: true | string | undefined;
    if (config.thread === 'run') {
      const shared = (await context.earlier()).find((earlier) => {
        if (earlier.type !== 'agent' || !earlier.output) return false;
        const output = JSON.parse(earlier.output) as { agent?: string; threadId?: string | null };
        return output.agent === config.agent && output.threadId;
      });
      thread = shared ? (JSON.parse(shared.output as string) as { threadId: string }).threadId : true;
    }
    const started = await dependencies.runs.start(actor, config.agent as string, {
      prompt,
      ...(thread ? { thread } : {}),
    });
    childRunId = started.id;
    await context.linkChildRun(childRunId);
  }
  const ended = await agentRunEnd(dependencies, actor, childRunId, signal);
  if (ended.status !== 'completed' && ended.status !== 'max_iterations')
    throw new NodeFailure(
      'agent_run_failed',
      `agent run ${ended.id} ended ${ended.status}${ended.error ? `: ${ended.error.message}` : ''}`,
      { childRunId: ended.id, status: ended.status },
    );
  return {
    input: { agent: config.agent, prompt: ended.prompt },
    output: {
      agent: config.agent,
      runId: ended.id,
      threadId: ended.threadId,
      status: ended.status,
      text: ended.text,
      usage: ended.usage,
      steps: ended.steps,
    },
  };
}
