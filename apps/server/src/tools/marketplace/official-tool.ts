import type { OAuthProviderId, ToolAction } from '@runtools/spec';
import { DomainError } from '../../errors.js';

/** What an official tool's action gets: the call's resolved credentials, the API's base URL, an abort signal. */
export interface OfficialToolContext {
  credentials: Record<string, string>;
  /** The service's API base URL: the tool's default, or the operator's `RUNTOOLS_TOOL_<NAME>_BASE_URL`. */
  baseUrl: string;
  signal: AbortSignal;
}

export interface OfficialAction extends Omit<ToolAction, 'name'> {
  // Params are checked against `parameters` before this runs.
  execute(params: Record<string, unknown>, context: OfficialToolContext): Promise<unknown>;
}

/**
 * A marketplace tool: our own client of a service's API, run by the tool service (it is our code, not the
 * user's, so it runs in the control plane; custom tools never do).
 */
export interface OfficialTool {
  name: string;
  description: string;
  provider: string;
  /**
   * OAuth tools name their provider (see oauth/providers.ts) and the scopes their actions need: a call that
   * brings no token of its own gets the access token of the caller's connection to that provider in
   * `credentials.token`. Manual-credential tools take their fields from the call, the stored values or secrets.
   */
  auth: { kind: 'oauth'; provider: OAuthProviderId; scopes: string[] } | { kind: 'api_key' | 'none' };
  credentials: { required: string[]; schema: Record<string, { type: 'string'; description?: string }> };
  defaultBaseUrl: string;
  actions: Record<string, OfficialAction>;
}

/**
 * An upstream API's refusal as a tool error: a rejected credential, a rate limit (with when to retry), a
 * missing resource, or any other failure, each with the service's own message.
 */
export function upstreamError(
  provider: string,
  status: number | undefined,
  message: string,
  retryAfterSeconds?: number,
): DomainError {
  const details = { provider, upstreamStatus: status ?? null };
  if (status === 401)
    return new DomainError('tool_auth_failed', `${provider} refused the credentials: ${message}`, details);
  if (status === 429 || retryAfterSeconds !== undefined) {
    return new DomainError('tool_rate_limited', `${provider} rate limit: ${message}`, {
      ...details,
      retryAfterSeconds: retryAfterSeconds ?? null,
    });
  }
  if (status === 403) return new DomainError('tool_auth_failed', `${provider} forbids this: ${message}`, details);
  if (status === 404) return new DomainError('tool_not_found', `${provider}: not found: ${message}`, details);
  return new DomainError(
    'tool_upstream_error',
    `${provider} failed${status ? ` (HTTP ${status})` : ''}: ${message}`,
    details,
  );
}
