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
  'connections',
  'workflows',
  'mesh',
] as const;
export type ScopeResource = (typeof scopeResources)[number];
export const scopeActions = ['read', 'write', 'execute'] as const;
export type ScopeAction = (typeof scopeActions)[number];

/**
 * The actions each resource has: reading and changing it everywhere, and for what runs (a tool, a workflow)
 * running it, which is its own right: a key may run an installed tool without being able to install one.
 */
export const resourceActions = {
  orgs: ['read', 'write'],
  projects: ['read', 'write'],
  members: ['read', 'write'],
  keys: ['read', 'write'],
  secrets: ['read', 'write'],
  ssh_keys: ['read', 'write'],
  sandboxes: ['read', 'write'],
  files: ['read', 'write'],
  agents: ['read', 'write'],
  tools: ['read', 'write', 'execute'],
  connections: ['read', 'write'],
  workflows: ['read', 'write', 'execute'],
  mesh: ['read', 'write'],
} as const satisfies Record<ScopeResource, readonly ScopeAction[]>;

/** A concrete scope a route requires, e.g. `secrets:read` or `tools:execute`. */
export type ConcreteScope = {
  [Resource in ScopeResource]: `${Resource}:${(typeof resourceActions)[Resource][number]}`;
}[ScopeResource];
export const concreteScopes: readonly ConcreteScope[] = scopeResources.flatMap((resource) =>
  resourceActions[resource].map((action) => `${resource}:${action}` as ConcreteScope),
);

const scopePattern = new RegExp(
  `^(\\*|${scopeResources.map((resource) => `${resource}:(\\*|${resourceActions[resource].join('|')})`).join('|')})$`,
);

/** A scope as granted to a key: `*`, `<resource>:*` or `<resource>:<action>`. */
export const Scope = z
  .string()
  .regex(scopePattern, {
    message: `unknown scope; use "*", "<resource>:*", "<resource>:read" or "<resource>:write" with resource one of ${scopeResources.join(', ')}, or "tools:execute", "workflows:execute"`,
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
