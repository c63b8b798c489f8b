import { type AnyRoute, createRoute, lazyRouteComponent } from '@tanstack/react-router';

/** The credentials pages. */
export function credentialsRoutes(parent: AnyRoute): AnyRoute[] {
  return [
    createRoute({
      getParentRoute: () => parent,
      path: '/credentials',
      component: lazyRouteComponent(() => import('./list'), 'CredentialsPage'),
    }),
  ];
}
