import { z } from 'zod';

/** Resources an API key can be scoped to. `files:*` and friends expand to the actions that exist. */
export const scopeResources = [
  'orgs',
  'projects',
  'members',
  'keys',
  'secrets',
  'ssh_keys',
  'sandboxes',
  'files',
  'agents',
  'tools',
  'workflows',
  'mesh',
] as const;
export type ScopeResource = (typeof scopeResources)[number];
export const scopeActions = ['read', 'write'] as const;
export type ScopeAction = (typeof scopeActions)[number];

/** A concrete scope a route requires, e.g. `secrets:read`. */
export type ConcreteScope = `${ScopeResource}:${ScopeAction}`;
export const concreteScopes: readonly ConcreteScope[] = scopeResources.flatMap((resource) =>
  scopeActions.map((action) => `${resource}:${action}` as const),
);

const scopePattern = new RegExp(`^(\\*|(${scopeResources.join('|')}):(\\*|read|write))$`);

/** A scope as granted to a key: `*`, `<resource>:*` or `<resource>:<action>`. */
export const Scope = z
  .string()
  .regex(scopePattern, {
    message: `unknown scope; use "*", "<resource>:*", "<resource>:read" or "<resource>:write" with resource one of ${scopeResources.join(', ')}`,
  })
  .meta({ id: 'Scope', example: 'secrets:read' });
export type Scope = z.infer<typeof Scope>;

/** The concrete scopes a list of granted scopes stands for. */
export function expandScopes(granted: readonly string[]): Set<ConcreteScope> {
  const result = new Set<ConcreteScope>();
  for (const scope of granted) {
    if (scope === '*') {
      for (const concrete of concreteScopes) result.add(concrete);
      continue;
    }
    const [resource, action] = scope.split(':');
    for (const concrete of concreteScopes) {
      const [concreteResource, concreteAction] = concrete.split(':');
      if (concreteResource === resource && (action === '*' || action === concreteAction)) result.add(concrete);
    }
  }
  return result;
}

export function hasScope(granted: readonly string[], required: ConcreteScope): boolean {
  return expandScopes(granted).has(required);
}

/** Roles of an org member, from most to least powerful. */
export const Role = z.enum(['owner', 'admin', 'member']).meta({ id: 'Role' });
export type Role = z.infer<typeof Role>;

/**
 * The most a key held by a member of each role can do. A key's effective scopes are its own scopes cut to
 * its holder's current role, so demoting a member takes effect on their existing keys at once.
 */
export function roleCeiling(role: Role): Set<ConcreteScope> {
  const all = new Set(concreteScopes);
  if (role === 'owner') return all;
  all.delete('orgs:write');
  if (role === 'admin') return all;
  all.delete('members:write');
  return all;
}
