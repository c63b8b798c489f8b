import { type AnyRoute, createRoute, lazyRouteComponent } from '@tanstack/react-router';

/** The mesh pages. */
export function meshRoutes(parent: AnyRoute): AnyRoute[] {
  return [
    createRoute({
      getParentRoute: () => parent,
      path: '/mesh',
      component: lazyRouteComponent(() => import('./list'), 'MeshPage'),
    }),
  ];
}
