import {
  type Approval,
  type ApprovalResolveRequest,
  finishedWorkflowRunStatuses,
  type GraphProblem,
  parseGraph,
  type Workflow,
  type WorkflowEvent,
  type WorkflowPublishRequest,
  type WorkflowRun,
  type WorkflowRunBody,
  type WorkflowRunDetail,
  type WorkflowRunStatus,
  type WorkflowSaveRequest,
  type WorkflowVersion,
  workflowSlug,
} from '@runtools/spec';
import type { Kysely } from 'kysely';
import type { z } from 'zod';
import { audit } from '../audit.js';
import type { Actor } from '../auth/actor.js';
import { requireScopes } from '../auth/authenticate.js';
import { type StoredActor, storeActor } from '../auth/stored-actor.js';
import { inPage, keysetPage, mapPage, type Page, type PageRequest } from '../db/pagination.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { newId, nowIso } from '../ids.js';
import { projectFor } from '../tenancy/project-service.js';
import { checkExpression } from './expressions.js';
import { inputErrors, inputValidator } from './input-schema.js';
import { maxJsonNesting, nestingOf, refuseDeepJson } from './json-nesting.js';
import type { WorkflowEngine } from './run-engine.js';
import { nodeFromRow, type RunStore, runFromRow } from './run-store.js';

type WorkflowRow = Database['workflows'];

