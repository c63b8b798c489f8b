import type { ErrorCode } from '@runtools/spec';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** The one table from error code to HTTP status. Exhaustive: a new code does not compile until it has one. */
export const errorStatus: { readonly [code in ErrorCode]: ContentfulStatusCode } = {
  invalid_json: 400,
  validation_failed: 400,
  payload_too_large: 413,
  unsupported_media_type: 415,
  route_not_found: 404,
  method_not_allowed: 405,
  unauthenticated: 401,
  invalid_api_key: 401,
  api_key_expired: 401,
  api_key_revoked: 401,
  insufficient_scope: 403,
  role_forbidden: 403,
  scope_escalation: 403,
  last_owner: 409,
  invitation_email_mismatch: 403,
  org_not_found: 404,
  project_not_found: 404,
  member_not_found: 404,
  invitation_not_found: 404,
  api_key_not_found: 404,
  secret_not_found: 404,
  agent_not_found: 404,
  run_not_found: 404,
  thread_not_found: 404,
  provider_not_found: 404,
  agent_exists: 409,
  provider_exists: 409,
  run_finished: 409,
  model_unknown: 400,
  tool_unknown: 400,
  provider_key_missing: 400,
  mode_not_available: 400,
  ssh_key_not_found: 404,
  sandbox_not_found: 404,
  file_not_found: 404,
  template_not_found: 404,
  process_not_found: 404,
  workspace_not_found: 404,
  snapshot_not_found: 404,
  org_exists: 409,
  project_exists: 409,
  member_exists: 409,
  account_exists: 409,
  ssh_key_exists: 409,
  default_project: 409,
  sandbox_not_running: 409,
  runtime_unavailable: 503,
  sandbox_unreachable: 502,
  invalid_transition: 409,
  template_exists: 409,
  template_builtin: 409,
  template_build_failed: 422,
  sandbox_disk_full: 409,
  file_exists: 409,
  workspace_exists: 409,
  workspace_not_mountable: 400,
  workspace_in_use: 409,
  snapshot_exists: 409,
  port_not_listening: 502,
  subdomain_taken: 409,
  resource_limit_exceeded: 422,
  storage_quota_exceeded: 403,
  rate_limited: 429,
  internal_error: 500,
  service_unavailable: 503,
};

/** An error the API reports to its caller as `{ error: { code, message, details } }`. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ApiError';
    this.code = code;
    this.details = details;
  }

  get status(): ContentfulStatusCode {
    return errorStatus[this.code];
  }
}

/** A body field that passed its schema but fails a check only the handler can make; shaped like zod's errors. */
export function invalidBodyField(path: string, message: string): ApiError {
  return new ApiError('validation_failed', `invalid body.${path}: ${message}`, {
    location: 'body',
    issues: [{ path, code: 'custom', message }],
  });
}
