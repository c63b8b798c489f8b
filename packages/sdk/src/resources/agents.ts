import type {
  Agent,
  AgentCreateRequest,
  AgentPutRequest,
  AgentUpdateRequest,
  AgentVersion,
  Deleted,
  ModelInfo,
  Provider,
  ProviderCreateRequest,
  Run,
  RunEvent,
  RunStatus,
  routes,
  Thread,
  ThreadMessage,
} from '@runtools/spec';
import type { z } from 'zod';
import { toBase64, utf8 } from '../bytes.js';
import { type EventStream, eventStream } from '../event-stream.js';
import type { HttpClient } from '../http.js';
import { PagedList } from '../paged-list.js';

/** A file given to the model with the prompt: text as a string, anything else as bytes. */
export interface RunAttachment {
  name: string;
  /** e.g. `text/plain`, `application/json`, `image/png`, `application/pdf`. */
  mediaType: string;
  content: string | Uint8Array;
}

export interface RunOptions {
  /** `true` starts a thread (its id comes back as `threadId`); a thread id continues it with its history. */
  thread?: true | string;
  attachments?: RunAttachment[];
  /** Stops following (not the run: cancel it with `rt.agent.cancel`). */
  signal?: AbortSignal;
}

function runBody(prompt: string, options: RunOptions) {
  return {
    prompt,
    ...(options.thread !== undefined ? { thread: options.thread } : {}),
    ...(options.attachments
      ? {
          attachments: options.attachments.map((attachment) => ({
            name: attachment.name,
            mediaType: attachment.mediaType,
            content: toBase64(typeof attachment.content === 'string' ? utf8(attachment.content) : attachment.content),
          })),
        }
      : {}),
  } as z.input<typeof routes.agentRunsCreate.body>;
}

/**
 * An agent run's events: awaited, those stored so far; iterated, those and then the live ones.
 * @example for await (const event of rt.agent.events(runId)) if (event.type === 'done') console.log(event.status)
 */
export type RunEventStream = EventStream<RunEvent>;

/** Agent definitions: model, system prompt, tools and where they run; every update is a new version. */
export class Agents {
  constructor(private readonly http: HttpClient) {}

  /**
   * Creates an agent.
   * @example await rt.agents.create({ slug: 'coder', model: 'claude-sonnet-4', sandbox: box.id })
   */
  create(definition: AgentCreateRequest): Promise<Agent> {
    return this.http.call('agentsCreate', { body: definition });
  }

  /** By slug; `projectId`: only that project's. @example const agents = await rt.agents.list({ projectId }) */
  list(filter: { projectId?: string } = {}): PagedList<Agent> {
    return new PagedList((page) => this.http.call('agentsList', { query: { ...filter, ...page } }));
  }

  /** @example const agent = await rt.agents.get('coder') */
  get(slug: string): Promise<Agent> {
    return this.http.call('agentsGet', { params: { slug } });
  }

  /**
   * Changes an agent (a new version; runs in progress keep theirs).
   * @example await rt.agents.update('coder', { maxIterations: 50 })
   */
  update(slug: string, changes: AgentUpdateRequest): Promise<Agent> {
    return this.http.call('agentsUpdate', { params: { slug }, body: changes });
  }

  /**
   * Creates the agent or replaces its whole definition (what is left out goes back to its default); the
   * same definition again is no new version.
   * @example await rt.agents.put('coder', { model: 'claude-sonnet-4', sandbox: box.id })
   */
  put(slug: string, definition: AgentPutRequest): Promise<Agent> {
    return this.http.call('agentsPut', { params: { slug }, body: definition });
  }

  /** @example await rt.agents.delete('coder') */
  delete(slug: string): Promise<Deleted> {
    return this.http.call('agentsDelete', { params: { slug } });
  }

  /** Newest first. @example const [latest] = await rt.agents.versions('coder') */
  versions(slug: string): PagedList<AgentVersion> {
    return new PagedList((page) => this.http.call('agentsVersions', { params: { slug }, query: page }));
  }
}

/** Running agents: `rt.agent.run(slug, prompt)`. */
export class AgentRuns {
  constructor(private readonly http: HttpClient) {}

  /**
   * Runs an agent and resolves with the finished run (status, final `text`, `usage`, `threadId`).
   * @example
   * const run = await rt.agent.run('coder', 'Write hello.py and run it', { thread: true })
   * console.log(run.text, run.usage.totalTokens)
   */
  run(slug: string, prompt: string, options?: RunOptions & { stream?: false }): Promise<Run>;
  /**
   * Runs an agent and yields its events as they happen: `start`, `text-delta`, `thinking`, `tool-call`,
   * `tool-result`, `step`, then `done` (or `error` before it).
   * @example
   * for await (const event of rt.agent.run('coder', 'Fix the tests', { stream: true }))
   *   if (event.type === 'text-delta') process.stdout.write(event.text)
   */
  run(slug: string, prompt: string, options: RunOptions & { stream: true }): AsyncGenerator<RunEvent>;
  run(
    slug: string,
    prompt: string,
    options: RunOptions & { stream?: boolean } = {},
  ): Promise<Run> | AsyncGenerator<RunEvent> {
    if (options.stream)
      return this.http.events(
        'agentRunsStream',
        { params: { slug }, body: runBody(prompt, options) },
        { follow: true, ...(options.signal ? { signal: options.signal } : {}) },
      );
    return this.wait(slug, prompt, options);
  }

