import { z } from 'zod';
import { RunEventsQuery } from './agents.js';
import { DisplayName, EnvVars, idSchema, PageQuery, pageOf, Slug, Timestamp } from './common.js';

/**
 * Workflows: versioned graphs whose nodes run agents, tools and sandbox commands, branch, fan out, wait for
 * approvals, delays and inbound calls. The graph uses React Flow's names (`nodes`, `edges`, `source`, `target`,
 * `position`) so an editor maps it 1:1. String fields of a node's config interpolate `{{ expression }}`; the
 * expressions are JSONata, evaluated over `{ input, nodes: { <id>: { output } }, trigger, run }`.
 */

/** Longest a node may be told to run (a sandbox command, an agent run), and longest a wait may last. */
export const maxNodeTimeoutSeconds = 24 * 60 * 60;
export const maxWaitSeconds = 365 * 24 * 60 * 60;
export const maxGraphNodes = 500;
export const maxGraphEdges = 2000;
/** An expression (or a template string) is at most this long. */
export const maxExpressionLength = 10_000;

export const NodeId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, { message: 'letters, digits, _ and -, starting with a letter or _' });

/** A JSONata expression. */
export const Expression = z.string().min(1).max(maxExpressionLength);
/** A string that may hold `{{ expression }}` parts. */
export const TemplateString = z.string().max(maxExpressionLength);

export const AgentNodeConfig = z
  .object({
    agent: Slug.meta({ description: "the agent's slug" }),
    prompt: TemplateString.min(1),
    thread: z
      .enum(['none', 'run'])
      .default('none')
      .meta({ description: "none: each execution stands alone; run: the run's agent nodes share one thread" }),
  })
  .strict();
export const ToolNodeConfig = z
  .object({
    tool: z.string().min(1).max(64),
    action: z.string().min(1).max(64),
    params: z
      .record(z.string(), z.unknown())
      .default({})
      .meta({ description: 'the action params; string values interpolate {{ expression }}' }),
  })
  .strict();
export const SandboxNodeConfig = z
  .object({
    sandbox: TemplateString.min(1)
      .optional()
      .meta({ description: 'the id of a sandbox to run in; without it a new one is created and destroyed after' }),
    template: z.string().min(1).max(128).optional().meta({ description: 'the template of a new sandbox' }),
    command: TemplateString.min(1),
    cwd: TemplateString.min(1).optional(),
    env: EnvVars.optional(),
    allowFailure: z
      .boolean()
      .default(false)
      .meta({ description: 'a non-zero exit completes the node (exitCode in its output) instead of failing it' }),
  })
  .strict();
export const ConditionNodeConfig = z.object({ expression: Expression }).strict();
export const ParallelNodeConfig = z.object({}).strict();
export const JoinNodeConfig = z
  .object({
    mode: z.enum(['all', 'any', 'first']).default('all').meta({
      description:
        'all: waits for every incoming branch; any: goes on at the first, the others finish; first: goes on at the first and cancels the others',
    }),
  })
  .strict();
export const ApprovalNodeConfig = z
  .object({
    message: TemplateString.min(1),
    approvers: z
      .array(z.string().min(1).max(320))
      .max(100)
      .optional()
      .meta({ description: 'member ids or emails who may decide; default any member with workflows:execute' }),
    timeoutSeconds: z.number().int().min(1).max(maxWaitSeconds).optional(),
    onTimeout: z.enum(['fail', 'reject', 'approve']).default('fail'),
  })
  .strict();
export const DelayNodeConfig = z.union([
  z.object({ seconds: z.number().int().min(0).max(maxWaitSeconds) }).strict(),
  z
    .object({
      until: TemplateString.min(1).meta({ description: 'an ISO 8601 time, or {{ an expression }} giving one' }),
    })
    .strict(),
]);
export const WebhookWaitNodeConfig = z
  .object({ timeoutSeconds: z.number().int().min(1).max(maxWaitSeconds).optional() })
  .strict();
export const TransformNodeConfig = z.object({ expression: Expression }).strict();
export const OutputNodeConfig = z.object({ expression: Expression }).strict();

/** Each node type's config schema: the one table an editor builds its forms from. */
export const nodeConfigSchemas = {
  agent: AgentNodeConfig,
  tool: ToolNodeConfig,
  sandbox: SandboxNodeConfig,
  condition: ConditionNodeConfig,
  parallel: ParallelNodeConfig,
  join: JoinNodeConfig,
  approval: ApprovalNodeConfig,
  delay: DelayNodeConfig,
  'webhook-wait': WebhookWaitNodeConfig,
  transform: TransformNodeConfig,
  output: OutputNodeConfig,
} as const;
export type WorkflowNodeType = keyof typeof nodeConfigSchemas;
export const WorkflowNodeType = z
  .enum(Object.keys(nodeConfigSchemas) as [WorkflowNodeType, ...WorkflowNodeType[]])
  .meta({ id: 'WorkflowNodeType' });
