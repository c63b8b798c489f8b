import { type AnyRoute, createRoute, lazyRouteComponent } from '@tanstack/react-router';

/** The workflows pages. */
export function workflowsRoutes(parent: AnyRoute): AnyRoute[] {
  return [
    createRoute({
      getParentRoute: () => parent,
      path: '/workflows',
      component: lazyRouteComponent(() => import('./list'), 'WorkflowsPage'),
    }),
  ];
}
