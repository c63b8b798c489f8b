import { z } from 'zod';
import { idSchema, Timestamp } from './common.js';

/** The OAuth providers the broker connects to: the services of the marketplace's OAuth tools. */
export const OAuthProviderId = z
  .enum(['github', 'google', 'slack', 'microsoft', 'x', 'linkedin'])
  .meta({ id: 'OAuthProviderId' });
export type OAuthProviderId = z.infer<typeof OAuthProviderId>;

/** One OAuth scope as a provider names it (a word or a URL; no whitespace). */
export const OAuthScope = z
  .string()
  .min(1)
  .max(300)
  .regex(/^[\x21-\x7e]+$/, { message: 'a scope is printable ASCII without spaces' });

/** A provider as the broker knows it: its endpoints, the scopes its tools need, and the org's app for it. */
export const OAuthProvider = z
  .object({
    id: OAuthProviderId,
    name: z.string(),
    authorizeUrl: z.string(),
    tokenUrl: z.string(),
    revokeUrl: z.string().nullable().meta({ description: 'null: the provider has no revocation endpoint' }),
    scopes: z.array(z.string()).meta({ description: 'what a connection asks for by default: its tools’ scopes' }),
    tools: z.array(z.string()).meta({ description: 'the marketplace tools that use its connections' }),
    configured: z.boolean().meta({ description: 'whether the org registered its OAuth app for it' }),
    callbackUrl: z.string().meta({ description: 'the redirect URL to register with the provider' }),
  })
  .meta({ id: 'OAuthProvider' });
export type OAuthProvider = z.infer<typeof OAuthProvider>;

export const OAuthProviderParams = z.object({ provider: OAuthProviderId });

/** An OAuth app the org registered with a provider (its client secret is stored sealed and never returned). */
export const OAuthAppSetRequest = z
  .object({
    clientId: z.string().min(1).max(512).regex(/^\S+$/, { message: 'no whitespace' }),
    clientSecret: z.string().min(1).max(4096),
  })
  .strict()
  .meta({ id: 'OAuthAppSetRequest' });

export const OAuthApp = z
  .object({
    provider: OAuthProviderId,
    clientId: z.string(),
    callbackUrl: z.string().meta({ description: 'register this as the redirect URL with the provider' }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'OAuthApp' });
export type OAuthApp = z.infer<typeof OAuthApp>;

export const OAuthConnectionStatus = z
  .enum(['pending', 'active', 'needs_reauth', 'failed'])
  .meta({ id: 'OAuthConnectionStatus' });

/** A member's connected account at a provider. Its tokens never leave the server. */
export const OAuthConnection = z
  .object({
    id: idSchema('oauthConnection'),
    provider: OAuthProviderId,
    status: OAuthConnectionStatus.meta({
      description:
        'pending: waiting for the consent; active; needs_reauth: the provider refused a refresh (connect again); failed: the flow ended without a connection',
    }),
    memberId: z.string().meta({ description: 'the member it belongs to' }),
    scopes: z.array(z.string()).meta({ description: 'granted (asked for, while pending)' }),
    account: z
      .object({ id: z.string().nullable(), login: z.string().nullable(), email: z.string().nullable() })
      .nullable()
      .meta({ description: 'who the provider says the account is' }),
    expiresAt: Timestamp.nullable().meta({ description: 'when its access token expires (refreshed before then)' }),
    isDefault: z.boolean().meta({ description: "the org's default connection for its provider" }),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'OAuthConnection' });
export type OAuthConnection = z.infer<typeof OAuthConnection>;

export const OAuthConnectionCreateRequest = z
  .object({
    provider: OAuthProviderId,
    scopes: z.array(OAuthScope).max(50).optional().meta({ description: "default: the provider's tools' scopes" }),
    default: z.boolean().optional().meta({ description: "make it the org's default for the provider (admins)" }),
  })
  .strict()
  .meta({ id: 'OAuthConnectionCreateRequest' });

export const OAuthConnectionStarted = z
  .object({
    connection: OAuthConnection,
    authorizationUrl: z.string().meta({ description: 'open it in a browser to give consent' }),
    expiresAt: Timestamp.meta({ description: 'the flow must complete before then' }),
  })
  .meta({ id: 'OAuthConnectionStarted' });
export type OAuthConnectionStarted = z.infer<typeof OAuthConnectionStarted>;

export const OAuthConnectionParams = z.object({ connectionId: idSchema('oauthConnection') });
export const OAuthConnectionsQuery = z.object({
  provider: OAuthProviderId.optional(),
  status: OAuthConnectionStatus.optional(),
});