export type NodeConfig<Type extends WorkflowNodeType> = z.output<(typeof nodeConfigSchemas)[Type]>;

export const RetryPolicy = z
  .object({
    attempts: z.number().int().min(1).max(20).default(1).meta({ description: 'tries in all, the first included' }),
    backoffSeconds: z.number().min(0).max(3600).default(1).meta({ description: 'before the second try' }),
    backoffFactor: z.number().min(1).max(10).default(2),
  })
  .strict();
export type RetryPolicy = z.output<typeof RetryPolicy>;

export const WorkflowNode = z
  .object({
    id: NodeId,
    type: z
      .string()
      .min(1)
      .max(64)
      .meta({ description: `one of ${Object.keys(nodeConfigSchemas).join(', ')}` }),
    config: z.unknown().optional().meta({ description: "the type's config, checked when the graph is saved" }),
    position: z.object({ x: z.number(), y: z.number() }).optional(),
    label: z.string().max(200).optional(),
    retry: RetryPolicy.optional(),
    timeoutSeconds: z.number().int().min(1).max(maxNodeTimeoutSeconds).optional(),
  })
  .strict()
  .meta({ id: 'WorkflowNode' });
export type WorkflowNode = z.input<typeof WorkflowNode>;

export const WorkflowEdge = z
  .object({
    id: z.string().min(1).max(128).optional(),
    source: NodeId,
    target: NodeId,
    condition: z
      .boolean()
      .optional()
      .meta({ description: 'from a condition or approval node: taken when its result is this (approved is true)' }),
    maxIterations: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .optional()
      .meta({ description: 'makes the edge a loop back to an earlier node, taken at most this many times per run' }),
  })
  .strict()
  .meta({ id: 'WorkflowEdge' });
export type WorkflowEdge = z.input<typeof WorkflowEdge>;

export const WorkflowGraph = z
  .object({
    nodes: z.array(WorkflowNode).min(1).max(maxGraphNodes),
    edges: z.array(WorkflowEdge).max(maxGraphEdges).default([]),
  })
  .strict()
  .meta({ id: 'WorkflowGraph' });
export type WorkflowGraph = z.input<typeof WorkflowGraph>;

/** One thing wrong with a graph, with the node (or edge) it belongs to. */
export const GraphProblem = z
  .object({
    code: z.string(),
    message: z.string(),
    nodeId: z.string().optional(),
    edge: z.number().int().optional().meta({ description: "the edge's index in edges" }),
    path: z.string().optional().meta({ description: 'the config field, e.g. config.expression' }),
  })
  .meta({ id: 'GraphProblem' });
export type GraphProblem = z.infer<typeof GraphProblem>;

export const WorkflowVisibility = z.enum(['org', 'private']).meta({ id: 'WorkflowVisibility' });
export type WorkflowVisibility = z.infer<typeof WorkflowVisibility>;

/** The slug a workflow saved without one gets: its name made a slug ('Review PR' → 'review-pr'). */
export function workflowSlug(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/g, '');
  return slug || 'workflow';
}

export const WorkflowSaveRequest = z
  .object({
    name: DisplayName,
    slug: Slug.optional().meta({ description: "default: from the name ('Review PR' → review-pr)" }),
    description: z.string().max(2000).optional(),
    graph: WorkflowGraph,
    inputSchema: z
      .record(z.string(), z.unknown())
      .optional()
      .meta({ description: "a JSON Schema a run's input must match" }),
    projectId: idSchema('project').optional().meta({
      description: "a new workflow's project (default: the org's default project); on an update, moves it there",
    }),
  })
  .strict();
export type WorkflowSaveRequest = z.input<typeof WorkflowSaveRequest>;

export const WorkflowPublishRequest = z
  .object({ visibility: WorkflowVisibility.default('org'), note: z.string().max(500).optional() })
  .strict();
export type WorkflowPublishRequest = z.input<typeof WorkflowPublishRequest>;

export const Workflow = z
  .object({
    id: idSchema('workflow'),
    slug: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    graph: z.unknown().meta({ description: 'the draft' }),
    inputSchema: z.record(z.string(), z.unknown()).nullable(),
    draftRevision: z.number().int().meta({ description: 'counts saves of the draft' }),
    latestVersion: z.number().int().nullable().meta({ description: 'the latest published version' }),
    visibility: WorkflowVisibility.nullable().meta({ description: "the latest published version's" }),
    ownerId: z.string().nullable().meta({ description: 'the member who created it' }),
    projectId: idSchema('project'),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'Workflow' });
export type Workflow = z.infer<typeof Workflow>;

