import { type AnyRoute, createRoute, lazyRouteComponent } from '@tanstack/react-router';

/**
 * The agents pages: the list (with runs, threads and providers), the Agent Builder for a new agent, an agent's
 * page (run, definition, versions), a run's events, a thread's messages.
 */
export function agentsRoutes(parent: AnyRoute): AnyRoute[] {
  return [
    createRoute({
      getParentRoute: () => parent,
      path: '/agents',
      component: lazyRouteComponent(() => import('./list'), 'AgentsPage'),
    }),
    createRoute({
      getParentRoute: () => parent,
      path: '/agents/new',
      component: lazyRouteComponent(() => import('./builder'), 'NewAgentPage'),
    }),
    createRoute({
      getParentRoute: () => parent,
      path: '/agents/$agent',
      component: lazyRouteComponent(() => import('./detail'), 'AgentDetailPage'),
    }),
    createRoute({
      getParentRoute: () => parent,
      path: '/agents/runs/$runId',
      component: lazyRouteComponent(() => import('./runs'), 'RunDetailPage'),
    }),
    createRoute({
      getParentRoute: () => parent,
      path: '/agents/threads/$threadId',
      component: lazyRouteComponent(() => import('./threads'), 'ThreadDetailPage'),
    }),
  ];
}
