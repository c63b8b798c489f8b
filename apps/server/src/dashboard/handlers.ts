import { type dashboardRoutes, sessionCookieName } from '@runtools/spec';
import { isSessionActor } from '../auth/actor.js';
import { DomainError } from '../errors.js';
import { sessionCookie } from '../http/app.js';
import type { DomainHandlers } from '../http/route-handlers.js';
import type { DashboardSessions } from './sessions.js';

/**
 * The session cookie: HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it), Path=/
 * and no Domain (never sent to the dev-URL hosts under it); over https `Secure` and `__Host-` prefixed.
 */
function cookieHeader(token: string, secure: boolean, maxAgeSeconds: number): string {
  const name = secure ? `__Host-${sessionCookieName}` : sessionCookieName;
  return [
    `${name}=${token}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`,
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}

/** Dashboard sign-in, sessions and sign-in links (`spec/src/routes/dashboard.ts`). */
export function dashboardHandlers(deps: {
  sessions: DashboardSessions;
  /** The address members reach the server at (RUNTOOLS_PUBLIC_URL), when set. */
  publicUrl: () => string | undefined;
}): DomainHandlers<typeof dashboardRoutes> {
  const { sessions } = deps;
  const secure = (origin: string) => (deps.publicUrl() ?? origin).startsWith('https:');
  return {
    async dashboardSessionsCreate({ body, clientAddress, header, origin, setHeader }) {
      const { session, token } = await sessions.create(body, {
        address: clientAddress,
        userAgent: header('user-agent'),
      });
      const seconds = (new Date(session.expiresAt).getTime() - Date.now()) / 1000;
      setHeader('Set-Cookie', cookieHeader(token, secure(origin), seconds));
      setHeader('Cache-Control', 'no-store');
      return session;
    },
    async dashboardSessionGet({ auth, header, origin, setHeader }) {
      const token = sessionCookie(header('cookie'), secure(origin));
      if (!isSessionActor(auth) || !token) throw new DomainError('session_required', 'sign in to the dashboard first');
      setHeader('Cache-Control', 'no-store');
      return sessions.describe(auth, token);
    },
    async dashboardSessionEnd({ auth, origin, setHeader }) {
      const ended = await sessions.end(auth, auth.principal.id);
      setHeader('Set-Cookie', cookieHeader('', secure(origin), 0));
      return ended;
    },
    async dashboardSessionsList({ auth, query }) {
      return sessions.list(auth, query);
    },
    async dashboardSessionsRevoke({ auth, params }) {
      return sessions.end(auth, params.sessionId);
    },
    async signInLinksCreate({ auth, body, origin }) {
      return sessions.createLink(auth, body.baseUrl ?? deps.publicUrl() ?? origin);
    },
  };
}
