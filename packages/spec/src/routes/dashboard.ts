import { z } from 'zod';
import { idSchema } from '../common.js';
import {
  DashboardSession,
  DashboardSessionCreateRequest,
  DashboardSessionList,
  DashboardSessionListQuery,
  SignInLink,
  SignInLinkCreateRequest,
} from '../dashboard.js';
import { route } from './contract.js';

/**
 * The dashboard's sign-in: a session cookie made from an API key or a one-time sign-in link, read back by the
 * dashboard on load, listed and ended by its member. Every `key` route accepts the cookie in place of a key
 * (a request that is not a GET also needs the session's CSRF token); `session` routes accept only the cookie.
 */
export const dashboardRoutes = {
  dashboardSessionsCreate: route({
    method: 'POST',
    path: '/v1/dashboard/sessions',
    summary:
      'Sign in to the dashboard with an API key or a sign-in link token; sets an HttpOnly session cookie and answers the session',
    tag: 'dashboard',
    auth: 'public',
    scopes: [],
    body: DashboardSessionCreateRequest,
    response: DashboardSession,
    status: 201,
  }),
  dashboardSessionGet: route({
    method: 'GET',
    path: '/v1/dashboard/session',
    summary: 'The session of this cookie: the member, org, role, scopes and the CSRF token',
    tag: 'dashboard',
    auth: 'session',
    scopes: [],
    response: DashboardSession,
    status: 200,
  }),
  dashboardSessionEnd: route({
    method: 'DELETE',
    path: '/v1/dashboard/session',
    summary: 'Sign out: ends this session and clears its cookie',
    tag: 'dashboard',
    auth: 'session',
    scopes: [],
    response: z.object({ id: idSchema('dashboardSession'), ended: z.literal(true) }),
    status: 200,
  }),
  dashboardSessionsList: route({
    method: 'GET',
    path: '/v1/dashboard/sessions',
    summary: 'The calling member’s active dashboard sessions',
    tag: 'dashboard',
    auth: 'key',
    scopes: ['keys:read'],
    query: DashboardSessionListQuery,
    response: DashboardSessionList,
    status: 200,
  }),
  dashboardSessionsRevoke: route({
    method: 'DELETE',
    path: '/v1/dashboard/sessions/:sessionId',
    summary: 'End one of the calling member’s dashboard sessions',
    tag: 'dashboard',
    auth: 'key',
    scopes: ['keys:write'],
    params: z.object({ sessionId: idSchema('dashboardSession') }),
    response: z.object({ id: idSchema('dashboardSession'), ended: z.literal(true) }),
    status: 200,
  }),
  signInLinksCreate: route({
    method: 'POST',
    path: '/v1/dashboard/sign-in-links',
    summary:
      'A one-time dashboard sign-in link for the calling key’s member (single use, two minutes); the session it makes has the key’s scopes',
    tag: 'dashboard',
    auth: 'key',
    scopes: [],
    body: SignInLinkCreateRequest,
    response: SignInLink,
    status: 201,
  }),
};
