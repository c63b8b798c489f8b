import { type AnyRoute, createRoute, lazyRouteComponent } from '@tanstack/react-router';

/** The sandboxes pages: the list, and one sandbox (its terminal, files, logs, stats, dev URLs, snapshots). */
export function sandboxesRoutes(parent: AnyRoute): AnyRoute[] {
  return [
    createRoute({
      getParentRoute: () => parent,
      path: '/sandboxes',
      component: lazyRouteComponent(() => import('./list'), 'SandboxesPage'),
    }),
    createRoute({
      getParentRoute: () => parent,
      path: '/sandboxes/$sandboxId',
      component: lazyRouteComponent(() => import('./detail'), 'SandboxDetailPage'),
    }),
  ];
}
