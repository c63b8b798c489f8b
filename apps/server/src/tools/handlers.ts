import type { toolsRoutes } from '@runtools/spec';
import type { DomainHandlers } from '../http/route-handlers.js';
import type { ToolService } from './tool-service.js';

/** Tools: the marketplace, installations, credentials, calls (`spec/src/routes/tools.ts`). */
export function toolsHandlers(deps: { tools: ToolService }): DomainHandlers<typeof toolsRoutes> {
  const { tools } = deps;
  return {
    async toolsMarketplace({ auth, query }) {
      return tools.marketplace(auth, query);
    },
    async toolsMarketplaceSearch({ auth, query }) {
      return tools.search(auth, query.q, query);
    },
    async toolsExecutions({ auth, query }) {
      return tools.executions(auth, query, query);
    },
    async toolsDeploy({ auth, body }) {
      return tools.deploy(auth, body);
    },
    async toolsDelete({ auth, params }) {
      return tools.delete(auth, params.toolName);
    },
    async toolsVersions({ auth, params, query }) {
      return tools.versions(auth, params.toolName, query);
    },
    async toolsList({ auth, query }) {
      return tools.list(auth, query);
    },
    async toolsGet({ auth, params }) {
      return tools.get(auth, params.toolName);
    },
    async toolsInstall({ auth, params }) {
      return tools.install(auth, params.toolName);
    },
    async toolsUninstall({ auth, params }) {
      return tools.uninstall(auth, params.toolName);
    },
    async toolsCredentialsSet({ auth, params, body }) {
      return tools.setCredentials(auth, params.toolName, body);
    },
    async toolsExecute({ auth, params, body }) {
      return tools.execute(auth, params.toolName, body);
    },
  };
}
