import {
  type AgentRunRequest,
  type ConcreteScope,
  type RunStatus,
  sandboxTools,
  type TokenUsage,
} from '@runtools/spec';
import {
  APICallError,
  jsonSchema,
  type LanguageModelUsage,
  type ModelMessage,
  stepCountIs,
  streamText,
  tool,
  type UserContent,
} from 'ai';
import type { Kysely, Transaction } from 'kysely';
import type { Logger } from 'pino';
import { type Actor, platformActor } from '../auth/actor.js';
import { requireScopes } from '../auth/authenticate.js';
import { checkMounts } from '../auth/grants.js';
import { resolveActor, type StoredActor } from '../auth/stored-actor.js';
import type { SecretStore } from '../credentials/secret-store.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { nowIso } from '../ids.js';
import { recordMeshAudit } from '../mesh/audit.js';
import { deviceReturnMs, type MeshChannels } from '../mesh/channels.js';
import { deviceToolHost } from '../mesh/device-tool-host.js';
import type { MeshNodes } from '../mesh/nodes.js';
import type { DevUrls } from '../sandboxes/dev-urls.js';
import type { SandboxService } from '../sandboxes/sandbox-service.js';
import type { ToolService } from '../tools/tool-service.js';
import type { AgentDefinitionRecord, AgentRecord } from './agent-service.js';
import { builtinToolSet, sandboxToolHost, type ToolEnvironment, type ToolHost } from './builtin-tools.js';
import { codexToolSet } from './codex-tools.js';
import type { ModelResolver } from './models.js';
import type { LiveRun, RunLog } from './run-log.js';

/** A stored step of a run: step 0 is the user's turn, each later one a finished step of the loop. */
export interface StoredStep {
  step: number;
  messages: ModelMessage[];
  finishReason: string | null;
  text: string | null;
  usage: TokenUsage;
}

export function usageOf(usage: LanguageModelUsage | undefined): TokenUsage {
  const inputTokens = usage?.inputTokens ?? 0;
  const outputTokens = usage?.outputTokens ?? 0;
  return { inputTokens, outputTokens, totalTokens: usage?.totalTokens ?? inputTokens + outputTokens };
}

/** The steps and tokens of a run's finished steps. */
export function progressOf(steps: StoredStep[]): LiveRun['progress'] {
  const usage = { inputTokens: 0, outputTokens: 0, totalTokens: 0 };
  let count = 0;
  for (const step of steps) {
    if (step.step === 0) continue;
    count++;
    usage.inputTokens += step.usage.inputTokens;
    usage.outputTokens += step.usage.outputTokens;
    usage.totalTokens += step.usage.totalTokens;
  }
  return { steps: count, usage };
}

/** Text-like attachments go to the model as text, anything else (images, PDFs) as a file part. */
function isTextual(mediaType: string): boolean {
  return /^text\//.test(mediaType) || /[/+](json|xml|yaml|x-yaml|javascript|typescript|x-sh|csv)$/.test(mediaType);
}

export function userContent(body: AgentRunRequest): UserContent {
  if (!body.attachments?.length) return body.prompt;
  const parts: Exclude<UserContent, string> = [{ type: 'text', text: body.prompt }];
  for (const attachment of body.attachments) {
    const bytes = Buffer.from(attachment.content, 'base64');
    if (isTextual(attachment.mediaType))
      parts.push({
        type: 'text',
        text: `<attachment name="${attachment.name}" type="${attachment.mediaType}">\n${bytes.toString('utf8')}\n</attachment>`,
      });
    // Images too: the AI SDK gives a file part of an image type to each provider in its image format.
    else
      parts.push({
        type: 'file',
        data: attachment.content,
        mediaType: attachment.mediaType,
        filename: attachment.name,
      });
  }
  return parts;
}

/** How a run that cannot go on ends: one started before runs could resume, left by a server that stopped. */
const interrupted = {
  code: 'interrupted',
  message: 'the control plane stopped while this run was in progress; start it again',
};

