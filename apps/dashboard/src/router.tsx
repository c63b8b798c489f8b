import {
  type AnyRoute,
  createRootRoute,
  createRoute,
  createRouter,
  redirect,
  retainSearchParams,
} from '@tanstack/react-router';
import { projectSearchParam } from './components/projects';
import { Shell } from './components/shell';
import { EmptyState } from './components/ui';
import { agentsRoutes } from './pages/agents/routes';
import { credentialsRoutes } from './pages/credentials/routes';
import { meshRoutes } from './pages/mesh/routes';
import { sandboxesRoutes } from './pages/sandboxes/routes';
import { settingsRoutes } from './pages/settings/routes';
import { templatesRoutes } from './pages/templates/routes';
import { toolsRoutes } from './pages/tools/routes';
import { workflowsRoutes } from './pages/workflows/routes';
import { workspacesRoutes } from './pages/workspaces/routes';

/**
 * Every page, code-split by route: each domain's `pages/<domain>/routes.ts` lists its pages with
 * `lazyRouteComponent`, so the shell loads none of them and the terminal and graph editor load on demand.
 */
const rootRoute = createRootRoute({
  component: Shell,
  // The project chosen in the shell (components/projects.tsx) stays in the URL on every navigation.
  search: { middlewares: [retainSearchParams<Record<string, unknown>>([projectSearchParam])] },
  notFoundComponent: () => (
    <EmptyState title="No such page">
      <a href="/">Back to the dashboard</a>
    </EmptyState>
  ),
});

const indexRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/',
  beforeLoad: () => {
    throw redirect({ to: '/sandboxes' });
  },
});

// A sign-in link lands here; once signed in (see pages/sign-in.tsx) it goes on to the dashboard.
const signInRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/sign-in',
  beforeLoad: () => {
    throw redirect({ to: '/sandboxes' });
  },
});

const domains: ((parent: AnyRoute) => AnyRoute[])[] = [
  sandboxesRoutes,
  templatesRoutes,
  workspacesRoutes,
  agentsRoutes,
  toolsRoutes,
  workflowsRoutes,
  credentialsRoutes,
  meshRoutes,
  settingsRoutes,
];

const routeTree = rootRoute.addChildren([indexRoute, signInRoute, ...domains.flatMap((routes) => routes(rootRoute))]);

export const router = createRouter({ routeTree, defaultPreload: 'intent', scrollRestoration: true });
