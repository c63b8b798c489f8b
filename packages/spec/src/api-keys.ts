import { z } from 'zod';
import { DisplayName, idSchema, pageOf, Timestamp } from './common.js';
import { Scope } from './scopes.js';

/** Secret API keys look like `rt_<prefix>_<secret>`; the prefix identifies the key in lists and logs. */
export const apiKeyPattern = /^rt_([a-z2-7]{8})_([A-Za-z0-9_-]{43})$/;

export const ApiKey = z
  .object({
    id: idSchema('apiKey'),
    name: z.string(),
    prefix: z.string().meta({ description: 'The first part of the key, `rt_<8 chars>`, safe to show' }),
    scopes: z.array(Scope),
    memberId: idSchema('member'),
    createdAt: Timestamp,
    expiresAt: Timestamp.nullable(),
    lastUsedAt: Timestamp.nullable(),
    revokedAt: Timestamp.nullable(),
  })
  .meta({ id: 'ApiKey' });
export type ApiKey = z.infer<typeof ApiKey>;
export const ApiKeyList = pageOf(ApiKey);
export type ApiKeyList = z.infer<typeof ApiKeyList>;

export const ApiKeyCreateRequest = z
  .object({
    name: DisplayName,
    scopes: z.array(Scope).min(1).max(64),
    expiresAt: Timestamp.optional().meta({ description: 'When the key stops working; must be in the future' }),
  })
  .strict();
export type ApiKeyCreateRequest = z.infer<typeof ApiKeyCreateRequest>;

/** The only response that carries the key itself. */
export const ApiKeyCreated = z
  .object({
    id: idSchema('apiKey'),
    key: z.string(),
    prefix: z.string(),
    name: z.string(),
    scopes: z.array(Scope),
    expiresAt: Timestamp.nullable(),
    createdAt: Timestamp,
  })
  .meta({ id: 'ApiKeyCreated' });
export type ApiKeyCreated = z.infer<typeof ApiKeyCreated>;
export const ApiKeyParams = z.object({ keyId: idSchema('apiKey') });

/** Who a key is: returned by `GET /v1/me`, used by `runtools login` to check a key. */
export const WhoAmI = z
  .object({
    org: z.object({ id: idSchema('org'), name: z.string(), slug: z.string() }),
    project: z.object({ id: idSchema('project'), name: z.string(), slug: z.string() }),
    member: z.object({ id: idSchema('member'), role: z.string(), email: z.string() }),
    key: z.object({ id: idSchema('apiKey'), name: z.string(), prefix: z.string(), scopes: z.array(Scope) }),
    effectiveScopes: z.array(z.string()),
  })
  .meta({ id: 'WhoAmI' });
export type WhoAmI = z.infer<typeof WhoAmI>;