class Unresumable extends Error {}

/** A failure as a run reports it: a code and a message a person can act on. */
function describeFailure(error: unknown): { code: string; message: string } {
  if (error instanceof Unresumable) return interrupted;
  if (error instanceof DomainError) return { code: error.code, message: error.message };
  if (APICallError.isInstance(error)) {
    const status = error.statusCode ?? 0;
    const code =
      status === 401 || status === 403 ? 'model_auth_failed' : status === 429 ? 'model_rate_limited' : 'model_error';
    return { code, message: `the model provider answered ${status || 'with an error'}: ${error.message}` };
  }
  return { code: 'run_failed', message: error instanceof Error ? error.message : String(error) };
}

/** Whether the run made its sandbox for itself (released at its end) rather than using a linked or thread's one. */
function ownsSandbox(definition: AgentDefinitionRecord, thread: Database['threads'] | undefined): boolean {
  if (definition.mode !== 'managed') return false;
  return (definition.managed?.scope ?? 'run') === 'run' || !thread;
}

/** What the start event says of an attachment (its content is in the run's first stored step). */
export interface RunAttachmentSummary {
  name: string;
  mediaType: string;
  size: number;
}

interface StepDone {
  messages: ModelMessage[];
}

export interface RunLoopDependencies {
  db: Kysely<Database>;
  models: ModelResolver;
  sandboxes: SandboxService;
  devUrls: DevUrls;
  secrets: SecretStore;
  tools: ToolService;
  exaUrl: string;
  log: RunLog;
  logger: Logger;
  /** RunMesh: where a local agent's device is, and the channel its tools go over. */
  mesh: { nodes: MeshNodes; channels: MeshChannels };
}

/**
 * One run's loop, from wherever it stands: model → tool calls in the sandbox → results back → … until a final
 * answer or maxIterations. It starts from the run's stored steps, so a run another process held (and lost,
 * or gave back when it stopped) goes on from its last finished step: each finished step is stored with its
 * messages and usage before the next begins. A step cut short is done again from its start.
 */
export class RunLoop {
  constructor(private readonly deps: RunLoopDependencies) {}

  private get db() {
    return this.deps.db;
  }

  /**
   * A run acts as its caller, with the caller's scopes cut to its role, so it may do only what the caller
   * could do directly: every run works in a sandbox (linked, the thread's, or one it creates) where its tools
   * exec and write, which needs `sandboxes:write`; a model on an endpoint the org registered receives the
   * secret that endpoint names, which needs `secrets:read`. Built-in providers and web search send their org
   * secrets only where the server's operator points them.
   */
  async checkAuthority(auth: Actor, definition: AgentDefinitionRecord): Promise<void> {
    // A local agent's tools run on a device the caller owns or was allowed; a sandbox's need sandboxes:write.
    if (definition.mode === 'local') await this.deps.mesh.nodes.dispatchTarget(auth, definition.device ?? '');
    else requireScopes(auth, ['sandboxes:write']);
    if (definition.mode === 'managed') checkMounts(auth, definition.managed?.mounts);
    const target = await this.deps.models.target(auth.orgId, definition.model);
    if (target.kind === 'custom' && target.secret) requireScopes(auth, ['secrets:read']);
  }

  async steps(runId: string): Promise<StoredStep[]> {
    const rows = await this.db
      .selectFrom('agent_run_steps')
      .selectAll()
      .where('run_id', '=', runId)
      .orderBy('step')
      .execute();
    return rows.map((row) => {
      const inputTokens = Number(row.input_tokens);
      const outputTokens = Number(row.output_tokens);
      return {
        step: Number(row.step),
        messages: JSON.parse(row.messages) as ModelMessage[],
        finishReason: row.finish_reason,
        text: row.text,
        usage: { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens },
      };
    });
  }

