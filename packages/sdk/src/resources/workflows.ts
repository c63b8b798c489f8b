import {
  type Approval,
  type ApprovalStatus,
  type Deleted,
  finishedWorkflowRunStatuses,
  type GraphProblem,
  type Trigger,
  type TriggerCreateRequest,
  type Workflow,
  type WorkflowEvent,
  type WorkflowEventType,
  type WorkflowPublishRequest,
  type WorkflowRun,
  type WorkflowRunBody,
  type WorkflowRunDetail,
  type WorkflowRunStatus,
  type WorkflowSaveRequest,
  type WorkflowVersion,
} from '@runtools/spec';
import type { WorkflowDefinition, WorkflowNodeInput } from '../define.js';
import { type EventStream, eventStream } from '../event-stream.js';
import type { HttpClient } from '../http.js';
import { PagedList } from '../paged-list.js';

/**
 * How a run starts: which version (a published one, `'latest'` by default, or `'draft'`), how long it may
 * take in all, and a key that makes a retried start answer the first run instead of starting another.
 * @example await rt.workflows.run('review-pr', { prompt: 'Review PR #123' }, { version: 3, idempotencyKey: 'pr-123' })
 */
export interface WorkflowRunOptions {
  version?: number | 'latest' | 'draft';
  timeoutSeconds?: number;
  idempotencyKey?: string;
}

/**
 * A workflow run's events (`run.*`, `node.*`, `approval.*`), numbered by `seq`: awaited, those stored so far;
 * iterated with `for await`, those and then the live ones until the run ends.
 * @example for await (const event of rt.workflows.events(runId)) console.log(event.seq, event.type, event.nodeId)
 */
export type WorkflowEventStream = EventStream<WorkflowEvent>;

/**
 * The answer of `rt.workflows.validate(graph)`: every problem with the node (or edge) it belongs to.
 * @example const { valid, problems } = await rt.workflows.validate(graph)
 */
export interface GraphValidation {
  valid: boolean;
  problems: GraphProblem[];
}

/** The run status each `run.*` event moves a run to. */
const statusAfter: Partial<Record<WorkflowEventType, WorkflowRunStatus>> = {
  'run.queued': 'queued',
  'run.started': 'running',
  'run.resumed': 'running',
  'run.waiting': 'waiting',
  'run.completed': 'completed',
  'run.failed': 'failed',
  'run.cancelled': 'cancelled',
  'run.timed_out': 'timed_out',
};

/**
 * The status a run event moves its run to, if it is a `run.*` event.
 * @example if (workflowRunStatusAfter(event) === 'waiting') console.log('waiting for an approval or a delay')
 */
export function workflowRunStatusAfter(event: Pick<WorkflowEvent, 'type'>): WorkflowRunStatus | undefined {
  return statusAfter[event.type];
}

/**
 * A workflow's runs, newest first, and one run with its nodes.
 * @example const { nodes } = await rt.workflows.runs.get(runId)
 */
export class WorkflowRuns {
  constructor(private readonly http: HttpClient) {}

  /**
   * Runs, newest first, of one workflow or all, in one status or any.
   * @example const waiting = await rt.workflows.runs.list({ workflow: 'review-pr', status: 'waiting' })
   */
  list(filter: { workflow?: string; status?: WorkflowRunStatus } = {}): PagedList<WorkflowRun> {
    const query = {
      ...(filter.workflow ? { workflow: filter.workflow } : {}),
      ...(filter.status ? { status: filter.status } : {}),
    };
    return new PagedList((page) => this.http.call('workflowRunsList', { query: { ...query, ...page } }));
  }

  /**
   * A run with the state of each of its nodes (status, attempt, output or error).
   * @example const { status, output, nodes } = await rt.workflows.runs.get(runId)
   */
  get(runId: string): Promise<WorkflowRunDetail> {
    return this.http.call('workflowRunsGet', { params: { workflowRunId: runId } });
  }

  /**
   * Cancels a run: nodes in flight are stopped, waits end, pending approvals are cancelled.
   * @example await rt.workflows.runs.cancel(runId)
   */
  cancel(runId: string): Promise<WorkflowRun> {
    return this.http.call('workflowRunsCancel', { params: { workflowRunId: runId } });
  }
}

/**
 * Approvals that runs wait on, and their decisions.
 * @example for (const approval of await rt.workflows.approvals.list({ status: 'pending' })) console.log(approval.message)
 */
export class WorkflowApprovals {
  constructor(private readonly http: HttpClient) {}

  /**
   * Approvals, newest first: those of one run, or in one status.
   * @example const pending = await rt.workflows.approvals.list({ status: 'pending' })
   */
  list(filter: { status?: ApprovalStatus; runId?: string } = {}): PagedList<Approval> {
    const query = {
      ...(filter.status ? { status: filter.status } : {}),
      ...(filter.runId ? { runId: filter.runId } : {}),
    };
    return new PagedList((page) => this.http.call('workflowApprovalsList', { query: { ...query, ...page } }));
  }

