declare module 'virtual:runtools-routes' {
  /** Each REST route's `[method, path]`, by route id (see vite.config.ts). */
  export const routeTable: Record<string, readonly [string, string]>;
}
