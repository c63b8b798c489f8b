import { type AnyRoute, createRoute, lazyRouteComponent } from '@tanstack/react-router';

/**
 * The workflows pages: the list, the approvals inbox, a workflow's editor (React Flow, loaded only with that
 * page) with its runs, versions and triggers, and a run's live view.
 */
export function workflowsRoutes(parent: AnyRoute): AnyRoute[] {
  return [
    createRoute({
      getParentRoute: () => parent,
      path: '/workflows',
      component: lazyRouteComponent(() => import('./list'), 'WorkflowsPage'),
    }),
    createRoute({
      getParentRoute: () => parent,
      path: '/workflows/approvals',
      component: lazyRouteComponent(() => import('./approvals'), 'ApprovalsPage'),
    }),
    createRoute({
      getParentRoute: () => parent,
      path: '/workflows/runs/$workflowRunId',
      component: lazyRouteComponent(() => import('./run'), 'WorkflowRunPage'),
    }),
    createRoute({
      getParentRoute: () => parent,
      path: '/workflows/$workflow',
      component: lazyRouteComponent(() => import('./detail'), 'WorkflowPage'),
    }),
  ];
}