  /**
   * One approval: its message, who may decide, its status and decision.
   * @example const approval = await rt.workflows.approvals.get(approvalId)
   */
  get(approvalId: string): Promise<Approval> {
    return this.http.call('workflowApprovalsGet', { params: { approvalId } });
  }

  /**
   * Approves or rejects; the run goes on from the approval node (a rejection takes its `condition: false`
   * edge, or fails the run when it has none). Someone outside the approval's approvers gets a PermissionError.
   * @example await rt.workflows.approvals.resolve(approvalId, { approved: true, comment: 'ship it' })
   */
  resolve(approvalId: string, decision: { approved: boolean; comment?: string }): Promise<Approval> {
    return this.http.call('workflowApprovalsResolve', { params: { approvalId }, body: decision });
  }
}

/**
 * What starts a workflow besides a call: a cron schedule or a signed webhook.
 * @example await rt.workflows.triggers.create('review-pr', { kind: 'cron', schedule: '0 9 * * 1-5' })
 */
export class WorkflowTriggers {
  constructor(private readonly http: HttpClient) {}

  /**
   * Creates a trigger; its runs act with the creator's rights. A webhook's answer has its `url` and signing
   * `secret`, shown this once.
   * @example await rt.workflows.triggers.create('review-pr', { kind: 'cron', schedule: '0 9 * * 1-5', timezone: 'Europe/Paris' })
   * @example const { url, secret } = await rt.workflows.triggers.create('review-pr', { kind: 'webhook' })
   */
  create(slug: string, trigger: TriggerCreateRequest): Promise<Trigger> {
    return this.http.call('workflowTriggersCreate', { params: { slug }, body: trigger });
  }

  /**
   * A workflow's triggers with their next fire times (a webhook's secret is never shown again).
   * @example const triggers = await rt.workflows.triggers.list('review-pr')
   */
  list(slug: string): PagedList<Trigger> {
    return new PagedList((page) => this.http.call('workflowTriggersList', { params: { slug }, query: page }));
  }

  /** @example await rt.workflows.triggers.delete('review-pr', triggerId) */
  delete(slug: string, triggerId: string): Promise<Deleted> {
    return this.http.call('workflowTriggersDelete', { params: { slug, triggerId } });
  }
}

/**
 * Workflows: versioned graphs whose nodes run agents, tools and sandbox commands, branch, wait for approvals
 * and delays; saved as a draft, published as immutable versions, run durably.
 *
 * @example
 * await rt.workflows.save({ name: 'Review PR', graph });           // creates or updates the draft; slug 'review-pr'
 * await rt.workflows.publish('review-pr', { visibility: 'org' });  // freezes the draft as version N
 * const run = await rt.workflows.run('review-pr', { prompt: 'Review PR #123' });  // → { runId, status, version, … }
 * await rt.workflows.events(run.runId);                            // → the run's events so far, in order
 */
export class Workflows {
  /** Runs: `list`, `get`, `cancel`. */
  readonly runs: WorkflowRuns;
  /** Approvals runs wait on: `list`, `get`, `resolve`. */
  readonly approvals: WorkflowApprovals;
  /** Cron and webhook triggers: `create`, `list`, `delete`. */
  readonly triggers: WorkflowTriggers;

  constructor(private readonly http: HttpClient) {
    this.runs = new WorkflowRuns(http);
    this.approvals = new WorkflowApprovals(http);
    this.triggers = new WorkflowTriggers(http);
  }

  /**
   * Creates a workflow or updates its draft, by slug (from the name unless given). The server checks the
   * whole graph and answers every problem at once (a ValidationError whose `details.problems` names each
   * node); published versions and runs in flight never change.
   * @example const workflow = await rt.workflows.save({ name: 'Review PR', graph })
   */
  save<const Nodes extends readonly WorkflowNodeInput[]>(definition: WorkflowDefinition<Nodes>): Promise<Workflow> {
    return this.http.call('workflowsSave', { body: definition as unknown as WorkflowSaveRequest });
  }

  /**
   * Checks a graph without saving it, as a save would (agents and tools it names, its expressions).
   * @example const { valid, problems } = await rt.workflows.validate(graph)
   */
  validate(graph: unknown): Promise<GraphValidation> {
    return this.http.call('workflowsValidate', { body: { graph } });
  }

  /** By slug; `projectId`: only that project's. @example const workflows = await rt.workflows.list() */
  list(filter: { projectId?: string } = {}): PagedList<Workflow> {
    return new PagedList((page) => this.http.call('workflowsList', { query: { ...filter, ...page } }));
  }

