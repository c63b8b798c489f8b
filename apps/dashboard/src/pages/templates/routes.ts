import { type AnyRoute, createRoute, lazyRouteComponent } from '@tanstack/react-router';

/** The templates pages. */
export function templatesRoutes(parent: AnyRoute): AnyRoute[] {
  return [
    createRoute({
      getParentRoute: () => parent,
      path: '/templates',
      component: lazyRouteComponent(() => import('./list'), 'TemplatesPage'),
    }),
  ];
}
