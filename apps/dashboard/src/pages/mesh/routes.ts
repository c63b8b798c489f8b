import { type AnyRoute, createRoute, lazyRouteComponent } from '@tanstack/react-router';

/** The RunMesh pages: link approval, nodes and the audit log; a node's page. */
export function meshRoutes(parent: AnyRoute): AnyRoute[] {
  return [
    createRoute({
      getParentRoute: () => parent,
      path: '/mesh',
      component: lazyRouteComponent(() => import('./list'), 'MeshPage'),
    }),
    createRoute({
      getParentRoute: () => parent,
      path: '/mesh/nodes/$node',
      component: lazyRouteComponent(() => import('./node'), 'MeshNodePage'),
    }),
  ];
}