  /** A workflow with its draft. @example const { draftRevision, latestVersion } = await rt.workflows.get('review-pr') */
  get(slug: string): Promise<Workflow> {
    return this.http.call('workflowsGet', { params: { slug } });
  }

  /**
   * Deletes a workflow with its versions and triggers (refused while a run of it is in progress).
   * @example await rt.workflows.delete('review-pr')
   */
  delete(slug: string): Promise<Deleted> {
    return this.http.call('workflowsDelete', { params: { slug } });
  }

  /**
   * Freezes the draft as the next immutable version (`visibility` `'org'` by default, or `'private'`).
   * @example const { version } = await rt.workflows.publish('review-pr', { visibility: 'org', note: 'first cut' })
   */
  publish(slug: string, options: WorkflowPublishRequest = {}): Promise<WorkflowVersion> {
    return this.http.call('workflowsPublish', { params: { slug }, body: options });
  }

  /** Published versions, newest first. @example const [latest] = await rt.workflows.versions('review-pr') */
  versions(slug: string): PagedList<WorkflowVersion> {
    return new PagedList((page) => this.http.call('workflowsVersions', { params: { slug }, query: page }));
  }

  /** One published version with its graph. @example const { graph } = await rt.workflows.version('review-pr', 2) */
  version(slug: string, version: number): Promise<WorkflowVersion> {
    return this.http.call('workflowsVersionGet', { params: { slug, version } });
  }

  /**
   * Starts a run with `input` as its input document (the latest published version unless `options.version`
   * says otherwise) and answers at once; follow it with `events` or `waitForRun`.
   * @example const run = await rt.workflows.run('review-pr', { prompt: 'Review PR #123' })
   */
  run(slug: string, input: Record<string, unknown> = {}, options: WorkflowRunOptions = {}): Promise<WorkflowRun> {
    const body: WorkflowRunBody = {
      input,
      ...(options.version !== undefined ? { version: options.version } : {}),
      ...(options.timeoutSeconds !== undefined ? { timeoutSeconds: options.timeoutSeconds } : {}),
      ...(options.idempotencyKey !== undefined ? { idempotencyKey: options.idempotencyKey } : {}),
    };
    return this.http.call('workflowsRun', { params: { slug }, body });
  }

  /**
   * A run's events from the start (or after the seq `after`). Awaited, the events stored so far (all of them
   * once the run has ended); iterated with `for await`, the same and then live until the run ends (unless
   * `follow: false`). `signal` stops following (not the run).
   * @example
   * const events = await rt.workflows.events(run.runId)
   * for await (const event of rt.workflows.events(run.runId)) console.log(event.type, event.nodeId ?? '')
   */
  events(runId: string, options: { after?: number; follow?: boolean; signal?: AbortSignal } = {}): WorkflowEventStream {
    const open = (follow: boolean) =>
      this.http.events(
        'workflowRunsEvents',
        {
          params: { workflowRunId: runId },
          query: {
            ...(options.after !== undefined ? { after: options.after } : {}),
            follow: follow ? ('true' as const) : ('false' as const),
          },
        },
        { follow, ...(options.signal ? { signal: options.signal } : {}) },
      );
    return eventStream(open, options.follow !== false);
  }

  /**
   * Waits until a run is in one of the `until` statuses (by default any end: completed, failed, cancelled,
   * timed_out) or has ended, and answers it with its nodes. `until: ['waiting']` resolves once it waits for
   * an approval, a delay or a webhook. `signal` stops waiting (the promise rejects with its reason).
   * @example
   * const run = await rt.workflows.run('review-pr', { prompt: 'Review PR #123' })
   * const done = await rt.workflows.waitForRun(run.runId)
   * console.log(done.status, done.output)
   */
  async waitForRun(
    runId: string,
    options: { until?: readonly WorkflowRunStatus[]; signal?: AbortSignal } = {},
  ): Promise<WorkflowRunDetail> {
    const until = new Set(options.until ?? finishedWorkflowRunStatuses);
    const ended = new Set(finishedWorkflowRunStatuses);
    options.signal?.throwIfAborted();
    // Where the log stands now, then the run's state: any change after that state has a later seq.
    let after = 0;
    for (const event of await this.events(runId, { follow: false })) after = event.seq;
    const current = await this.runs.get(runId);
    if (until.has(current.status) || ended.has(current.status)) return current;
    for await (const event of this.events(runId, {
      after,
      ...(options.signal ? { signal: options.signal } : {}),
    })) {
      const status = workflowRunStatusAfter(event);
      if (status && (until.has(status) || ended.has(status))) break;
    }
    options.signal?.throwIfAborted();
    return this.runs.get(runId);
  }
}
