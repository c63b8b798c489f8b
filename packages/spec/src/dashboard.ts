import { z } from 'zod';
import { idSchema, PageQuery, pageOf, Timestamp } from './common.js';
import { Role, Scope } from './scopes.js';

/**
 * Dashboard sign-in links look like `rtl_<43 characters>`: single use, minted for the member whose key asks
 * (`runtools dashboard`), carried in the link's fragment so no server log or Referer sees it.
 */
export const signInLinkTokenPattern = /^rtl_[A-Za-z0-9_-]{43}$/;

/** The cookie a dashboard session rides on (`__Host-` prefixed when served over https). */
export const sessionCookieName = 'runtools_session';
/** The header every mutating request of a session carries: the session's CSRF token. */
export const csrfHeaderName = 'X-CSRF-Token';

export const DashboardSessionCreateRequest = z
  .union([
    z.object({ apiKey: z.string().min(1).max(200) }).strict(),
    z
      .object({ linkToken: z.string().regex(signInLinkTokenPattern, { message: 'a sign-in link token (rtl_…)' }) })
      .strict(),
  ])
  .meta({ description: 'Sign in with an API key, or with the token of a sign-in link from `runtools dashboard`' });
export type DashboardSessionCreateRequest = z.infer<typeof DashboardSessionCreateRequest>;

/** The signed-in member's session, as the dashboard reads it on load. */
export const DashboardSession = z
  .object({
    id: idSchema('dashboardSession'),
    csrfToken: z.string().meta({ description: `Send it as ${csrfHeaderName} on every request that is not a GET` }),
    via: z.enum(['api_key', 'link']),
    createdAt: Timestamp,
    expiresAt: Timestamp,
    org: z.object({ id: idSchema('org'), name: z.string(), slug: z.string() }),
    member: z.object({ id: idSchema('member'), email: z.string() }),
    role: Role,
    scopes: z.array(Scope).meta({ description: 'What the session may do: its key’s scopes within the role' }),
    key: z.object({ id: idSchema('apiKey'), name: z.string(), prefix: z.string() }),
  })
  .meta({ id: 'DashboardSession' });
export type DashboardSession = z.infer<typeof DashboardSession>;

/** One of the member's active sessions, as the sessions list shows it. */
export const DashboardSessionInfo = z
  .object({
    id: idSchema('dashboardSession'),
    via: z.enum(['api_key', 'link']),
    current: z.boolean().meta({ description: 'The session this request came with' }),
    createdAt: Timestamp,
    lastSeenAt: Timestamp,
    expiresAt: Timestamp,
    userAgent: z.string().nullable(),
    address: z.string().nullable(),
    key: z.object({ id: idSchema('apiKey'), name: z.string(), prefix: z.string() }),
  })
  .meta({ id: 'DashboardSessionInfo' });
export type DashboardSessionInfo = z.infer<typeof DashboardSessionInfo>;

export const DashboardSessionList = pageOf(DashboardSessionInfo);
export const DashboardSessionListQuery = z.object(PageQuery).strict();
export type DashboardSessionList = z.infer<typeof DashboardSessionList>;

export const SignInLinkCreateRequest = z
  .object({
    baseUrl: z
      .url({ protocol: /^https?$/ })
      .max(2000)
      .optional()
      .meta({ description: 'The dashboard’s address as the member’s browser reaches it; default: the server’s' }),
  })
  .strict();
export type SignInLinkCreateRequest = z.infer<typeof SignInLinkCreateRequest>;

export const SignInLink = z
  .object({
    id: idSchema('signInLink'),
    url: z.string().meta({ description: 'Open it once, within two minutes: `<base>/sign-in#rtl_…`' }),
    expiresAt: Timestamp,
  })
  .meta({ id: 'SignInLink' });
export type SignInLink = z.infer<typeof SignInLink>;
