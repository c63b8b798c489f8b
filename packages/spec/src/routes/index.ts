import type { z } from 'zod';
import { agentsRoutes } from './agents.js';
import type { RouteContract } from './contract.js';
import { credentialsRoutes } from './credentials.js';
import { dashboardRoutes } from './dashboard.js';
import { meshRoutes } from './mesh.js';
import { oauthRoutes } from './oauth.js';
import { sandboxesRoutes } from './sandboxes.js';
import { systemRoutes } from './system.js';
import { templatesRoutes } from './templates.js';
import { tenancyRoutes } from './tenancy.js';
import { toolsRoutes } from './tools.js';
import { workflowsRoutes } from './workflows.js';
import { workspacesRoutes } from './workspaces.js';

export { type HttpMethod, mapRouteParams, type RouteContract, routePath } from './contract.js';
export {
  agentsRoutes,
  credentialsRoutes,
  dashboardRoutes,
  meshRoutes,
  oauthRoutes,
  sandboxesRoutes,
  systemRoutes,
  templatesRoutes,
  tenancyRoutes,
  toolsRoutes,
  workflowsRoutes,
  workspacesRoutes,
};

/**
 * Every REST route, one file per domain: a route's contract is found under its domain's name. The server binds
 * each to a handler (the compiler rejects one without), and OpenAPI, the SDK and the scope test read this table.
 */
export const routes = {
  ...systemRoutes,
  ...tenancyRoutes,
  ...credentialsRoutes,
  ...sandboxesRoutes,
  ...templatesRoutes,
  ...workspacesRoutes,
  ...agentsRoutes,
  ...toolsRoutes,
  ...oauthRoutes,
  ...workflowsRoutes,
  ...meshRoutes,
  ...dashboardRoutes,
} as const satisfies Record<string, RouteContract>;

export type RouteId = keyof typeof routes;
export type RouteResponse<Id extends RouteId> = z.infer<(typeof routes)[Id]['response']>;
