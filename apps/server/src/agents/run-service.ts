import {
  type AgentRunRequest,
  expandScopes,
  type Role,
  type Run,
  type RunEvent,
  type RunStatus,
  roleCeiling,
  sandboxTools,
  type Thread,
  type ThreadMessage,
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
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { audit } from '../audit.js';
import type { Actor } from '../auth/actor.js';
import { requireScopes } from '../auth/authenticate.js';
import { checkMounts } from '../auth/grants.js';
import type { SecretStore } from '../credentials/secret-store.js';
import { inPage, keysetPage, mapPage, type Page, type PageRequest } from '../db/pagination.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { newId, nowIso } from '../ids.js';
import type { DevUrls } from '../sandboxes/dev-urls.js';
import type { SandboxService } from '../sandboxes/sandbox-service.js';
import type { ToolService } from '../tools/tool-service.js';
import type { AgentRecord, AgentService } from './agent-service.js';
import { builtinToolSet, type ToolEnvironment } from './builtin-tools.js';
import { codexToolSet } from './codex-tools.js';
import type { ModelResolver, ResolvedModel } from './models.js';

/** Events are written to the database in batches this often, and at the run's end. */
const flushIntervalMs = 50;
const finished: readonly RunStatus[] = ['completed', 'failed', 'cancelled', 'max_iterations'];

type EventBody = RunEvent extends infer Event ? (Event extends RunEvent ? Omit<Event, 'seq' | 'at'> : never) : never;

/** A run in this process: its events so far (followers read them from here) and how to stop it. */
interface LiveRun {
  events: RunEvent[];
  persisted: number;
  wake: Set<() => void>;
  abort: AbortController;
  ended: boolean;
  /** Steps and token usage so far (the row has them once the run ends). */
  progress: { steps: number; usage: TokenUsage };
  flushing: Promise<void>;
  timer: NodeJS.Timeout | undefined;
}

export interface RunServiceOptions {
  exaUrl: string;
}

function runFromRow(row: Database['agent_runs']): Run {
  const input = Number(row.input_tokens);
  const output = Number(row.output_tokens);
  return {
    id: row.id,
    agentId: row.agent_id,
    agent: row.agent_slug,
    agentVersion: Number(row.agent_version),
    threadId: row.thread_id,
    sandboxId: row.sandbox_id,
    status: row.status as RunStatus,
    prompt: row.prompt,
    text: row.text,
    stopReason: row.stop_reason,
    error: row.error ? (JSON.parse(row.error) as { code: string; message: string }) : null,
    usage: { inputTokens: input, outputTokens: output, totalTokens: input + output },
    steps: Number(row.steps),
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

function threadFromRow(row: Database['threads']): Thread {
  return {
    id: row.id,
    agentId: row.agent_id,
    agent: row.agent_slug,
    sandboxId: row.sandbox_id,
    messageCount: Number(row.message_count),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function usageOf(usage: LanguageModelUsage | undefined): TokenUsage {
  const inputTokens = usage?.inputTokens ?? 0;
  const outputTokens = usage?.outputTokens ?? 0;
  return { inputTokens, outputTokens, totalTokens: usage?.totalTokens ?? inputTokens + outputTokens };
}

/** Text-like attachments go to the model as text, anything else (images, PDFs) as a file part. */
function isTextual(mediaType: string): boolean {
  return /^text\//.test(mediaType) || /[/+](json|xml|yaml|x-yaml|javascript|typescript|x-sh|csv)$/.test(mediaType);
}

function userContent(body: AgentRunRequest): UserContent {
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

function threadBusy(threadId: string, runId?: string): DomainError {
  return new DomainError(
    'invalid_transition',
    `thread ${threadId} has a run in progress${runId ? ` (${runId})` : ''}; wait for it or cancel it`,
    runId ? { runId } : {},
  );
}

/** How a run the control plane stopped during ends (on a graceful stop, and in recovery after a crash). */
const interrupted = {
  code: 'interrupted',
  message: 'the control plane stopped while this run was in progress; start it again',
};

/** Resolves at the run's next event (or its end). */
function nextWake(live: LiveRun): Promise<void> {
  return new Promise((resolve) => {
    const wake = () => {
      live.wake.delete(wake);
      resolve();
    };
    live.wake.add(wake);
  });
}

async function whenEnded(live: LiveRun): Promise<void> {
  while (!live.ended) await nextWake(live);
}

/** A failure as a run reports it: a code and a message a person can act on. */
function describeFailure(error: unknown): { code: string; message: string } {
  if (error instanceof DomainError) return { code: error.code, message: error.message };
  if (APICallError.isInstance(error)) {
    const status = error.statusCode ?? 0;
    const code =
      status === 401 || status === 403 ? 'model_auth_failed' : status === 429 ? 'model_rate_limited' : 'model_error';
    return { code, message: `the model provider answered ${status || 'with an error'}: ${error.message}` };
  }
  return { code: 'run_failed', message: error instanceof Error ? error.message : String(error) };
}

/**
 * Agent runs: the loop (model → tool calls in the sandbox → results back → … until a final answer or
 * maxIterations), its events streamed to followers and stored for replay, threads that keep the messages.
 */
export class RunService {
  private readonly live = new Map<string, LiveRun>();
  /** Threads with a run in progress in this process. */
  private readonly busyThreads = new Set<string>();
  /** Set while the server stops: runs it aborts end as failed (interrupted), not as cancelled by someone. */
  private stopping = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly agents: AgentService,
    private readonly models: ModelResolver,
    private readonly sandboxes: SandboxService,
    private readonly devUrls: DevUrls,
    private readonly secrets: SecretStore,
    private readonly tools: ToolService,
    private readonly options: RunServiceOptions,
    private readonly logger: Logger,
  ) {
    // The AI SDK prints its warnings (an unknown model's limits, a setting a provider ignores) to stderr;
    // they belong in the server's log, as JSON lines like everything else.
    (globalThis as { AI_SDK_LOG_WARNINGS?: unknown }).AI_SDK_LOG_WARNINGS = (options: {
      warnings: unknown[];
      provider?: string;
      model?: string;
    }) =>
      logger.warn({ provider: options.provider, model: options.model, warnings: options.warnings }, 'model warnings');
  }

  /**
   * Runs left queued or running by a control plane that stopped: they cannot go on (their model stream and
   * tool calls died with it), so they end as failed, with the reason stored and streamed to any replay.
   */
  async recover(): Promise<number> {
    const rows = await this.db
      .selectFrom('agent_runs')
      .select(['id', 'text'])
      .where('status', 'in', ['queued', 'running'])
      .execute();
    for (const row of rows) {
      const last = await this.db
        .selectFrom('run_events')
        .select(({ fn }) => fn.max('seq').as('seq'))
        .where('run_id', '=', row.id)
        .executeTakeFirst();
      const seq = Number(last?.seq ?? 0);
      const at = nowIso();
      // Steps and usage so far, from the step events it stored (the row has totals only for ended runs).
      const stepEvents = await this.db
        .selectFrom('run_events')
        .select('data')
        .where('run_id', '=', row.id)
        .where('type', '=', 'step')
        .execute();
      const usages = stepEvents.map((event) => (JSON.parse(event.data) as { usage: TokenUsage }).usage);
      const input = usages.reduce((sum, usage) => sum + usage.inputTokens, 0);
      const output = usages.reduce((sum, usage) => sum + usage.outputTokens, 0);
      await this.db
        .insertInto('run_events')
        .values([
          { run_id: row.id, seq: seq + 1, type: 'error', data: JSON.stringify({ at, ...interrupted }) },
          {
            run_id: row.id,
            seq: seq + 2,
            type: 'done',
            data: JSON.stringify({
              at,
              status: 'failed',
              stopReason: 'interrupted',
              text: row.text,
              usage: { inputTokens: input, outputTokens: output, totalTokens: input + output },
              steps: usages.length,
            }),
          },
        ])
        .execute();
      await this.db
        .updateTable('agent_runs')
        .set({
          status: 'failed',
          stop_reason: 'interrupted',
          error: JSON.stringify(interrupted),
          input_tokens: input,
          output_tokens: output,
          steps: usages.length,
          finished_at: at,
        })
        .where('id', '=', row.id)
        .execute();
    }
    return rows.length;
  }

  /** Starts a run and answers at once with it (queued); the loop goes on in the background. */
  async start(auth: Actor, slug: string, body: AgentRunRequest): Promise<Run> {
    const agent = await this.agents.record(auth, slug);
    const definition = agent.definition;
    await this.checkAuthority(auth, definition);
    // Checked before anything is created: a missing key or an unknown model is the caller's to fix now.
    const model = await this.models.model(auth.orgId, definition.model);
    if (definition.mode === 'in_sandbox' && definition.sandboxId) {
      const sandbox = await this.sandboxes.get(auth, definition.sandboxId);
      if (sandbox.status === 'destroyed' || sandbox.status === 'destroying')
        throw new DomainError(
          'sandbox_not_running',
          `the agent's sandbox ${sandbox.id} is ${sandbox.status}; link it to another with PATCH /v1/agents/${slug}`,
          { sandboxId: sandbox.id, status: sandbox.status },
        );
    }
    const now = nowIso();
    let thread: Database['threads'] | undefined;
    let claimed: string | undefined;
    if (body.thread === true) {
      thread = {
        id: newId('thread'),
        org_id: auth.orgId,
        agent_id: agent.id,
        agent_slug: agent.slug,
        sandbox_id: null,
        message_count: 0,
        created_at: now,
        updated_at: now,
      };
      await this.db.insertInto('threads').values(thread).execute();
    } else if (typeof body.thread === 'string') {
      thread = await this.threadRow(auth, body.thread);
      if (thread.agent_id !== agent.id)
        throw new DomainError(
          'validation_failed',
          `thread ${thread.id} belongs to agent ${thread.agent_slug}, not ${slug}`,
          {
            field: 'thread',
          },
        );
      // One run at a time per thread: the next one continues from the messages the last one left. Claimed
      // here before any await, so two requests at once cannot both pass.
      if (this.busyThreads.has(thread.id)) throw threadBusy(thread.id);
      this.busyThreads.add(thread.id);
      claimed = thread.id;
      const busy = await this.runInProgress(thread.id);
      if (busy) {
        this.busyThreads.delete(thread.id);
        throw threadBusy(thread.id, busy);
      }
    }
    const row: Database['agent_runs'] = {
      id: newId('run'),
      org_id: auth.orgId,
      agent_id: agent.id,
      agent_slug: agent.slug,
      agent_version: agent.version,
      thread_id: thread?.id ?? null,
      sandbox_id: definition.mode === 'in_sandbox' ? definition.sandboxId : null,
      status: 'queued',
      prompt: body.prompt,
      text: null,
      stop_reason: null,
      error: null,
      input_tokens: 0,
      output_tokens: 0,
      steps: 0,
      created_at: now,
      started_at: null,
      finished_at: null,
    };
    try {
      await this.db.insertInto('agent_runs').values(row).execute();
    } catch (error) {
      if (claimed) this.busyThreads.delete(claimed);
      throw error;
    }
    const live: LiveRun = {
      events: [],
      persisted: 0,
      wake: new Set(),
      abort: new AbortController(),
      ended: false,
      progress: { steps: 0, usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0 } },
      flushing: Promise.resolve(),
      timer: undefined,
    };
    this.live.set(row.id, live);
    setImmediate(() => {
      this.execute(auth, agent, row, thread, model, body, live).catch((error: unknown) =>
        this.logger.error({ err: error, runId: row.id }, 'agent run crashed'),
      );
    });
    return runFromRow(row);
  }

  private emit(runId: string, live: LiveRun, event: EventBody): void {
    live.events.push({ ...event, seq: live.events.length + 1, at: nowIso() } as RunEvent);
    for (const wake of live.wake) wake();
    live.timer ??= setTimeout(() => {
      live.timer = undefined;
      void this.flush(runId, live);
    }, flushIntervalMs);
  }

  /** Writes the events not yet stored, one batch at a time and in order. */
  private flush(runId: string, live: LiveRun): Promise<void> {
    live.flushing = live.flushing.then(async () => {
      const pending = live.events.slice(live.persisted);
      if (!pending.length) return;
      await this.db
        .insertInto('run_events')
        .values(pending.map(({ seq, type, ...data }) => ({ run_id: runId, seq, type, data: JSON.stringify(data) })))
        .execute();
      live.persisted += pending.length;
    });
    return live.flushing;
  }

  /**
   * A run acts as its caller, with the caller's scopes cut to its role (the same `auth` goes to every tool
   * call), so it may do only what the caller could do directly: every run works in a sandbox (linked, the
   * thread's, or one it creates) where its tools exec and write, which needs `sandboxes:write`; a model on an
   * endpoint the org registered receives the secret that endpoint names, which needs `secrets:read`. Built-in
   * providers and web search send their org secrets only where the server's operator points them.
   */
  private async checkAuthority(auth: Actor, definition: AgentRecord['definition']): Promise<void> {
    requireScopes(auth, ['sandboxes:write']);
    if (definition.mode === 'managed') checkMounts(auth, definition.managed?.mounts);
    const target = await this.models.target(auth.orgId, definition.model);
    if (target.kind === 'custom' && target.secret) requireScopes(auth, ['secrets:read']);
  }

  /**
   * The run's caller as it is now: a run outlives the request that started it, so a key revoked or expired
   * since, or a holder removed or demoted, is seen at the next tool call.
   */
  private async currentAuth(auth: Actor): Promise<Actor> {
    // Only a key's rights can be read again today; any other principal fails closed until it can be.
    if (auth.principal.kind !== 'key') {
      throw new DomainError('unauthenticated', `a run started by a ${auth.principal.kind} cannot re-check its rights`);
    }
    const row = await this.db
      .selectFrom('api_keys')
      .innerJoin('members', 'members.id', 'api_keys.member_id')
      .select(['api_keys.scopes', 'api_keys.expires_at', 'api_keys.revoked_at', 'members.role'])
      .where('api_keys.id', '=', auth.principal.id)
      .executeTakeFirst();
    if (!row || row.revoked_at)
      throw new DomainError('api_key_revoked', 'the key that started this run was revoked (or its holder removed)');
    if (row.expires_at && new Date(row.expires_at) <= new Date())
      throw new DomainError('api_key_expired', `the key that started this run expired at ${row.expires_at}`);
    const role = row.role as Role;
    const ceiling = roleCeiling(role);
    const keyScopes = JSON.parse(row.scopes) as string[];
    const effectiveScopes = new Set([...expandScopes(keyScopes)].filter((scope) => ceiling.has(scope)));
    return { ...auth, role, granted: keyScopes, scopes: effectiveScopes };
  }

  /** The sandbox the run works in: the linked one, the thread's, or a new one from the managed spec. */
  private async sandboxFor(
    auth: Actor,
    agent: AgentRecord,
    run: Database['agent_runs'],
    thread: Database['threads'] | undefined,
  ): Promise<{ id: string; created: boolean }> {
    const definition = agent.definition;
    const resume = async (id: string) => {
      const sandbox = await this.sandboxes.get(auth, id);
      if (sandbox.status === 'paused') await this.sandboxes.resume(auth, id);
      return sandbox;
    };
    if (definition.mode === 'in_sandbox' && definition.sandboxId) {
      await resume(definition.sandboxId);
      return { id: definition.sandboxId, created: false };
    }
    const managed = definition.managed ?? { scope: 'run' as const, cleanup: 'destroy' as const };
    if (managed.scope === 'thread' && thread?.sandbox_id) {
      const sandbox = await resume(thread.sandbox_id).catch(() => undefined);
      if (sandbox && sandbox.status !== 'destroyed' && sandbox.status !== 'destroying')
        return { id: thread.sandbox_id, created: false };
    }
    const sandbox = await this.sandboxes.create(auth, {
      ...(managed.template ? { template: managed.template } : {}),
      ...(managed.runtime ? { runtime: managed.runtime } : {}),
      ...(managed.resources ? { resources: managed.resources } : {}),
      ...(managed.mounts ? { mounts: managed.mounts } : {}),
      ...(managed.network ? { network: managed.network } : {}),
      metadata: { agent: agent.slug, [managed.scope === 'thread' && thread ? 'thread' : 'run']: thread?.id ?? run.id },
    });
    if (managed.scope === 'thread' && thread) {
      await this.db.updateTable('threads').set({ sandbox_id: sandbox.id }).where('id', '=', thread.id).execute();
      thread.sandbox_id = sandbox.id;
    }
    return { id: sandbox.id, created: managed.scope === 'run' || !thread };
  }

  private async execute(
    auth: Actor,
    agent: AgentRecord,
    run: Database['agent_runs'],
    thread: Database['threads'] | undefined,
    { model, providerOptions }: ResolvedModel,
    body: AgentRunRequest,
    live: LiveRun,
  ): Promise<void> {
    const definition = agent.definition;
    let status: RunStatus = 'failed';
    let stopReason: string | null = null;
    let failure: { code: string; message: string } | null = null;
    let text: string | null = null;
    // Steps and tokens so far: readers of a run in progress see them here (the row gets them at the end).
    const { progress } = live;
    let sandbox: { id: string; created: boolean } | undefined;
    const userTurn: ModelMessage[] = [];
    const finishedSteps: ModelMessage[] = [];
    // Set when the caller loses what the run needs while it runs (its key revoked or expired, its holder
    // removed or demoted): the run stops there, failed with that reason.
    let lostAuthority: DomainError | undefined;
    try {
      if (live.abort.signal.aborted) throw live.abort.signal.reason;
      await this.db
        .updateTable('agent_runs')
        .set({ status: 'running', started_at: nowIso() })
        .where('id', '=', run.id)
        .execute();
      sandbox = await this.sandboxFor(auth, agent, run, thread);
      if (sandbox.id !== run.sandbox_id)
        await this.db.updateTable('agent_runs').set({ sandbox_id: sandbox.id }).where('id', '=', run.id).execute();
      const info = await this.sandboxes.get(auth, sandbox.id);
      const workdir = info.mounts.length ? (info.mounts[0]?.path ?? '/workspace') : '/root';
      this.emit(run.id, live, {
        type: 'start',
        runId: run.id,
        threadId: thread?.id ?? null,
        agent: agent.slug,
        model: definition.model,
        sandboxId: sandbox.id,
        attachments: (body.attachments ?? []).map((attachment) => ({
          name: attachment.name,
          mediaType: attachment.mediaType,
          size: Buffer.byteLength(attachment.content, 'base64'),
        })),
      });
      const history = thread ? await this.history(thread.id) : [];
      const prompt: ModelMessage = { role: 'user', content: userContent(body) };
      userTurn.push(prompt);
      const toolEnvironment: ToolEnvironment = {
        auth,
        sandboxId: sandbox.id,
        sandboxes: this.sandboxes,
        devUrls: this.devUrls,
        secrets: this.secrets,
        exaUrl: this.options.exaUrl,
        workdir,
      };
      const tools = {
        ...builtinToolSet(toolEnvironment, definition.tools),
        ...codexToolSet(toolEnvironment, definition.tools),
      };
      // Every tool call acts as the caller is now, not as it was when the run started: a built-in in the
      // sandbox (sandboxes:write), the org's tools through the tool service (which checks tools:execute).
      const asCallerNow = async () => {
        try {
          return await this.currentAuth(auth);
        } catch (error) {
          lostAuthority = error instanceof DomainError ? error : new DomainError('unauthenticated', String(error));
          live.abort.abort(lostAuthority);
          throw lostAuthority;
        }
      };
      for (const entry of Object.values(tools)) {
        const execute = entry.execute;
        if (!execute) continue;
        entry.execute = async (input, options) => {
          const now = await asCallerNow();
          try {
            requireScopes(now, ['sandboxes:write']);
          } catch (error) {
            lostAuthority = error as DomainError;
            live.abort.abort(lostAuthority);
            throw lostAuthority;
          }
          return execute(input, options);
        };
      }
      const integration = await this.tools.agentActions(
        auth,
        definition.tools.filter((name) => !sandboxTools.includes(name)),
      );
      for (const { tool: name, action, modelName } of integration) {
        tools[modelName] = tool({
          description: action.description,
          inputSchema: jsonSchema(action.parameters),
          execute: async (params) =>
            (
              await this.tools.execute(await asCallerNow(), name, {
                action: action.name,
                params: params as Record<string, unknown>,
              })
            ).result,
        });
      }
      const environment = `You work in a Linux sandbox (you are root). Your working directory is ${workdir}; relative paths in tools are taken from there.`;
      const result = streamText({
        model,
        system: definition.systemPrompt ? `${definition.systemPrompt}\n\n${environment}` : environment,
        messages: [...history, prompt],
        tools,
        stopWhen: stepCountIs(definition.maxIterations),
        abortSignal: live.abort.signal,
        maxRetries: 2,
        ...(providerOptions ? { providerOptions } : {}),
        // Each finished step's messages (the assistant's, its tool results), for the thread. (The result's
        // response.messages are only the last step's.)
        onStepFinish: (step) => {
          finishedSteps.push(...step.response.messages);
        },
        // Errors arrive as stream parts and end the run as failed; the SDK's default would print them.
        onError: () => {},
      });
      const toolStarted = new Map<string, number>();
      const toolResult = (part: { toolCallId: string; toolName: string }, output: unknown, isError: boolean) =>
        this.emit(run.id, live, {
          type: 'tool-result',
          toolCallId: part.toolCallId,
          toolName: part.toolName,
          output,
          isError,
          durationMs: Math.round(performance.now() - (toolStarted.get(part.toolCallId) ?? performance.now())),
        });
      let stepText = '';
      let lastFinish = 'stop';
      let streamError: unknown;
      let aborted = false;
      for await (const part of result.fullStream) {
        switch (part.type) {
          case 'start-step':
            stepText = '';
            break;
          case 'text-delta':
            stepText += part.text;
            this.emit(run.id, live, { type: 'text-delta', text: part.text });
            break;
          case 'reasoning-delta':
            this.emit(run.id, live, { type: 'thinking', text: part.text });
            break;
          case 'tool-call':
            toolStarted.set(part.toolCallId, performance.now());
            this.emit(run.id, live, {
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
            // After a crash, recover() adds up these step events instead.
            const stepUsage = usageOf(part.usage);
            progress.steps++;
            progress.usage.inputTokens += stepUsage.inputTokens;
            progress.usage.outputTokens += stepUsage.outputTokens;
            progress.usage.totalTokens += stepUsage.totalTokens;
            lastFinish = part.finishReason;
            text = stepText || text;
            this.emit(run.id, live, {
              type: 'step',
              step: progress.steps,
              finishReason: part.finishReason,
              usage: stepUsage,
            });
            // A finished step is what a restart counts (tokens spent), so it is stored before the run goes on.
            await this.flush(run.id, live);
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
      if (aborted || live.abort.signal.aborted) {
        throw live.abort.signal.reason ?? new Error('cancelled');
      } else if (streamError !== undefined) {
        throw streamError;
      } else {
        if (lastFinish === 'tool-calls' && progress.steps >= definition.maxIterations) {
          status = 'max_iterations';
          stopReason = 'max_iterations';
        } else {
          status = 'completed';
          stopReason = lastFinish;
        }
      }
    } catch (error) {
      if (lostAuthority) {
        failure = describeFailure(lostAuthority);
        status = 'failed';
        stopReason = 'error';
        this.emit(run.id, live, { type: 'error', ...failure });
      } else if (live.abort.signal.aborted && !this.stopping) {
        status = 'cancelled';
        stopReason = 'cancelled';
      } else if (live.abort.signal.aborted) {
        failure = interrupted;
        status = 'failed';
        stopReason = 'interrupted';
        this.emit(run.id, live, { type: 'error', ...failure });
      } else {
        failure = describeFailure(error);
        status = 'failed';
        stopReason = 'error';
        this.emit(run.id, live, { type: 'error', ...failure });
      }
    }
    try {
      // A run cancelled or failed after some steps keeps them (its prompt, the calls it made and their results),
      // so the thread knows what was done in the sandbox; one that did nothing leaves nothing, and a retry of
      // the same prompt does not repeat it.
      const finished = status === 'completed' || status === 'max_iterations';
      if (thread && (finished || finishedSteps.length > 0))
        await this.remember(thread.id, run.id, [...userTurn, ...finishedSteps]);
    } catch (error) {
      this.logger.error({ err: error, runId: run.id }, 'storing thread messages failed');
    }
    this.emit(run.id, live, {
      type: 'done',
      status,
      stopReason,
      text,
      usage: { ...progress.usage },
      steps: progress.steps,
    });
    clearTimeout(live.timer);
    live.timer = undefined;
    await this.flush(run.id, live);
    await this.db
      .updateTable('agent_runs')
      .set({
        status,
        stop_reason: stopReason,
        text,
        error: failure ? JSON.stringify(failure) : null,
        input_tokens: progress.usage.inputTokens,
        output_tokens: progress.usage.outputTokens,
        steps: progress.steps,
        finished_at: nowIso(),
      })
      .where('id', '=', run.id)
      .execute();
    live.ended = true;
    for (const wake of live.wake) wake();
    this.live.delete(run.id);
    if (thread) this.busyThreads.delete(thread.id);
    // The run's own sandbox (not a linked one, not a thread's that later runs reuse).
    if (sandbox?.created) await this.release(auth, sandbox.id, agent.definition.managed?.cleanup);
  }

  /** A managed sandbox that served its run or thread: destroyed, paused or kept, as the agent's policy says. */
  private async release(auth: Actor, sandboxId: string, cleanup = 'destroy'): Promise<void> {
    try {
      if (cleanup === 'destroy') await this.sandboxes.destroy(auth, sandboxId);
      else if (cleanup === 'pause') await this.sandboxes.pause(auth, sandboxId);
    } catch (error) {
      this.logger.warn({ err: error, sandboxId }, 'releasing a managed sandbox failed');
    }
  }

  /** The id of a run of the thread that has not ended, if any. */
  private async runInProgress(threadId: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('agent_runs')
      .select('id')
      .where('thread_id', '=', threadId)
      .where('status', 'in', ['queued', 'running'])
      .executeTakeFirst();
    return row?.id;
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

  private async remember(threadId: string, runId: string, messages: ModelMessage[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
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
    });
  }

  private async runRow(auth: Actor, runId: string): Promise<Database['agent_runs']> {
    const row = await this.db
      .selectFrom('agent_runs')
      .selectAll()
      .where('id', '=', runId)
      .where('org_id', '=', auth.orgId)
      .executeTakeFirst();
    if (!row) throw new DomainError('run_not_found', `no run ${runId}`, { runId });
    return row;
  }

  async get(auth: Actor, runId: string): Promise<Run> {
    return this.withProgress(runFromRow(await this.runRow(auth, runId)));
  }

  /** A run in progress here, with its steps and usage so far. */
  private withProgress(run: Run): Run {
    const live = this.live.get(run.id);
    return live && !finished.includes(run.status) ? { ...run, ...live.progress } : run;
  }

  /** Newest first: by creation time, then id. */
  async list(
    auth: Actor,
    query: { agent?: string | undefined; thread?: string | undefined; status?: RunStatus | undefined },
    page: PageRequest,
  ): Promise<Page<Run>> {
    let select = this.db.selectFrom('agent_runs').selectAll().where('org_id', '=', auth.orgId);
    if (query.agent) select = select.where('agent_slug', '=', query.agent);
    if (query.thread) select = select.where('thread_id', '=', query.thread);
    if (query.status) select = select.where('status', '=', query.status);
    const rows = await keysetPage(
      page,
      [
        { column: 'created_at', direction: 'desc' },
        { column: 'id', direction: 'desc' },
      ],
      (row: Database['agent_runs']) => [row.created_at, row.id],
      (keyset) => inPage(select, keyset).execute(),
    );
    return mapPage(rows, (row) => this.withProgress(runFromRow(row)));
  }

  async cancel(auth: Actor, runId: string): Promise<Run> {
    const row = await this.runRow(auth, runId);
    if (finished.includes(row.status as RunStatus))
      throw new DomainError('run_finished', `run ${runId} has already ended (${row.status})`, { status: row.status });
    const live = this.live.get(runId);
    if (live) {
      live.abort.abort(new Error('cancelled'));
      await whenEnded(live);
    }
    await audit(this.db, { orgId: auth.orgId, event: 'run.cancelled', actor: auth.principal, targetId: runId });
    return this.get(auth, runId);
  }

  /**
   * A run's events after `after`: those stored, then (with `follow`) live ones until the run ends. A run in
   * this process is read from memory, where every event is as soon as it happens; others from the database.
   */
  async events(auth: Actor, runId: string, after: number, follow: boolean): Promise<AsyncIterable<RunEvent>> {
    await this.runRow(auth, runId);
    const live = this.live.get(runId);
    if (!live) return this.storedEvents(runId, after);
    return (async function* () {
      let next = after;
      for (;;) {
        while (next < live.events.length) yield live.events[next++] as RunEvent;
        if (live.ended || !follow) return;
        await nextWake(live);
      }
    })();
  }

  private async storedEvents(runId: string, after: number): Promise<AsyncIterable<RunEvent>> {
    const rows = await this.db
      .selectFrom('run_events')
      .selectAll()
      .where('run_id', '=', runId)
      .where('seq', '>', after)
      .orderBy('seq')
      .execute();
    return (async function* () {
      for (const row of rows)
        yield { ...(JSON.parse(row.data) as object), type: row.type, seq: Number(row.seq) } as RunEvent;
    })();
  }

  /** Starts a run and follows it from its first event. */
  async stream(auth: Actor, slug: string, body: AgentRunRequest): Promise<AsyncIterable<RunEvent>> {
    const run = await this.start(auth, slug, body);
    return this.events(auth, run.id, 0, true);
  }

  private async threadRow(auth: Actor, threadId: string): Promise<Database['threads']> {
    const row = await this.db
      .selectFrom('threads')
      .selectAll()
      .where('id', '=', threadId)
      .where('org_id', '=', auth.orgId)
      .executeTakeFirst();
    if (!row) throw new DomainError('thread_not_found', `no thread ${threadId}`, { threadId });
    return row;
  }

  async thread(auth: Actor, threadId: string): Promise<Thread> {
    return threadFromRow(await this.threadRow(auth, threadId));
  }

  /**
   * Most recently active first: by last activity, then id. Activity moves a thread to the front, so one that
   * is active while a client pages is not met again on later pages (the order's column changed under it).
   */
  async threads(auth: Actor, query: { agent?: string | undefined }, page: PageRequest): Promise<Page<Thread>> {
    let select = this.db.selectFrom('threads').selectAll().where('org_id', '=', auth.orgId);
    if (query.agent) select = select.where('agent_slug', '=', query.agent);
    const rows = await keysetPage(
      page,
      [
        { column: 'updated_at', direction: 'desc' },
        { column: 'id', direction: 'asc' },
      ],
      (row: Database['threads']) => [row.updated_at, row.id],
      (keyset) => inPage(select, keyset).execute(),
    );
    return mapPage(rows, threadFromRow);
  }

  /** Oldest first, by seq. */
  async messages(auth: Actor, threadId: string, page: PageRequest): Promise<Page<ThreadMessage>> {
    await this.threadRow(auth, threadId);
    const rows = await keysetPage(
      page,
      [{ column: 'seq', direction: 'asc', type: 'number' }],
      (row: Database['thread_messages']) => [Number(row.seq)],
      (keyset) =>
        inPage(this.db.selectFrom('thread_messages').selectAll().where('thread_id', '=', threadId), keyset).execute(),
    );
    return mapPage(rows, (row) => ({
      seq: Number(row.seq),
      runId: row.run_id,
      role: row.role as ThreadMessage['role'],
      content: JSON.parse(row.content) as unknown,
      createdAt: row.created_at,
    }));
  }

  /** Deletes a thread and its messages; a managed per-thread sandbox goes as the agent's policy says. */
  async deleteThread(auth: Actor, threadId: string): Promise<{ id: string; deleted: true }> {
    const row = await this.threadRow(auth, threadId);
    // Its sandbox is destroyed or paused with it (per the agent's policy): that needs what doing it directly needs.
    if (row.sandbox_id) requireScopes(auth, ['sandboxes:write']);
    const running = await this.runInProgress(threadId);
    if (running) throw threadBusy(threadId, running);
    await this.db.deleteFrom('threads').where('id', '=', threadId).execute();
    if (row.sandbox_id) {
      const agent = await this.db
        .selectFrom('agents')
        .select('definition')
        .where('id', '=', row.agent_id)
        .executeTakeFirst();
      const definition = agent ? (JSON.parse(agent.definition) as AgentRecord['definition']) : undefined;
      await this.release(auth, row.sandbox_id, definition?.managed?.cleanup);
    }
    await audit(this.db, { orgId: auth.orgId, event: 'thread.deleted', actor: auth.principal, targetId: threadId });
    return { id: threadId, deleted: true };
  }

  /** Cancels what runs in this process (the server is stopping); recover() marks anything left on next start. */
  async close(): Promise<void> {
    this.stopping = true;
    const pending = [...this.live.values()];
    for (const live of pending) live.abort.abort(new Error('the server is stopping'));
    await Promise.all(pending.map(whenEnded));
  }
}