  private async wait(slug: string, prompt: string, options: RunOptions): Promise<Run> {
    const run = await this.start(slug, prompt, options);
    for await (const _event of this.events(run.id, options.signal ? { signal: options.signal } : {})) {
      // Followed to its end: the stream closes after `done`.
    }
    return this.get(run.id);
  }

  /**
   * Starts a run and answers at once (status `queued`); follow it with `events`.
   * @example const { id } = await rt.agent.start('coder', 'Refactor utils.ts')
   */
  start(slug: string, prompt: string, options: RunOptions = {}): Promise<Run> {
    return this.http.call('agentRunsCreate', { params: { slug }, body: runBody(prompt, options) });
  }

  /**
   * A run's events from the start (or after `after`). Awaited, the events stored so far (all of them once the
   * run has ended); iterated with `for await`, the same and then live until the run ends (unless `follow:
   * false`).
   * @example
   * const events = await rt.agent.events(runId)
   * for await (const event of rt.agent.events(runId)) console.log(event.type)
   */
  events(runId: string, options: { after?: number; follow?: boolean; signal?: AbortSignal } = {}): RunEventStream {
    const stream = (follow: boolean) =>
      this.http.events(
        'runsEvents',
        {
          params: { runId },
          query: {
            ...(options.after !== undefined ? { after: options.after } : {}),
            ...(follow ? {} : { follow: 'false' as const }),
          },
        },
        { follow, ...(options.signal ? { signal: options.signal } : {}) },
      );
    return eventStream(stream, options.follow !== false);
  }

  /** @example const run = await rt.agent.get(runId) */
  get(runId: string): Promise<Run> {
    return this.http.call('runsGet', { params: { runId } });
  }

  /**
   * Cancels a queued or running run; resolves once it has stopped.
   * @example await rt.agent.cancel(runId)
   */
  cancel(runId: string): Promise<Run> {
    return this.http.call('runsCancel', { params: { runId } });
  }

  /**
   * Runs, newest first; the latest few are the first page.
   * @example const failed = await rt.agent.list({ status: 'failed' })
   * @example const { data: latest } = await rt.agent.list({ agent: 'coder' }).page({ limit: 5 })
   */
  list(filter: { agent?: string; thread?: string; status?: RunStatus } = {}): PagedList<Run> {
    const query = {
      ...(filter.agent ? { agent: filter.agent } : {}),
      ...(filter.thread ? { thread: filter.thread } : {}),
      ...(filter.status ? { status: filter.status } : {}),
    };
    return new PagedList((page) => this.http.call('runsList', { query: { ...query, ...page } }));
  }
}

/** Conversations: each thread keeps the messages of its runs, and the next run continues from them. */
export class Threads {
  constructor(private readonly http: HttpClient) {}

  /** Most recently active first. @example const threads = await rt.threads.list({ agent: 'coder' }) */
  list(filter: { agent?: string } = {}): PagedList<Thread> {
    const query = filter.agent ? { agent: filter.agent } : {};
    return new PagedList((page) => this.http.call('threadsList', { query: { ...query, ...page } }));
  }

  /** @example const thread = await rt.threads.get(threadId) */
  get(threadId: string): Promise<Thread> {
    return this.http.call('threadsGet', { params: { threadId } });
  }

  /** Oldest first. @example const messages = await rt.threads.messages(threadId) */
  messages(threadId: string): PagedList<ThreadMessage> {
    return new PagedList((page) => this.http.call('threadsMessages', { params: { threadId }, query: page }));
  }

  /** @example await rt.threads.delete(threadId) */
  delete(threadId: string): Promise<Deleted> {
    return this.http.call('threadsDelete', { params: { threadId } });
  }
}

/** Model endpoints of the org's own (Ollama, vLLM, llama.cpp, a proxy), addressed as `name/model-id`. */
export class Providers {
  constructor(private readonly http: HttpClient) {}

  /**
   * Registers an endpoint.
   * @example await rt.providers.create({ name: 'local', type: 'openai-compatible', baseUrl: 'http://127.0.0.1:11434/v1' })
   */
  create(provider: ProviderCreateRequest): Promise<Provider> {
    return this.http.call('providersCreate', { body: provider });
  }

  /** @example const providers = await rt.providers.list() */
  list(): PagedList<Provider> {
    return new PagedList((page) => this.http.call('providersList', { query: page }));
  }

  /** @example await rt.providers.delete('local') */
  delete(name: string): Promise<Deleted> {
    return this.http.call('providersDelete', { params: { name } });
  }
}

/** The model table. */
export class Models {
  constructor(private readonly http: HttpClient) {}

  /** @example const aliases = (await rt.models.list()).filter((model) => model.alias) */
  list(): PagedList<ModelInfo> {
    return new PagedList((page) => this.http.call('modelsList', { query: page }));
  }
}