export const WorkflowVersion = z
  .object({
    workflowId: z.string(),
    slug: z.string(),
    version: z.number().int(),
    graph: z.unknown(),
    inputSchema: z.record(z.string(), z.unknown()).nullable(),
    visibility: WorkflowVisibility,
    note: z.string().nullable(),
    publishedBy: z.string().nullable(),
    createdAt: Timestamp,
  })
  .meta({ id: 'WorkflowVersion' });
export type WorkflowVersion = z.infer<typeof WorkflowVersion>;

export const WorkflowParams = z.object({ slug: Slug });
export const WorkflowVersionParams = z.object({ slug: Slug, version: z.coerce.number().int().min(1) });

export const WorkflowRunStatus = z
  .enum(['queued', 'running', 'waiting', 'completed', 'failed', 'cancelled', 'timed_out'])
  .meta({ id: 'WorkflowRunStatus' });
export type WorkflowRunStatus = z.infer<typeof WorkflowRunStatus>;
export const finishedWorkflowRunStatuses: readonly WorkflowRunStatus[] = [
  'completed',
  'failed',
  'cancelled',
  'timed_out',
];

export const NodeRunStatus = z
  .enum(['queued', 'running', 'waiting', 'completed', 'failed', 'skipped', 'cancelled', 'timed_out'])
  .meta({ id: 'NodeRunStatus' });
export type NodeRunStatus = z.infer<typeof NodeRunStatus>;

export const WorkflowRunRequest = z
  .object({
    version: z
      .union([z.number().int().min(1), z.literal('latest'), z.literal('draft')])
      .default('latest')
      .meta({ description: "a published version, 'latest' (default) or 'draft' (needs workflows:write)" }),
    timeoutSeconds: z.number().int().min(1).max(maxWaitSeconds).optional(),
    idempotencyKey: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .meta({ description: 'a second run with the same key answers the first run' }),
  })
  .strict();

/**
 * `rt.workflows.run(slug, input, options)`: `input` is the run's input document (any JSON object), sent as the
 * body's `input`.
 */
export const WorkflowRunBody = WorkflowRunRequest.extend({
  input: z.record(z.string(), z.unknown()).default({}),
}).strict();
export type WorkflowRunBody = z.input<typeof WorkflowRunBody>;

const RunError = z.object({ code: z.string(), message: z.string(), nodeId: z.string().optional() });

export const WorkflowRun = z
  .object({
    runId: idSchema('workflowRun'),
    workflowId: z.string(),
    workflow: z.string().meta({ description: "the workflow's slug" }),
    version: z.number().int().nullable().meta({ description: 'the pinned version (null: a draft run)' }),
    status: WorkflowRunStatus,
    input: z.unknown(),
    output: z.unknown().nullable(),
    error: RunError.nullable(),
    trigger: z
      .object({ kind: z.enum(['manual', 'cron', 'webhook']), triggerId: z.string().nullable() })
      .meta({ description: 'what started it' }),
    startedBy: z.string().nullable().meta({ description: 'the member whose rights it acts with' }),
    createdAt: Timestamp,
    startedAt: Timestamp.nullable(),
    finishedAt: Timestamp.nullable(),
  })
  .meta({ id: 'WorkflowRun' });
export type WorkflowRun = z.infer<typeof WorkflowRun>;

export const NodeRun = z
  .object({
    nodeId: z.string(),
    type: z.string(),
    iteration: z.number().int(),
    status: NodeRunStatus,
    attempt: z.number().int(),
    idempotencyKey: z.string(),
    output: z.unknown().nullable(),
    error: RunError.nullable(),
    childRunId: z.string().nullable().meta({ description: "an agent node's run, whose events are linked" }),
    startedAt: Timestamp.nullable(),
    finishedAt: Timestamp.nullable(),
  })
  .meta({ id: 'NodeRun' });
export type NodeRun = z.infer<typeof NodeRun>;

export const WorkflowRunDetail = WorkflowRun.extend({ nodes: z.array(NodeRun) }).meta({ id: 'WorkflowRunDetail' });
export type WorkflowRunDetail = z.infer<typeof WorkflowRunDetail>;

export const WorkflowRunParams = z.object({ workflowRunId: idSchema('workflowRun') });
export const WorkflowRunsQuery = z
  .object({
    workflow: Slug.optional(),
    status: WorkflowRunStatus.optional(),
    ...PageQuery,
  })
  .strict();

export const WorkflowEventType = z
  .enum([
    'run.queued',
    'run.started',
    'run.waiting',
    'run.resumed',
    'run.completed',
    'run.failed',
    'run.cancelled',
    'run.timed_out',
    'node.queued',
    'node.started',
    'node.retrying',
    'node.waiting',
    'node.completed',
    'node.failed',
    'node.skipped',
    'node.cancelled',
    'node.timed_out',
    'approval.requested',
    'approval.resolved',
  ])
  .meta({ id: 'WorkflowEventType' });
