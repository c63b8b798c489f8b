import { type AnyRoute, createRoute, lazyRouteComponent } from '@tanstack/react-router';

/** The tools pages. */
export function toolsRoutes(parent: AnyRoute): AnyRoute[] {
  return [
    createRoute({
      getParentRoute: () => parent,
      path: '/tools',
      component: lazyRouteComponent(() => import('./list'), 'ToolsPage'),
    }),
  ];
}
