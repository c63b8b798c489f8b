import type { workflowsRoutes } from '@runtools/spec';
import { DomainError } from '../errors.js';
import type { DomainHandlers } from '../http/route-handlers.js';
import type { TriggerService } from './trigger-service.js';
import type { WorkflowService } from './workflow-service.js';

/** The most a hook delivery's body may be. */
const maxHookBodyBytes = 1024 * 1024;

async function readAll(body: AsyncIterable<Uint8Array> | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  if (body)
    for await (const chunk of body) {
      size += chunk.length;
      if (size > maxHookBodyBytes)
        throw new DomainError('payload_too_large', `a hook delivery is at most ${maxHookBodyBytes} bytes`, {
          maxBytes: maxHookBodyBytes,
        });
      chunks.push(Buffer.from(chunk));
    }
  return Buffer.concat(chunks);
}

/** Workflows, their runs, approvals and triggers (`spec/src/routes/workflows.ts`). */
export function workflowsHandlers(deps: {
  workflows: WorkflowService;
  triggers: TriggerService;
}): DomainHandlers<typeof workflowsRoutes> {
  const { workflows, triggers } = deps;
  return {
    async workflowsList({ auth, query }) {
      return workflows.list(auth, query);
    },
    async workflowsSave({ auth, body }) {
      return workflows.save(auth, body);
    },
    async workflowsValidate({ auth, body }) {
      const problems = await workflows.validate(auth, body.graph);
      return { valid: problems.length === 0, problems };
    },
    async workflowsGet({ auth, params }) {
      return workflows.get(auth, params.slug);
    },
    async workflowsDelete({ auth, params }) {
      return workflows.delete(auth, params.slug);
    },
    async workflowsPublish({ auth, params, body }) {
      return workflows.publish(auth, params.slug, body);
    },
    async workflowsVersions({ auth, params, query }) {
      return workflows.versions(auth, params.slug, query);
    },
    async workflowsVersionGet({ auth, params }) {
      return workflows.version(auth, params.slug, params.version);
    },
    async workflowsRun({ auth, params, body }) {
      return workflows.run(auth, params.slug, body);
    },
    async workflowTriggersCreate({ auth, params, body }) {
      return triggers.create(auth, params.slug, body);
    },
    async workflowTriggersList({ auth, params, query }) {
      return triggers.list(auth, params.slug, query);
    },
    async workflowTriggersDelete({ auth, params }) {
      return triggers.delete(auth, params.slug, params.triggerId);
    },
    async workflowRunsList({ auth, query }) {
      return workflows.runs(auth, query, query);
    },
    async workflowRunsGet({ auth, params }) {
      return workflows.getRun(auth, params.workflowRunId);
    },
    async workflowRunsCancel({ auth, params }) {
      return workflows.cancelRun(auth, params.workflowRunId);
    },
    async workflowRunsEvents({ auth, params, query }) {
      return workflows.events(auth, params.workflowRunId, query.after, query.follow);
    },
    async workflowApprovalsList({ auth, query }) {
      return workflows.approvals(auth, query, query);
    },
    async workflowApprovalsGet({ auth, params }) {
      return workflows.approval(auth, params.approvalId);
    },
    async workflowApprovalsResolve({ auth, params, body }) {
      return workflows.resolveApproval(auth, params.approvalId, body);
    },
    async hooksDeliver({ params, rawBody, header }) {
      const body = await readAll(rawBody);
      return triggers.deliver(params.token, body, header);
    },
  };
}