export type WorkflowEventType = z.infer<typeof WorkflowEventType>;

/** One transition of a run or one of its nodes: numbered from 1 per run, stored before it is streamed. */
export const WorkflowEvent = z
  .object({
    seq: z.number().int(),
    at: Timestamp,
    type: WorkflowEventType,
    runId: z.string(),
    nodeId: z.string().nullable(),
    iteration: z.number().int().nullable(),
    attempt: z.number().int().nullable(),
    data: z.unknown().meta({
      description: 'inputs, outputs or the error; a value over 64 KiB is { truncated: true, size, outputRef }',
    }),
    childRunId: z
      .string()
      .nullable()
      .meta({ description: "an agent run's id: its events are at /v1/runs/{id}/events" }),
  })
  .meta({ id: 'WorkflowEvent' });
export type WorkflowEvent = z.infer<typeof WorkflowEvent>;

/** `after` and `follow`, as a run's events take them. */
export const WorkflowEventsQuery = RunEventsQuery;

export const ApprovalStatus = z.enum(['pending', 'approved', 'rejected', 'timed_out', 'cancelled']);
export type ApprovalStatus = z.infer<typeof ApprovalStatus>;

export const Approval = z
  .object({
    id: idSchema('approval'),
    runId: z.string(),
    workflow: z.string(),
    nodeId: z.string(),
    message: z.string(),
    approvers: z.array(z.string()).nullable(),
    status: ApprovalStatus,
    comment: z.string().nullable(),
    decidedBy: z.string().nullable(),
    expiresAt: Timestamp.nullable(),
    createdAt: Timestamp,
    decidedAt: Timestamp.nullable(),
  })
  .meta({ id: 'Approval' });
export type Approval = z.infer<typeof Approval>;
export const ApprovalParams = z.object({ approvalId: idSchema('approval') });
export const ApprovalsQuery = z
  .object({ status: ApprovalStatus.optional(), runId: idSchema('workflowRun').optional(), ...PageQuery })
  .strict();
export const ApprovalResolveRequest = z
  .object({ approved: z.boolean(), comment: z.string().max(4000).optional() })
  .strict();
export type ApprovalResolveRequest = z.input<typeof ApprovalResolveRequest>;

export const TriggerKind = z.enum(['cron', 'webhook']);
export const TriggerCreateRequest = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('cron'),
      schedule: z.string().min(1).max(200).meta({ description: "a cron expression, e.g. '0 9 * * 1-5'" }),
      timezone: z.string().min(1).max(64).default('UTC'),
      version: z.union([z.number().int().min(1), z.literal('latest')]).default('latest'),
      input: z.record(z.string(), z.unknown()).default({}),
      missedFires: z
        .enum(['skip', 'run_once'])
        .default('skip')
        .meta({ description: 'fires missed while no control plane ran: skipped, or one run for them all' }),
    })
    .strict(),
  z
    .object({
      kind: z.literal('webhook'),
      version: z.union([z.number().int().min(1), z.literal('latest')]).default('latest'),
      input: z.record(z.string(), z.unknown()).default({}),
    })
    .strict(),
]);
export type TriggerCreateRequest = z.input<typeof TriggerCreateRequest>;

export const Trigger = z
  .object({
    id: idSchema('trigger'),
    workflow: z.string(),
    kind: TriggerKind,
    schedule: z.string().nullable(),
    timezone: z.string().nullable(),
    missedFires: z.enum(['skip', 'run_once']).nullable(),
    version: z.union([z.number().int(), z.literal('latest')]),
    input: z.record(z.string(), z.unknown()),
    url: z.string().nullable().meta({ description: "a webhook's URL: POST /v1/hooks/{token}" }),
    secret: z
      .string()
      .nullable()
      .meta({ description: "a webhook's signing secret, shown only in the answer that creates it" }),
    nextFireAt: Timestamp.nullable(),
    lastFiredAt: Timestamp.nullable(),
    enabled: z.boolean(),
    createdBy: z.string().nullable(),
    createdAt: Timestamp,
  })
  .meta({ id: 'Trigger' });
export type Trigger = z.infer<typeof Trigger>;
export const TriggerParams = z.object({ slug: Slug, triggerId: idSchema('trigger') });
export const HookParams = z.object({ token: z.string().min(20).max(200) });
export const HookAccepted = z.object({
  accepted: z.literal(true),
  runId: z.string().nullable(),
  deliveryId: z.string(),
});

export const WorkflowList = pageOf(Workflow);
export const WorkflowVersionList = pageOf(WorkflowVersion);
export const WorkflowRunList = pageOf(WorkflowRun);
export const ApprovalList = pageOf(Approval);
export const TriggerList = pageOf(Trigger);
export const GraphValidation = z.object({ valid: z.boolean(), problems: z.array(GraphProblem) });
