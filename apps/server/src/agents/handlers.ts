import type { agentsRoutes } from '@runtools/spec';
import type { DomainHandlers } from '../http/route-handlers.js';
import type { AgentService } from './agent-service.js';
import type { RunService } from './run-service.js';

/** Agents, their runs and threads, model providers and models (`spec/src/routes/agents.ts`). */
export function agentsHandlers(deps: { agents: AgentService; runs: RunService }): DomainHandlers<typeof agentsRoutes> {
  return {
    async agentsCreate({ auth, body }) {
      return deps.agents.create(auth, body);
    },
    async agentsList({ auth, query }) {
      return deps.agents.list(auth, query);
    },
    async agentsGet({ auth, params }) {
      return deps.agents.get(auth, params.slug);
    },
    async agentsUpdate({ auth, params, body }) {
      return deps.agents.update(auth, params.slug, body);
    },
    async agentsPut({ auth, params, body }) {
      return deps.agents.put(auth, params.slug, body);
    },
    async agentsDelete({ auth, params }) {
      return deps.agents.delete(auth, params.slug);
    },
    async agentsVersions({ auth, params, query }) {
      return deps.agents.versions(auth, params.slug, query);
    },
    async agentRunsCreate({ auth, params, body }) {
      return deps.runs.start(auth, params.slug, body);
    },
    async agentRunsStream({ auth, params, body }) {
      return deps.runs.stream(auth, params.slug, body);
    },
    async runsList({ auth, query }) {
      return deps.runs.list(auth, query, query);
    },
    async runsGet({ auth, params }) {
      return deps.runs.get(auth, params.runId);
    },
    async runsCancel({ auth, params }) {
      return deps.runs.cancel(auth, params.runId);
    },
    async runsEvents({ auth, params, query }) {
      return deps.runs.events(auth, params.runId, query.after, query.follow);
    },
    async threadsList({ auth, query }) {
      return deps.runs.threads(auth, query, query);
    },
    async threadsGet({ auth, params }) {
      return deps.runs.thread(auth, params.threadId);
    },
    async threadsMessages({ auth, params, query }) {
      return deps.runs.messages(auth, params.threadId, query);
    },
    async threadsDelete({ auth, params }) {
      return deps.runs.deleteThread(auth, params.threadId);
    },
    async providersCreate({ auth, body }) {
      return deps.agents.createProvider(auth, body);
    },
    async providersList({ auth, query }) {
      return deps.agents.listProviders(auth, query);
    },
    async providersDelete({ auth, params }) {
      return deps.agents.deleteProvider(auth, params.name);
    },
    async modelsList({ auth, query }) {
      return deps.agents.modelTable(auth, query);
    },
  };
}