  /** The agent as the run started it (the version it pinned). */
  private async agentOf(run: Database['agent_runs']): Promise<AgentRecord> {
    const row = await this.db
      .selectFrom('agent_versions')
      .innerJoin('agents', 'agents.id', 'agent_versions.agent_id')
      .select(['agent_versions.definition', 'agents.project_id', 'agents.created_at', 'agents.updated_at'])
      .where('agent_versions.agent_id', '=', run.agent_id)
      .where('agent_versions.version', '=', run.agent_version)
      .where('agents.org_id', '=', run.org_id)
      .executeTakeFirst();
    if (!row)
      throw new DomainError('agent_not_found', `agent ${run.agent_slug} was deleted while its run was in progress`, {
        slug: run.agent_slug,
      });
    return {
      id: run.agent_id,
      orgId: run.org_id,
      slug: run.agent_slug,
      version: Number(run.agent_version),
      definition: JSON.parse(row.definition) as AgentDefinitionRecord,
      projectId: row.project_id,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  /**
   * The sandbox the run works in: the linked one, the one it made before a restart (if it is still there),
   * the thread's, or a new one from the managed spec.
   */
  private async sandboxFor(
    auth: Actor,
    agent: AgentRecord,
    run: Database['agent_runs'],
    thread: Database['threads'] | undefined,
  ): Promise<{ id: string; created: boolean }> {
    const definition = agent.definition;
    const { sandboxes } = this.deps;
    const resume = async (id: string) => {
      const sandbox = await sandboxes.get(auth, id);
      if (sandbox.status === 'paused') await sandboxes.resume(auth, id);
      return sandbox;
    };
    if (definition.mode === 'in_sandbox' && definition.sandboxId) {
      await resume(definition.sandboxId);
      return { id: definition.sandboxId, created: false };
    }
    const managed = definition.managed ?? { scope: 'run' as const, cleanup: 'destroy' as const };
    const owned = ownsSandbox(definition, thread);
    if (owned && run.sandbox_id) {
      // Resumed: the sandbox it made before still holds what its finished steps did there.
      const sandbox = await resume(run.sandbox_id).catch(() => undefined);
      if (sandbox && (sandbox.status === 'running' || sandbox.status === 'paused'))
        return { id: run.sandbox_id, created: true };
    }
    if (managed.scope === 'thread' && thread?.sandbox_id) {
      const sandbox = await resume(thread.sandbox_id).catch(() => undefined);
      if (sandbox && sandbox.status !== 'destroyed' && sandbox.status !== 'destroying')
        return { id: thread.sandbox_id, created: false };
    }
    const sandbox = await sandboxes.create(auth, {
      ...(managed.template ? { template: managed.template } : {}),
      ...(managed.runtime ? { runtime: managed.runtime } : {}),
      ...(managed.resources ? { resources: managed.resources } : {}),
      ...(managed.mounts ? { mounts: managed.mounts } : {}),
      ...(managed.network ? { network: managed.network } : {}),
      // In the agent's project, with the agent.
      projectId: agent.projectId,
      metadata: { agent: agent.slug, [managed.scope === 'thread' && thread ? 'thread' : 'run']: thread?.id ?? run.id },
    });
    if (managed.scope === 'thread' && thread) {
      await this.db.updateTable('threads').set({ sandbox_id: sandbox.id }).where('id', '=', thread.id).execute();
      thread.sandbox_id = sandbox.id;
    }
    return { id: sandbox.id, created: owned };
  }

  /**
   * Runs the loop from the run's stored steps to its end, and stores that end (its events, its totals, the
   * thread's messages) in one transaction. Stopped because the server stops, it stores its events and gives
   * the run back (the next process resumes it); stopped because another process took it over, it writes
   * nothing more.
   */
  async run(run: Database['agent_runs'], live: LiveRun, stored: StoredStep[]): Promise<void> {
    const { log } = this.deps;
    let status: RunStatus = 'failed';
    let stopReason: string | null = null;
    let failure: { code: string; message: string } | null = null;
    const finishedSteps = stored.filter((step) => step.step > 0);
    let text: string | null = finishedSteps.findLast((step) => step.text)?.text ?? null;
    let lastFinish = finishedSteps.at(-1)?.finishReason ?? null;
    // Steps and tokens so far: readers of a run in progress here see them (the row has them per step).
    const { progress } = live;
    const userTurn = stored.find((step) => step.step === 0)?.messages;
    const messages: ModelMessage[] = finishedSteps.flatMap((step) => step.messages);
    let actor: Actor | undefined;
    let definition: AgentDefinitionRecord | undefined;
    let thread: Database['threads'] | undefined;
    let sandbox: { id: string; created: boolean } | undefined;
    // Set when the caller loses what the run needs while it runs (its key revoked or expired, its holder
    // removed or demoted): the run stops there, failed with that reason.
    let lostAuthority: DomainError | undefined;
    try {
      if (run.cancel_requested_at) log.stop(live, 'cancelled', new Error('cancelled'));
      if (live.abort.signal.aborted) throw live.abort.signal.reason;
      // A run from before runs were resumable has neither: it ends as it would have then.
      if (!run.actor || !userTurn) throw new Unresumable();
      const caller = JSON.parse(run.actor) as StoredActor;
      // The caller as it is now: one whose key was revoked (or who lost the role) since fails here.
      actor = await resolveActor(this.db, run.org_id, caller);
      const agent = await this.agentOf(run);
      definition = agent.definition;
      await this.checkAuthority(actor, definition);
      const { model, providerOptions } = await this.deps.models.model(actor.orgId, definition.model);
      thread = run.thread_id
        ? await this.db.selectFrom('threads').selectAll().where('id', '=', run.thread_id).executeTakeFirst()
        : undefined;
      const limit = definition.maxIterations;
      // Its last step was stored and nothing after it: the run ended and only its end was not stored.
      const ended = progress.steps >= limit || (progress.steps > 0 && lastFinish !== 'tool-calls');
      if (!ended) {
        let workdir: string;
        let host: ToolHost;
        let device: { id: string; name: string } | undefined;
        if (definition.mode === 'local') {
          // Its tools run on the device, over the channel it keeps to this control plane.
          const node = await this.deps.mesh.nodes.dispatchTarget(actor, definition.device ?? '');
          // Resumed after a control plane stopped: its device reconnects within seconds, so give it the time.
          const resuming = live.events.length > 0;
          for (let waited = 0; resuming && waited < deviceReturnMs; waited += 250) {
            if (await this.deps.mesh.channels.reachable(node.id)) break;
            await new Promise((resolve) => setTimeout(resolve, 250));
          }
          if (!node.root || !(await this.deps.mesh.channels.reachable(node.id)))
            throw new DomainError(
              'node_offline',
              `device ${node.name} is not connected; start its helper (runtools mesh up)`,
            );
          device = { id: node.id, name: node.name };
          workdir = node.root;
          host = deviceToolHost(this.deps.mesh.channels, node.id);
          await recordMeshAudit(this.db, {
            orgId: run.org_id,
            action: 'node.dispatched',
            actor: actor.principal,
            nodeId: node.id,
            details: {
              runId: run.id,
              agent: agent.slug,
              member: actor.member?.id ?? null,
              resumed: live.events.length > 0,
              // Through another control plane's channel (relayed), or this one's.
              relayed: !this.deps.mesh.channels.connected(node.id),
            },
          });
        } else {
          const made = await this.sandboxFor(actor, agent, run, thread);
          sandbox = made;
          if (made.id !== run.sandbox_id) {
            await this.db.updateTable('agent_runs').set({ sandbox_id: made.id }).where('id', '=', run.id).execute();
            run.sandbox_id = made.id;
          }
          const info = await this.deps.sandboxes.get(actor, made.id);
          workdir = info.mounts.length ? (info.mounts[0]?.path ?? '/workspace') : '/root';
          host = sandboxToolHost(actor, this.deps.sandboxes, made.id);
        }
        if (live.events.length === 0)
          log.emit(live, {
            type: 'start',
            runId: run.id,
            threadId: thread?.id ?? null,
            agent: agent.slug,
            model: definition.model,
            sandboxId: sandbox?.id ?? null,
            ...(device ? { device } : {}),
            attachments: run.attachments ? (JSON.parse(run.attachments) as RunAttachmentSummary[]) : [],
          });
        else log.emit(live, { type: 'resumed', step: progress.steps, sandboxId: sandbox?.id ?? null });
        const history = thread ? await this.history(thread.id) : [];
        const toolEnvironment: ToolEnvironment = {
          auth: actor,
          host,
          sandboxId: sandbox?.id ?? null,
          sandboxes: this.deps.sandboxes,
          devUrls: this.deps.devUrls,
          secrets: this.deps.secrets,
          exaUrl: this.deps.exaUrl,
          workdir,
        };
        const tools = {
          ...builtinToolSet(toolEnvironment, definition.tools),
          ...codexToolSet(toolEnvironment, definition.tools),
        };
        // Every tool call acts as the caller is now, not as it was when the run started: a built-in in the
        // sandbox (sandboxes:write), the org's tools through the tool service (which checks tools:execute).
        const asCallerNow = async (scopes: readonly ConcreteScope[] = []) => {
          try {
            const now = await resolveActor(this.db, run.org_id, caller);
            requireScopes(now, scopes);
            return now;
          } catch (error) {
            lostAuthority = error instanceof DomainError ? error : new DomainError('unauthenticated', String(error));
            log.stop(live, 'authority', lostAuthority);
            throw lostAuthority;
          }
        };
        // A device that goes away or is revoked ends the run (fail-closed), as a caller losing its rights does.
        const deviceLost = (error: unknown) => {
          if (error instanceof DomainError && (error.code === 'node_offline' || error.code === 'node_revoked')) {
            lostAuthority = error;
            log.stop(live, 'authority', error);
          }
          return error;
        };
        for (const entry of Object.values(tools)) {
          const execute = entry.execute;
          if (!execute) continue;
          entry.execute = async (input, options) => {
            if (device) {
              const now = await asCallerNow();
              await this.deps.mesh.nodes.dispatchTarget(now, device.id).catch((error: unknown) => {
                lostAuthority = error instanceof DomainError ? error : new DomainError('node_revoked', String(error));
                log.stop(live, 'authority', lostAuthority);
                throw lostAuthority;
              });
            } else await asCallerNow(['sandboxes:write']);
            try {
              return await execute(input, options);
            } catch (error) {
              throw deviceLost(error);
            }
          };
        }
        const integration = await this.deps.tools.agentActions(
          actor,
          definition.tools.filter((name) => !sandboxTools.includes(name)),
        );
        for (const { tool: name, action, modelName } of integration) {
          tools[modelName] = tool({
            description: action.description,
            inputSchema: jsonSchema(action.parameters),
            execute: async (params) =>
              (
                await this.deps.tools.execute(await asCallerNow(), name, {
                  action: action.name,
                  params: params as Record<string, unknown>,
                })
              ).result,
          });
        }
        // The messages of each step as the SDK hands them over once the step is done (its assistant message
        // and tool results), taken by the stream's finish-step below to be stored with the step.
        const stepsDone: StepDone[] = [];
        let stepDoneWake: (() => void) | undefined;
        const stopped = new Promise<never>((_, reject) => {
          const onAbort = () => reject(live.abort.signal.reason);
          if (live.abort.signal.aborted) onAbort();
          else live.abort.signal.addEventListener('abort', onAbort, { once: true });
        });
        stopped.catch(() => {});
        const nextStepDone = async (): Promise<StepDone> => {
          while (stepsDone.length === 0) {
            await Promise.race([new Promise<void>((resolve) => (stepDoneWake = resolve)), stopped]);
          }
          return stepsDone.shift() as StepDone;
        };
        const environment = device
          ? `You work on the user's own device "${device.name}" (through RunMesh). Your working directory is ${workdir}; relative paths in tools are taken from there, and the tools cannot reach outside it.`
          : `You work in a Linux sandbox (you are root). Your working directory is ${workdir}; relative paths in tools are taken from there.`;
        const result = streamText({
          model,
          system: definition.systemPrompt ? `${definition.systemPrompt}\n\n${environment}` : environment,
          // Resumed: the finished steps' messages follow the user's turn, as they did in the loop that stopped.
          messages: [...history, ...userTurn, ...messages],
          tools,
          stopWhen: stepCountIs(limit - progress.steps),
          abortSignal: live.abort.signal,
          maxRetries: 2,
          ...(providerOptions ? { providerOptions } : {}),
          onStepFinish: (step) => {
            stepsDone.push({ messages: step.response.messages });
            stepDoneWake?.();
          },
          // Errors arrive as stream parts and end the run as failed; the SDK's default would print them.
          onError: () => {},
        });
        const toolStarted = new Map<string, number>();
        const toolResult = (part: { toolCallId: string; toolName: string }, output: unknown, isError: boolean) =>
          log.emit(live, {
            type: 'tool-result',
            toolCallId: part.toolCallId,
            toolName: part.toolName,
            output,
            isError,
            durationMs: Math.round(performance.now() - (toolStarted.get(part.toolCallId) ?? performance.now())),
          });
        let stepText = '';
        let streamError: unknown;
        let aborted = false;
        for await (const part of result.fullStream) {
          switch (part.type) {
            case 'start-step':
              stepText = '';
              break;
            case 'text-delta':
              stepText += part.text;
              log.emit(live, { type: 'text-delta', text: part.text });
              break;
            case 'reasoning-delta':
              log.emit(live, { type: 'thinking', text: part.text });
              break;
            case 'tool-call':
              toolStarted.set(part.toolCallId, performance.now());
              log.emit(live, {
                type: 'tool-call',
                toolCallId: part.toolCallId,
                toolName: part.toolName,
                input: part.input,
              });
              break;
            case 'tool-result':
              toolResult(part, part.output, false);
              break;
            case 'tool-error':
              toolResult(part, part.error instanceof Error ? part.error.message : String(part.error), true);
              break;
            case 'finish-step': {
              const stepUsage = usageOf(part.usage);
              const { messages: stepMessages } = await nextStepDone();
              progress.steps++;
              progress.usage.inputTokens += stepUsage.inputTokens;
              progress.usage.outputTokens += stepUsage.outputTokens;
              progress.usage.totalTokens += stepUsage.totalTokens;
              lastFinish = part.finishReason;
              text = stepText || text;
              messages.push(...stepMessages);
              log.emit(live, {
                type: 'step',
                step: progress.steps,
                finishReason: part.finishReason,
                usage: stepUsage,
              });
              // What resuming needs, stored with the step's event before the next step begins: a restart
              // from here on goes on from this step instead of doing it again.
              await log.write(live, {
                set: {
                  steps: progress.steps,
                  input_tokens: progress.usage.inputTokens,
                  output_tokens: progress.usage.outputTokens,
                  text,
                },
                step: {
                  step: progress.steps,
                  messages: stepMessages,
                  finishReason: part.finishReason,
                  text: stepText || null,
                  usage: stepUsage,
                },
              });
              break;
            }
            case 'error':
              streamError = part.error;
              break;
            case 'abort':
              aborted = true;
              break;
            default:
              break;
          }
        }
        if (aborted || live.abort.signal.aborted) throw live.abort.signal.reason ?? new Error('cancelled');
        if (streamError !== undefined) throw streamError;
      }
      if (lastFinish === 'tool-calls' && progress.steps >= limit) {
        status = 'max_iterations';
        stopReason = 'max_iterations';
      } else {
        status = 'completed';
        stopReason = lastFinish;
      }
    } catch (error) {
      switch (live.stop) {
        case 'lost':
          // Another process holds the run now: nothing here is ours to write.
          return;
        case 'stopping':
          // The server stops: what happened so far is stored and the run given back. The step in flight
          // is lost (its text so far, a tool call it had started) and done again by whoever resumes it.
          await log.write(live, { set: { owner: null, lease_expires_at: null } });
          return;
        case 'cancelled':
          status = 'cancelled';
          stopReason = 'cancelled';
          break;
        case 'authority':
          failure = describeFailure(lostAuthority);
          status = 'failed';
          stopReason = 'error';
          log.emit(live, { type: 'error', ...failure });
          break;
        default:
          failure = describeFailure(error);
          status = 'failed';
          stopReason = error instanceof Unresumable ? 'interrupted' : 'error';
          log.emit(live, { type: 'error', ...failure });
      }
    }
    log.emit(live, {
      type: 'done',
      status,
      stopReason,
      text,
      usage: { ...progress.usage },
      steps: progress.steps,
    });
    clearTimeout(live.timer);
    live.timer = undefined;
    // A run cancelled or failed after some steps keeps them in its thread (its prompt, the calls it made and
    // their results), so the thread knows what was done in the sandbox; one that did nothing leaves nothing,
    // and a retry of the same prompt does not repeat it.
    const remembered =
      thread && userTurn && (status === 'completed' || status === 'max_iterations' || messages.length > 0)
        ? { threadId: thread.id, messages: [...userTurn, ...messages] }
        : undefined;
    const held = await log.write(live, {
      set: {
        status,
        stop_reason: stopReason,
        text,
        error: failure ? JSON.stringify(failure) : null,
        input_tokens: progress.usage.inputTokens,
        output_tokens: progress.usage.outputTokens,
        steps: progress.steps,
        finished_at: nowIso(),
        owner: null,
        lease_expires_at: null,
      },
      ...(remembered ? { also: (trx) => this.remember(trx, remembered.threadId, run.id, remembered.messages) } : {}),
    });
    if (!held) return;
    // The run's own sandbox (not a linked one, not a thread's that later runs reuse).
    const own = sandbox ? sandbox.created : definition && run.sandbox_id && ownsSandbox(definition, thread);
    const sandboxId = sandbox?.id ?? run.sandbox_id;
    if (own && sandboxId && definition)
      await this.release(actor ?? platformActor(run.org_id), sandboxId, definition.managed?.cleanup);
  }

  /** A managed sandbox that served its run or thread: destroyed, paused or kept, as the agent's policy says. */
  async release(auth: Actor, sandboxId: string, cleanup = 'destroy'): Promise<void> {
    try {
      if (cleanup === 'destroy') await this.deps.sandboxes.destroy(auth, sandboxId);
      else if (cleanup === 'pause') await this.deps.sandboxes.pause(auth, sandboxId);
    } catch (error) {
      this.deps.logger.warn({ err: error, sandboxId }, 'releasing a managed sandbox failed');
    }
  }

  private async history(threadId: string): Promise<ModelMessage[]> {
    const rows = await this.db
      .selectFrom('thread_messages')
      .select(['role', 'content'])
      .where('thread_id', '=', threadId)
      .orderBy('seq')
      .execute();
    return rows.map((row) => ({ role: row.role, content: JSON.parse(row.content) }) as ModelMessage);
  }

  private async remember(
    trx: Transaction<Database>,
    threadId: string,
    runId: string,
    messages: ModelMessage[],
  ): Promise<void> {
    const thread = await trx
      .selectFrom('threads')
      .select('message_count')
      .where('id', '=', threadId)
      .executeTakeFirst();
    if (!thread) return;
    const start = Number(thread.message_count);
    const now = nowIso();
    if (messages.length)
      await trx
        .insertInto('thread_messages')
        .values(
          messages.map((message, index) => ({
            thread_id: threadId,
            seq: start + index + 1,
            run_id: runId,
            role: message.role,
            content: JSON.stringify(message.content),
            created_at: now,
          })),
        )
        .execute();
    await trx
      .updateTable('threads')
      .set({ message_count: start + messages.length, updated_at: now })
      .where('id', '=', threadId)
      .execute();
  }
}
