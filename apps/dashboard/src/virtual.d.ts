declare module 'virtual:runtools-routes' {
  /** Each REST route's `[method, path]`, by route id (see vite.config.ts). */
  export const routeTable: Record<string, readonly [string, string]>;
}

declare module 'virtual:runtools-node-schemas' {
  /** Each workflow node type's config schema as JSON Schema (see vite.config.ts and components/schema-form.tsx). */
  export const nodeSchemas: Record<string, import('./components/json-schema').JsonSchema>;
}
