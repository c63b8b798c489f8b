import type { AgentService } from '../agents/agent-service.js';
import { agentsHandlers } from '../agents/handlers.js';
import type { RunService } from '../agents/run-service.js';
import { type CredentialsDeps, credentialsHandlers } from '../credentials/handlers.js';
import { dashboardHandlers } from '../dashboard/handlers.js';
import type { DashboardSessions } from '../dashboard/sessions.js';
import type { RouteHandlers } from '../http/route-handlers.js';
import { meshHandlers } from '../mesh/handlers.js';
import type { MeshLinks } from '../mesh/links.js';
import type { MeshNodes } from '../mesh/nodes.js';
import { oauthHandlers } from '../oauth/handlers.js';
import type { OAuthService } from '../oauth/oauth-service.js';
import { type SandboxesDeps, sandboxesHandlers } from '../sandboxes/handlers.js';
import { type SystemDeps, systemHandlers } from '../system/handlers.js';
import { templatesHandlers } from '../templates/handlers.js';
import type { TemplateService } from '../templates/template-service.js';
import { type TenancyDeps, tenancyHandlers } from '../tenancy/handlers.js';
import { toolsHandlers } from '../tools/handlers.js';
import type { ToolService } from '../tools/tool-service.js';
import { workflowsHandlers } from '../workflows/handlers.js';
import type { TriggerService } from '../workflows/trigger-service.js';
import type { WorkflowService } from '../workflows/workflow-service.js';
import { type WorkspacesDeps, workspacesHandlers } from '../workspaces/handlers.js';

/** Every service the handlers call, wired in `server.ts`. */
export type HandlerDeps = SystemDeps &
  TenancyDeps &
  CredentialsDeps &
  SandboxesDeps &
  WorkspacesDeps & {
    templates: TemplateService;
    agents: AgentService;
    runs: RunService;
    tools: ToolService;
    oauth: OAuthService;
    workflows: WorkflowService;
    triggers: TriggerService;
    meshLinks: MeshLinks;
    meshNodes: MeshNodes;
    sessions: DashboardSessions;
    /** RUNTOOLS_PUBLIC_URL, when set. */
    configuredPublicUrl: () => string | undefined;
  };

/**
 * The handler of every route: each domain's folder owns the handlers of its route table
 * (`packages/spec/src/routes/<domain>.ts` → `apps/server/src/<domain>/handlers.ts`), and they are merged here. The answer's type is `RouteHandlers`, so a route of any
 * table without its handler does not compile.
 */
export function createHandlers(deps: HandlerDeps): RouteHandlers {
  return {
    ...systemHandlers(deps),
    ...tenancyHandlers(deps),
    ...credentialsHandlers(deps),
    ...sandboxesHandlers(deps),
    ...templatesHandlers(deps),
    ...workspacesHandlers(deps),
    ...agentsHandlers(deps),
    ...toolsHandlers(deps),
    ...oauthHandlers(deps),
    ...workflowsHandlers(deps),
    ...meshHandlers({ db: deps.db, links: deps.meshLinks, nodes: deps.meshNodes, runs: deps.runs }),
    ...dashboardHandlers({ sessions: deps.sessions, publicUrl: deps.configuredPublicUrl }),
  };
}
