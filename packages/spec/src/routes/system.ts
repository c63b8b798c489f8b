import { WhoAmI } from '../api-keys.js';
import { Health, Readiness } from '../health.js';
import { route } from './contract.js';

/** Health, readiness and the caller itself. */
export const systemRoutes = {
  health: route({
    method: 'GET',
    path: '/v1/health',
    summary: 'Liveness: the process is up',
    tag: 'system',
    auth: 'public',
    scopes: [],
    response: Health,
    status: 200,
  }),
  ready: route({
    method: 'GET',
    path: '/v1/ready',
    summary: 'Readiness: the database answers and the root key is loaded (503 otherwise)',
    tag: 'system',
    auth: 'public',
    scopes: [],
    response: Readiness,
    status: 200,
  }),
  whoAmI: route({
    method: 'GET',
    path: '/v1/me',
    summary: 'The org, project, member and scopes of the calling key',
    tag: 'auth',
    auth: 'key',
    scopes: [],
    response: WhoAmI,
    status: 200,
  }),
} as const;
