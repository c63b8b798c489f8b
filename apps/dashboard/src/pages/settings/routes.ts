import { type AnyRoute, createRoute, lazyRouteComponent } from '@tanstack/react-router';

/** The settings pages. */
export function settingsRoutes(parent: AnyRoute): AnyRoute[] {
  return [
    createRoute({
      getParentRoute: () => parent,
      path: '/settings',
      component: lazyRouteComponent(() => import('./list'), 'SettingsPage'),
    }),
  ];
}
