import { type AnyRoute, createRoute, lazyRouteComponent } from '@tanstack/react-router';

/** The workspaces pages: the list, and one workspace's usage and file browser. */
export function workspacesRoutes(parent: AnyRoute): AnyRoute[] {
  return [
    createRoute({
      getParentRoute: () => parent,
      path: '/workspaces',
      component: lazyRouteComponent(() => import('./list'), 'WorkspacesPage'),
    }),
    createRoute({
      getParentRoute: () => parent,
      path: '/workspaces/$workspaceId',
      component: lazyRouteComponent(() => import('./detail'), 'WorkspaceDetailPage'),
    }),
  ];
}