function workflowFromRow(row: WorkflowRow): Workflow {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    description: row.description,
    graph: JSON.parse(row.graph) as unknown,
    inputSchema: row.input_schema ? (JSON.parse(row.input_schema) as Record<string, unknown>) : null,
    draftRevision: Number(row.draft_revision),
    latestVersion: row.latest_version === null ? null : Number(row.latest_version),
    visibility: (row.visibility as Workflow['visibility']) ?? null,
    ownerId: row.owner_id,
    projectId: row.project_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function versionFromRow(row: Database['workflow_versions'], slug: string): WorkflowVersion {
  return {
    workflowId: row.workflow_id,
    slug,
    version: Number(row.version),
    graph: JSON.parse(row.graph) as unknown,
    inputSchema: row.input_schema ? (JSON.parse(row.input_schema) as Record<string, unknown>) : null,
    visibility: row.visibility as WorkflowVersion['visibility'],
    note: row.note,
    publishedBy: row.published_by,
    createdAt: row.created_at,
  };
}

/**
 * The largest value of an `integer` column on PostgreSQL: a version or an event seq past it names nothing, and
 * sent as a query parameter it would fail the statement (out of range) instead of finding nothing.
 */
const maxColumnInteger = 2_147_483_647;

/** A graph nested past what it may be (each node's own, or the whole): checked before anything walks it. */
function deepProblems(graph: unknown): GraphProblem[] {
  if (nestingOf(graph) <= maxJsonNesting) return [];
  const nodes = (graph as { nodes?: unknown } | null)?.nodes;
  const problems: GraphProblem[] = [];
  if (Array.isArray(nodes))
    for (const node of nodes)
      if (nestingOf(node, maxJsonNesting - 2) > maxJsonNesting - 2) {
        const id = (node as { id?: unknown } | null)?.id;
        problems.push({
          code: 'too_deep',
          message: `the node nests deeper than ${maxJsonNesting} levels`,
          ...(typeof id === 'string' ? { nodeId: id.slice(0, 64) } : {}),
        });
      }
  return problems.length
    ? problems
    : [{ code: 'too_deep', message: `the graph nests deeper than ${maxJsonNesting} levels` }];
}

/**
 * Workflows: drafts saved whole and checked whole, immutable published versions, runs started on a pinned
 * graph, their event logs and approvals. The engine runs them; this is what callers ask of them.
 */
export class WorkflowService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly store: RunStore,
    private readonly engine: WorkflowEngine,
  ) {}

  /** Every problem of a graph: its structure and expressions, then agents and tools the org does not have. */
  async validate(auth: Actor, graph: unknown): Promise<GraphProblem[]> {
    const tooDeep = deepProblems(graph);
    if (tooDeep.length) return tooDeep;
    const { graph: parsed, problems } = parseGraph(graph, checkExpression);
    if (!parsed) return problems;
    const agents = new Set<string>();
    const tools = new Set<string>();
    for (const node of parsed.nodes.values()) {
      if (node.type === 'agent') agents.add(node.config.agent as string);
      if (node.type === 'tool') tools.add(node.config.tool as string);
    }
    const knownAgents = agents.size
      ? new Set(
          (
            await this.db
              .selectFrom('agents')
              .select('slug')
              .where('org_id', '=', auth.orgId)
              .where('slug', 'in', [...agents])
              .execute()
          ).map((row) => row.slug),
        )
      : new Set<string>();
    const knownTools = tools.size ? await this.knownTools(auth.orgId, [...tools]) : new Set<string>();
    for (const node of parsed.nodes.values()) {
      if (node.type === 'agent' && !knownAgents.has(node.config.agent as string))
        problems.push({
          code: 'unknown_agent',
          message: `no agent ${node.config.agent as string} in this organization`,
          nodeId: node.id,
          path: 'config.agent',
        });
      if (node.type === 'tool' && !knownTools.has(node.config.tool as string))
        problems.push({
          code: 'unknown_tool',
          message: `no tool ${node.config.tool as string} is installed or deployed in this organization`,
          nodeId: node.id,
          path: 'config.tool',
        });
    }
    return problems;
  }

  private async knownTools(orgId: string, names: string[]): Promise<Set<string>> {
    const installed = await this.db
      .selectFrom('tool_installations')
      .select('name')
      .where('org_id', '=', orgId)
      .where('name', 'in', names)
      .execute();
    const custom = await this.db
      .selectFrom('custom_tools')
      .select('name')
      .where('org_id', '=', orgId)
      .where('name', 'in', names)
      .execute()
      .catch(() => []);
    return new Set([...installed, ...custom].map((row) => row.name));
  }

  private async invalid(auth: Actor, graph: unknown): Promise<void> {
    const problems = await this.validate(auth, graph);
    if (problems.length)
      throw new DomainError(
        'workflow_invalid',
        `the graph has ${problems.length} problem${problems.length === 1 ? '' : 's'}: ${problems
          .slice(0, 5)
          .map((problem) => `${problem.nodeId ? `${problem.nodeId}: ` : ''}${problem.message}`)
          .join('; ')}`,
        { problems },
      );
  }

  private async row(auth: Actor, slug: string): Promise<WorkflowRow> {
    const row = await this.db
      .selectFrom('workflows')
      .selectAll()
      .where('org_id', '=', auth.orgId)
      .where('slug', '=', slug)
      .executeTakeFirst();
    // A workflow whose latest version is private is its owner's (and admins') alone.
    if (!row || !this.visible(auth, row)) throw new DomainError('workflow_not_found', `no workflow ${slug}`, { slug });
    return row;
  }

  private visible(auth: Actor, row: WorkflowRow): boolean {
    if (row.visibility !== 'private') return true;
    return row.owner_id === auth.member?.id || this.seesPrivate(auth);
  }

  private seesPrivate(auth: Actor): boolean {
    return auth.role === 'owner' || auth.role === 'admin';
  }

  /** The org's private workflows of other members (a subquery of ids): their runs and approvals are hidden too. */
  private hiddenWorkflowIds(auth: Actor) {
    const memberId = auth.member?.id;
    return this.db
      .selectFrom('workflows')
      .select('id')
      .where('org_id', '=', auth.orgId)
      .where('visibility', '=', 'private')
      .where((eb) =>
        memberId === undefined ? eb.lit(true) : eb.or([eb('owner_id', 'is', null), eb('owner_id', '!=', memberId)]),
      );
  }

  /** Whether the caller may see a run of the workflow `workflowId` (one of a private workflow: its owner, admins). */
  private async runVisible(auth: Actor, workflowId: string): Promise<boolean> {
    if (this.seesPrivate(auth)) return true;
    const workflow = await this.db
      .selectFrom('workflows')
      .selectAll()
      .where('org_id', '=', auth.orgId)
      .where('id', '=', workflowId)
      .executeTakeFirst();
    return !workflow || this.visible(auth, workflow);
  }

  async save(auth: Actor, body: z.output<typeof import('@runtools/spec').WorkflowSaveRequest>): Promise<Workflow> {
    await this.invalid(auth, body.graph);
    refuseDeepJson(body.inputSchema, 'inputSchema');
    if (body.inputSchema)
      try {
        // Compiled now, so a schema that cannot be (a reference it cannot resolve, a pattern RE2 refuses) is
        // refused at save rather than failing every run.
        inputValidator(JSON.stringify(body.inputSchema));
      } catch (error) {
        throw new DomainError(
          'validation_failed',
          `inputSchema is not a usable JSON Schema: ${(error as Error).message}`,
          {
            location: 'body',
            field: 'inputSchema',
          },
        );
      }
    const slug = body.slug ?? workflowSlug(body.name);
    // A new workflow goes in the given project or the default; a saved one moves only when one is given.
    const projectId = body.projectId === undefined ? undefined : await projectFor(this.db, auth, body.projectId);
    const now = nowIso();
    const existing = await this.db
      .selectFrom('workflows')
      .selectAll()
      .where('org_id', '=', auth.orgId)
      .where('slug', '=', slug)
      .executeTakeFirst();
    if (existing) {
      if (!this.visible(auth, existing)) throw new DomainError('workflow_not_found', `no workflow ${slug}`, { slug });
      await this.db
        .updateTable('workflows')
        .set({
          name: body.name,
          description: body.description ?? existing.description,
          graph: JSON.stringify(body.graph),
          input_schema: body.inputSchema ? JSON.stringify(body.inputSchema) : existing.input_schema,
          draft_revision: Number(existing.draft_revision) + 1,
          ...(projectId === undefined ? {} : { project_id: projectId }),
          updated_at: now,
        })
        .where('id', '=', existing.id)
        .execute();
    } else {
      await this.db
        .insertInto('workflows')
        .values({
          id: newId('workflow'),
          org_id: auth.orgId,
          project_id: projectId ?? (await projectFor(this.db, auth)),
          slug,
          name: body.name,
          description: body.description ?? null,
          graph: JSON.stringify(body.graph),
          input_schema: body.inputSchema ? JSON.stringify(body.inputSchema) : null,
          draft_revision: 1,
          latest_version: null,
          visibility: null,
          owner_id: auth.member?.id ?? null,
          created_at: now,
          updated_at: now,
        })
        .execute();
    }
    await audit(this.db, { orgId: auth.orgId, event: 'workflow.saved', actor: auth.principal, targetId: slug });
    return workflowFromRow(await this.row(auth, slug));
  }

  async get(auth: Actor, slug: string): Promise<Workflow> {
    return workflowFromRow(await this.row(auth, slug));
  }

  /** By slug; `projectId`: only that project's. */
  async list(auth: Actor, page: PageRequest & { projectId?: string | undefined }): Promise<Page<Workflow>> {
    let select = this.db.selectFrom('workflows').selectAll().where('org_id', '=', auth.orgId);
    if (page.projectId !== undefined) select = select.where('project_id', '=', page.projectId);
    const rows = await keysetPage(
      page,
      [{ column: 'slug', direction: 'asc' }],
      (row: WorkflowRow) => [row.slug],
      (keyset) => inPage(select, keyset).execute(),
    );
    return mapPage({ ...rows, data: rows.data.filter((row) => this.visible(auth, row)) }, workflowFromRow);
  }

  async delete(auth: Actor, slug: string): Promise<{ id: string; deleted: true }> {
    const row = await this.row(auth, slug);
    const running = await this.db
      .selectFrom('workflow_runs')
      .select('id')
      .where('workflow_id', '=', row.id)
      .where('status', 'in', ['queued', 'running', 'waiting'])
      .executeTakeFirst();
    if (running)
      throw new DomainError('invalid_transition', `run ${running.id} of ${slug} is in progress; cancel it first`, {
        runId: running.id,
      });
    await this.db.deleteFrom('workflows').where('id', '=', row.id).execute();
    await audit(this.db, { orgId: auth.orgId, event: 'workflow.deleted', actor: auth.principal, targetId: slug });
    return { id: row.id, deleted: true };
  }

  async publish(
    auth: Actor,
    slug: string,
    body: z.output<typeof import('@runtools/spec').WorkflowPublishRequest>,
  ): Promise<WorkflowVersion> {
    const row = await this.row(auth, slug);
    // The draft may have been saved before an agent or tool it names went away.
    await this.invalid(auth, JSON.parse(row.graph));
    const now = nowIso();
    const version = await this.db.transaction().execute(async (trx) => {
      const last = await trx
        .selectFrom('workflow_versions')
        .select(({ fn }) => fn.max('version').as('version'))
        .where('workflow_id', '=', row.id)
        .executeTakeFirst();
      const next = Number(last?.version ?? 0) + 1;
      const versionRow: Database['workflow_versions'] = {
        workflow_id: row.id,
        version: next,
        org_id: auth.orgId,
        graph: row.graph,
        input_schema: row.input_schema,
        visibility: body.visibility,
        note: body.note ?? null,
        published_by: auth.member?.id ?? null,
        publisher: JSON.stringify(storeActor(auth)),
        created_at: now,
      };
      await trx.insertInto('workflow_versions').values(versionRow).execute();
      await trx
        .updateTable('workflows')
        .set({ latest_version: next, visibility: body.visibility, updated_at: now })
        .where('id', '=', row.id)
        .execute();
      return versionRow;
    });
    await audit(this.db, {
      orgId: auth.orgId,
      event: 'workflow.published',
      actor: auth.principal,
      targetId: slug,
      details: { version: version.version },
    });
    return versionFromRow(version, slug);
  }

  async versions(auth: Actor, slug: string, page: PageRequest): Promise<Page<WorkflowVersion>> {
    const row = await this.row(auth, slug);
    const rows = await keysetPage(
      page,
      [{ column: 'version', direction: 'desc', type: 'number' }],
      (version: Database['workflow_versions']) => [Number(version.version)],
      (keyset) =>
        inPage(this.db.selectFrom('workflow_versions').selectAll().where('workflow_id', '=', row.id), keyset).execute(),
    );
    return mapPage(rows, (version) => versionFromRow(version, slug));
  }

  async version(auth: Actor, slug: string, version: number): Promise<WorkflowVersion> {
    const row = await this.row(auth, slug);
    const found = await this.versionRow(row, version);
    return versionFromRow(found, slug);
  }

  private async versionRow(row: WorkflowRow, version: number): Promise<Database['workflow_versions']> {
    const found =
      version > maxColumnInteger
        ? undefined
        : await this.db
            .selectFrom('workflow_versions')
            .selectAll()
            .where('workflow_id', '=', row.id)
            .where('version', '=', version)
            .executeTakeFirst();
    if (!found)
      throw new DomainError('workflow_version_not_found', `${row.slug} has no version ${version}`, {
        slug: row.slug,
        version,
      });
    return found;
  }

  /** The graph a run of `version` pins: a published version's, or (for 'draft') the draft as it is now. */
  async pinned(
    auth: Actor,
    row: WorkflowRow,
    version: number | 'latest' | 'draft',
  ): Promise<{ version: number | null; graph: string; inputSchema: string | null; publisher: StoredActor | null }> {
    if (version === 'draft') {
      requireScopes(auth, ['workflows:write']);
      return { version: null, graph: row.graph, inputSchema: row.input_schema, publisher: null };
    }
    const number = version === 'latest' ? row.latest_version : version;
    if (number === null)
      throw new DomainError(
        'workflow_not_published',
        `${row.slug} has no published version; publish it (rt.workflows.publish) or run the draft with version: 'draft'`,
        { slug: row.slug },
      );
    const found = await this.versionRow(row, Number(number));
    return {
      version: Number(found.version),
      graph: found.graph,
      inputSchema: found.input_schema,
      publisher: found.publisher ? (JSON.parse(found.publisher) as StoredActor) : null,
    };
  }

  checkInput(inputSchema: string | null, input: Record<string, unknown>): void {
    if (!inputSchema) return;
    let validate: ReturnType<typeof inputValidator>;
    try {
      validate = inputValidator(inputSchema);
    } catch (error) {
      throw new DomainError(
        'workflow_input_invalid',
        `the workflow's inputSchema cannot be used: ${(error as Error).message}`,
      );
    }
    if (!validate(input))
      throw new DomainError(
        'workflow_input_invalid',
        `the input does not match the workflow's inputSchema: ${inputErrors(validate)}`,
        {
          errors: validate.errors,
        },
      );
  }

  async run(
    auth: Actor,
    slug: string,
    body: z.output<typeof import('@runtools/spec').WorkflowRunBody>,
  ): Promise<WorkflowRun> {
    refuseDeepJson(body.input, 'input');
    const row = await this.row(auth, slug);
    const pinned = await this.pinned(auth, row, body.version);
    this.checkInput(pinned.inputSchema, body.input);
    return this.engine.createRun({
      orgId: auth.orgId,
      workflowId: row.id,
      slug: row.slug,
      version: pinned.version,
      graph: pinned.graph,
      input: body.input,
      trigger: { kind: 'manual', triggerId: null, data: { kind: 'manual' } },
      actor: storeActor(auth),
      idempotencyKey: body.idempotencyKey,
      timeoutSeconds: body.timeoutSeconds,
    });
  }

  private async runRow(auth: Actor, runId: string): Promise<Database['workflow_runs']> {
    const row = await this.db
      .selectFrom('workflow_runs')
      .selectAll()
      .where('id', '=', runId)
      .where('org_id', '=', auth.orgId)
      .executeTakeFirst();
    if (!row || !(await this.runVisible(auth, row.workflow_id)))
      throw new DomainError('workflow_run_not_found', `no workflow run ${runId}`, { runId });
    return row;
  }

  async getRun(auth: Actor, runId: string): Promise<WorkflowRunDetail> {
    const row = await this.runRow(auth, runId);
    const nodes = await this.store.nodes(runId);
    nodes.sort((a, b) => (a.started_at ?? a.finished_at ?? '').localeCompare(b.started_at ?? b.finished_at ?? ''));
    return { ...runFromRow(row), nodes: nodes.map(nodeFromRow) };
  }

  async runs(
    auth: Actor,
    query: { workflow?: string | undefined; status?: WorkflowRunStatus | undefined },
    page: PageRequest,
  ): Promise<Page<WorkflowRun>> {
    let select = this.db.selectFrom('workflow_runs').selectAll().where('org_id', '=', auth.orgId);
    if (query.workflow) select = select.where('workflow_slug', '=', query.workflow);
    if (query.status) select = select.where('status', '=', query.status);
    if (!this.seesPrivate(auth)) select = select.where('workflow_id', 'not in', this.hiddenWorkflowIds(auth));
    const rows = await keysetPage(
      page,
      [
        { column: 'created_at', direction: 'desc' },
        { column: 'id', direction: 'desc' },
      ],
      (row: Database['workflow_runs']) => [row.created_at, row.id],
      (keyset) => inPage(select, keyset).execute(),
    );
    return mapPage(rows, runFromRow);
  }

  async cancelRun(auth: Actor, runId: string): Promise<WorkflowRun> {
    const row = await this.runRow(auth, runId);
    if (finishedWorkflowRunStatuses.includes(row.status as WorkflowRunStatus))
      throw new DomainError('run_finished', `run ${runId} has already ended (${row.status})`, { status: row.status });
    await this.engine.cancel(runId);
    await audit(this.db, {
      orgId: auth.orgId,
      event: 'workflow_run.cancelled',
      actor: auth.principal,
      targetId: runId,
    });
    return runFromRow(await this.runRow(auth, runId));
  }

  /**
   * A run's events after `after`: those stored, then (with `follow`) each as it is stored, until the run ends.
   * Followers in this process are woken when events are stored here; others look every half second.
   */
  async events(auth: Actor, runId: string, after: number, follow: boolean): Promise<AsyncIterable<WorkflowEvent>> {
    await this.runRow(auth, runId);
    const store = this.store;
    const db = this.db;
    // A follower that goes away (return()) must not leave the wait below polling until the next event: an async
    // generator only sees return() at its next yield, so return() ends the wait itself.
    let closed = false;
    let wakeNow: (() => void) | undefined;
    const inner = (async function* () {
      let next = Math.min(after, maxColumnInteger);
      while (!closed) {
        const events = await store.events(runId, next);
        for (const event of events) {
          next = event.seq;
          yield event;
        }
        if (events.length === 1000) continue;
        if (!follow) return;
        const run = await db
          .selectFrom('workflow_runs')
          .select(['status', 'event_seq'])
          .where('id', '=', runId)
          .executeTakeFirst();
        if (!run) return;
        if (finishedWorkflowRunStatuses.includes(run.status as WorkflowRunStatus) && Number(run.event_seq) <= next)
          return;
        if (Number(run.event_seq) > next) continue;
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer);
            store.stored.off(runId, wake);
            wakeNow = undefined;
            resolve();
          };
          const timer = setTimeout(wake, 500);
          store.stored.on(runId, wake);
          wakeNow = wake;
        });
      }
    })();
    return {
      [Symbol.asyncIterator]() {
        return this;
      },
      next: () => inner.next(),
      return: (value?: unknown) => {
        closed = true;
        wakeNow?.();
        return inner.return(value as undefined);
      },
    } as AsyncIterableIterator<WorkflowEvent>;
  }

  async approvals(
    auth: Actor,
    query: { status?: string | undefined; runId?: string | undefined },
    page: PageRequest,
  ): Promise<Page<Approval>> {
    let select = this.db.selectFrom('workflow_approvals').selectAll().where('org_id', '=', auth.orgId);
    if (query.status) select = select.where('status', '=', query.status);
    if (query.runId) select = select.where('run_id', '=', query.runId);
    if (!this.seesPrivate(auth))
      select = select.where(
        'run_id',
        'not in',
        this.db
          .selectFrom('workflow_runs')
          .select('id')
          .where('org_id', '=', auth.orgId)
          .where('workflow_id', 'in', this.hiddenWorkflowIds(auth)),
      );
    const rows = await keysetPage(
      page,
      [
        { column: 'created_at', direction: 'desc' },
        { column: 'id', direction: 'desc' },
      ],
      (row: Database['workflow_approvals']) => [row.created_at, row.id],
      (keyset) => inPage(select, keyset).execute(),
    );
    const approvals: Approval[] = [];
    for (const row of rows.data) approvals.push(await this.engine.approvalFromRow(row));
    return { data: approvals, nextCursor: rows.nextCursor };
  }

  async approval(auth: Actor, approvalId: string): Promise<Approval> {
    const row = await this.db
      .selectFrom('workflow_approvals')
      .selectAll()
      .where('id', '=', approvalId)
      .where('org_id', '=', auth.orgId)
      .executeTakeFirst();
    if (!row) throw new DomainError('approval_not_found', `no approval ${approvalId}`, { approvalId });
    const run = await this.db
      .selectFrom('workflow_runs')
      .select('workflow_id')
      .where('id', '=', row.run_id)
      .executeTakeFirst();
    if (run && !(await this.runVisible(auth, run.workflow_id)))
      throw new DomainError('approval_not_found', `no approval ${approvalId}`, { approvalId });
    return this.engine.approvalFromRow(row);
  }

  async resolveApproval(auth: Actor, approvalId: string, body: ApprovalResolveRequest): Promise<Approval> {
    // Found (and visible) first: an approval of another member's private workflow is not theirs to decide.
    await this.approval(auth, approvalId);
    await this.engine.resolveApproval(auth, approvalId, body);
    await audit(this.db, {
      orgId: auth.orgId,
      event: body.approved ? 'workflow_approval.approved' : 'workflow_approval.rejected',
      actor: auth.principal,
      targetId: approvalId,
    });
    return this.approval(auth, approvalId);
  }
}

export type { WorkflowPublishRequest, WorkflowRunBody, WorkflowSaveRequest };
