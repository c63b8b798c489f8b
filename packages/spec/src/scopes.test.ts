import { describe, expect, it } from 'vitest';
import { concreteScopes, expandScopes, hasScope, roleCeiling, Scope } from './scopes.js';

describe('scopes', () => {
  it('expands * to every concrete scope and resource:* to that resource only', () => {
    expect(expandScopes(['*']).size).toBe(concreteScopes.length);
    expect([...expandScopes(['files:*'])].sort()).toEqual(['files:read', 'files:write']);
    expect(hasScope(['sandboxes:read'], 'sandboxes:write')).toBe(false);
    expect(hasScope(['sandboxes:*'], 'sandboxes:write')).toBe(true);
    expect([...expandScopes(['tools:*'])].sort()).toEqual(['tools:execute', 'tools:read', 'tools:write']);
    expect(hasScope(['tools:write'], 'tools:execute')).toBe(false);
  });

  it('accepts only known resources and actions', () => {
    for (const good of ['*', 'secrets:*', 'mesh:read', 'workflows:write', 'tools:execute', 'workflows:execute'])
      expect(Scope.safeParse(good).success).toBe(true);
    for (const bad of [
      'secret:read',
      'secrets:delete',
      'secrets:execute',
      'sandboxes:execute',
      '*:*',
      'secrets',
      '',
      'SECRETS:READ',
    ]) {
      expect([bad, Scope.safeParse(bad).success]).toEqual([bad, false]);
    }
  });

  it('caps admins below owners and members below admins', () => {
    expect(roleCeiling('owner').has('orgs:write')).toBe(true);
    expect(roleCeiling('admin').has('orgs:write')).toBe(false);
    expect(roleCeiling('admin').has('members:write')).toBe(true);
    expect(roleCeiling('member').has('members:write')).toBe(false);
    expect(roleCeiling('member').has('secrets:write')).toBe(true);
  });
});
